"""Staff end a live from admin, in a real browser, and the viewer's page shows that it
ended without a reload; a viewer reports a chat line from the live in one tap, and staff
resolving the report hide it from the live."""

import re

from django.utils import timezone
from playwright.sync_api import Browser, expect

from moderation.models import AuditEntry, Report
from moderation.roles import MODERATORS, roles_ensure
from streams import services
from streams.models import ChatMessage, Stream
from tests.factories import PASSWORD, UserFactory


def test_staff_end_a_live_and_the_viewer_sees_it_end(browser: Browser, asgi_server):
    from django.contrib.auth.models import Group

    host = UserFactory(handle="hana", is_business=True)
    stream, _ = services.stream_schedule(
        host=host, title="Counterfeit sneakers", scheduled_at=timezone.now()
    )
    services.stream_go_live(stream=stream, actor=host)
    roles_ensure()
    moderator = UserFactory(handle="mona", is_staff=True)
    moderator.groups.add(Group.objects.get(name=MODERATORS))

    viewer = browser.new_context().new_page()
    viewer.goto(f"{asgi_server}/live/{stream.pk}")
    expect(viewer.locator("#live[data-connected='1']")).to_have_count(1)

    staff = browser.new_context().new_page()
    staff.goto(f"{asgi_server}/admin/login/")
    staff.locator("input[name=username]").fill("mona")
    staff.locator("input[name=password]").fill(PASSWORD)
    staff.get_by_role("button", name="Log in").click()
    staff.goto(f"{asgi_server}/admin/streams/stream/")
    staff.get_by_role("checkbox", name=re.compile("Counterfeit sneakers")).check()
    staff.get_by_role("combobox", name="Action").select_option(label="End the selected lives now")
    staff.get_by_role("button", name="Go").click()
    staff.get_by_label("Reason").fill("Selling counterfeit goods")
    staff.get_by_label(re.compile("Suspend the host")).fill("7")
    staff.get_by_role("button", name="End lives now").click()
    expect(staff.get_by_text("Lives ended: 1.")).to_be_visible()

    # The viewer's page, never reloaded, says the live ended.
    expect(viewer.get_by_text("This live has ended.")).to_be_visible()
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.ENDED
    assert AuditEntry.objects.filter(action="live.end", target_id=stream.pk).count() == 1


def _staff_login(browser: Browser, base: str, handle: str):
    page = browser.new_context().new_page()
    page.goto(f"{base}/admin/login/")
    page.locator("input[name=username]").fill(handle)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    return page


def test_a_viewer_reports_a_chat_line_and_staff_resolving_it_hide_it(browser: Browser, asgi_server):
    from django.contrib.auth.models import Group

    host = UserFactory(handle="hana", is_business=True)
    stream, _ = services.stream_schedule(
        host=host, title="Friday drop", scheduled_at=timezone.now()
    )
    services.stream_go_live(stream=stream, actor=host)
    spammer = UserFactory(handle="spammy", display_name="Spammy")
    line = services.chat_send(
        user=spammer, stream_id=stream.pk, text="cheap followers at x.example"
    )
    UserFactory(handle="vera")
    roles_ensure()
    moderator = UserFactory(handle="mona", is_staff=True)
    moderator.groups.add(Group.objects.get(name=MODERATORS))

    context = browser.new_context()
    viewer = context.new_page()
    script_errors = []
    viewer.on("pageerror", lambda error: script_errors.append(error))
    viewer.goto(f"{asgi_server}/accounts/login/")
    viewer.locator("input[name=login]").fill("vera")
    viewer.locator("input[name=password]").fill(PASSWORD)
    viewer.get_by_role("button", name="Sign In").click()
    expect(viewer.get_by_test_id("nav-me")).to_be_visible()
    viewer.goto(f"{asgi_server}/live/{stream.pk}")
    expect(viewer.locator("#live[data-connected='1']")).to_have_count(1)
    chat_line = viewer.locator(f"#chat li[data-id='{line.pk}']")
    expect(chat_line).to_contain_text("cheap followers")

    # One tap on the line opens the report sheet over the live; nothing navigates.
    chat_line.get_by_test_id("chat-report").click()
    sheet = viewer.get_by_test_id("report-dialog")
    expect(sheet).to_be_visible()
    sheet.get_by_label("Spam or misleading").check()
    sheet.get_by_label("Tell us more").fill("Link spam")
    sheet.get_by_test_id("report-submit").click()
    expect(sheet.get_by_test_id("report-done")).to_be_visible()
    assert viewer.url.endswith(f"/live/{stream.pk}")
    report = Report.objects.get()
    assert (report.target_type, report.target_id, report.text) == (
        "chat_message",
        line.pk,
        "Link spam",
    )
    sheet.get_by_role("button", name="Close").click()
    expect(sheet).to_be_hidden()

    staff = _staff_login(browser, asgi_server, "mona")
    expect(staff.get_by_test_id("queues")).to_contain_text("Open reports")
    staff.get_by_role("link", name="Open reports").click()
    staff.get_by_role("link", name="Decide").click()
    staff.get_by_label(re.compile("Resolve")).check()
    staff.get_by_label("Reason").fill("Link spam in chat")
    staff.get_by_role("button", name="Decide").click()
    expect(staff.get_by_text("Resolved 1 report(s).")).to_be_visible()

    # The viewer's page, never reloaded, no longer shows the line.
    expect(chat_line).to_have_count(0)
    assert ChatMessage.objects.get(pk=line.pk).hidden
    assert Report.objects.get().status == Report.Status.RESOLVED
    assert not script_errors
