"""Staff end a live from admin, in a real browser, and the viewer's page shows that it
ended without a reload."""

import re

from django.utils import timezone
from playwright.sync_api import Browser, expect

from moderation.models import AuditEntry
from moderation.roles import MODERATORS, roles_ensure
from streams import services
from streams.models import Stream
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
