"""Users report a live, a chat line, a product, a shop or a user (from the pages and the
API); staff decide a target's open reports in admin, most-reported first: resolving acts
on the target, dismissing leaves it."""

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from moderation.models import AuditEntry, Report
from moderation.reports import report_create
from shops.models import Product, Shop
from streams import services as streams_services
from streams.models import CarouselItem, ChatMessage, Stream
from tests.factories import UserFactory, make_product
from tests.moderation.conftest import admin_client
from tests.streams.conftest import connect, receive_type

HX = {"HTTP_HX_REQUEST": "true"}


def _url(kind, pk):
    return reverse("moderation:report", args=[kind, pk])


def _decide(staff, kind, pk, decision="resolve", reason="Breaks the rules", **form):
    return admin_client(staff).post(
        reverse("admin:moderation_report_decide", args=[kind, pk]),
        {"decision": decision, "reason": reason, **form},
    )


def _report(kind, target, *handles, reason="spam"):
    for handle in handles:
        report_create(
            reporter=UserFactory(handle=handle),
            target_type=kind,
            target_id=target.pk,
            reason=reason,
        )


# --- reporting ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_viewer_reports_a_chat_line_in_the_sheet_over_the_live(client, live):
    author = UserFactory(handle="loud")
    line = ChatMessage.objects.create(stream=live, user=author, text="buy followers here")
    viewer = UserFactory(handle="vera")
    client.force_login(viewer)

    page = client.get(live.get_absolute_url()).content.decode()
    assert 'id="report-sheet"' in page and "moderation/report.js" in page
    form = client.get(_url("chat_message", line.pk), **HX)
    assert form.status_code == 200
    body = form.content.decode()
    assert 'data-testid="report-form"' in body and "<html" not in body
    assert "@loud: buy followers here" in body

    done = client.post(_url("chat_message", line.pk), {"reason": "spam", "text": "bot"}, **HX)
    assert done.status_code == 200 and 'data-testid="report-done"' in done.content.decode()
    report = Report.objects.get()
    assert (report.reporter, report.target_type, report.target_id, report.target_user) == (
        viewer,
        "chat_message",
        line.pk,
        author,
    )
    assert (report.reason, report.text, report.status) == ("spam", "bot", "open")

    # One open report per reporter and target: the second tap says so and adds nothing.
    again = client.post(_url("chat_message", line.pk), {"reason": "scam"}, **HX)
    assert again.status_code == 409 and "reported this already" in again.content.decode()
    assert Report.objects.count() == 1


@pytest.mark.django_db
def test_a_product_is_reported_from_its_page_and_the_reporter_goes_back(client, products):
    shirt = products[0]
    client.force_login(UserFactory(handle="vera"))
    page = client.get(reverse("shops:product", kwargs={"pk": shirt.pk})).content.decode()
    assert f'href="{_url("product", shirt.pk)}?next=' in page
    assert client.get(_url("product", shirt.pk)).status_code == 200
    response = client.post(
        _url("product", shirt.pk),
        {"reason": "counterfeit", "text": "Fake logo", "next": f"/products/{shirt.pk}"},
    )
    assert response.status_code == 302 and response.url == f"/products/{shirt.pk}"
    assert Report.objects.get().target_repr == "Linen shirt"
    # Off-site next: back to the product instead.
    other = make_product(shirt.shop, "Mug two", sku="M2")
    response = client.post(
        _url("product", other.pk), {"reason": "spam", "next": "https://evil.example/"}
    )
    assert response.url == other.get_absolute_url()


@pytest.mark.django_db
def test_bad_reports_get_a_clear_error_and_change_nothing(client, live_host, products):
    shirt = products[0]
    anonymous = client.get(_url("product", shirt.pk))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.url
    client.force_login(UserFactory(handle="vera"))
    missing_reason = client.post(_url("product", shirt.pk), {"text": "hm"})
    assert missing_reason.status_code == 400
    other = client.post(_url("product", shirt.pk), {"reason": "other", "text": "  "})
    assert other.status_code == 400 and "Say what is wrong" in other.content.decode()
    too_long = client.post(_url("product", shirt.pk), {"reason": "spam", "text": "x" * 1001})
    assert too_long.status_code == 400
    assert client.get(_url("parcel", shirt.pk)).status_code == 404
    assert client.get(_url("product", 10**9)).status_code == 404
    Product.objects.filter(pk=shirt.pk).update(status="draft")  # not public
    assert client.post(_url("product", shirt.pk), {"reason": "spam"}).status_code == 404
    client.force_login(live_host)  # one's own shop
    own = client.post(_url("shop", live_host.shop.pk), {"reason": "spam"})
    assert own.status_code == 400 and "cannot report yourself" in own.content.decode()
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_reports_through_the_api(api_client, live, live_host):
    viewer = UserFactory(handle="vera")
    body = {"target_type": "live", "target_id": live.pk, "reason": "violence", "text": "fight"}
    assert api_client.post("/api/v1/reports/", body, format="json").status_code in (401, 403)
    api_client.force_authenticate(viewer)
    created = api_client.post("/api/v1/reports/", body, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "open" and created.json()["target_id"] == live.pk
    twice = api_client.post("/api/v1/reports/", body, format="json")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_reported"
    for bad, field in [
        ({**body, "target_type": "parcel"}, "target_type"),
        ({**body, "reason": "boring"}, "reason"),
        ({**body, "target_id": 0}, "target_id"),
    ]:
        response = api_client.post("/api/v1/reports/", bad, format="json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"]
    gone = {**body, "target_type": "user", "target_id": 10**9}
    assert api_client.post("/api/v1/reports/", gone, format="json").status_code == 404
    api_client.force_authenticate(live_host)
    own = api_client.post("/api/v1/reports/", body, format="json")
    assert own.status_code == 400 and own.json()["error"]["code"] == "cannot_report_own"
    api_client.force_authenticate(viewer)
    assert [r["id"] for r in api_client.get("/api/v1/reports/").json()] == [created.json()["id"]]
    assert Report.objects.count() == 1


@pytest.mark.django_db
def test_reports_are_rate_limited_on_the_pages_and_the_api_together(
    client, api_client, products, settings
):
    from django.core.cache import cache

    cache.clear()
    settings.MODERATION_REPORTS_RATE = "2/hour"
    viewer = UserFactory(handle="vera")
    client.force_login(viewer)
    api_client.force_authenticate(viewer)
    shirt, mug, _ = products
    assert client.post(_url("product", shirt.pk), {"reason": "spam"}).status_code == 302
    body = {"target_type": "product", "target_id": mug.pk, "reason": "spam"}
    assert api_client.post("/api/v1/reports/", body, format="json").status_code == 201
    assert api_client.post("/api/v1/reports/", body, format="json").status_code == 429
    page = client.post(_url("shop", shirt.shop.pk), {"reason": "spam"})
    assert page.status_code == 429 and "Too many reports" in page.content.decode()
    assert Report.objects.count() == 2
    cache.clear()


# --- the queue ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_queue_groups_open_reports_by_target_most_reported_first(live, products, moderator):
    line = ChatMessage.objects.create(stream=live, user=UserFactory(handle="loud"), text="spam")
    troll = UserFactory(handle="troll")
    shirt = products[0]
    _report("product", shirt, "a1")
    _report("chat_message", line, "b1", "b2", "b3")
    _report("user", troll, "c1", reason="harassment")
    _report("user", troll, "c2", reason="spam")
    closed = Report.objects.create(
        reporter=UserFactory(handle="d1"),
        target_type="product",
        target_id=shirt.pk,
        target_repr="x",
        reason="spam",
        status="dismissed",
    )
    client = admin_client(moderator)
    html = client.get(reverse("admin:moderation_report_queue")).content.decode()
    import re

    rows = re.findall(r'data-testid="report-group" data-target="([^"]+)">\s*<td>(\d+)</td>', html)
    assert rows == [
        (f"chat_message:{line.pk}", "3"),
        (f"user:{troll.pk}", "2"),
        (f"product:{shirt.pk}", "1"),
    ]
    assert "Harassment or hate (1)" in html and "Spam or misleading (1)" in html
    index = client.get("/admin/").content.decode()
    assert re.search(r"Open reports</a></th>\s*<td>6</td>", index)
    assert closed.status == "dismissed"


@pytest.mark.django_db
def test_finance_cannot_see_or_decide_reports(live, finance):
    line = ChatMessage.objects.create(stream=live, user=UserFactory(handle="loud"), text="spam")
    _report("chat_message", line, "b1")
    assert admin_client(finance).get(reverse("admin:moderation_report_queue")).status_code == 403
    assert _decide(finance, "chat_message", line.pk).status_code == 403
    line.refresh_from_db()
    assert not line.hidden and Report.objects.get().status == "open"
    assert not AuditEntry.objects.exists()


# --- deciding -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flush_layer")
async def test_resolving_a_chat_report_hides_the_line_in_the_live_at_once(live, moderator):
    @sync_to_async
    def setup():
        line = ChatMessage.objects.create(stream=live, user=UserFactory(handle="loud"), text="spam")
        _report("chat_message", line, "b1", "b2")
        return line

    line = await setup()
    viewer, _ = await connect(live.pk)
    response = await sync_to_async(_decide)(moderator, "chat_message", line.pk)
    assert response.status_code == 302
    assert (await receive_type(viewer, "chat.deleted"))["data"] == {"id": line.pk}
    await viewer.disconnect()

    @sync_to_async
    def after():
        hidden = ChatMessage.objects.get(pk=line.pk).hidden
        entries = {e.action: e for e in AuditEntry.objects.all()}
        statuses = set(Report.objects.values_list("status", "decision_id"))
        return hidden, entries, statuses

    hidden, entries, statuses = await after()
    assert hidden
    assert set(entries) == {"chat.hide", "report.resolve"}
    resolve = entries["report.resolve"]
    assert resolve.after == {
        "status": "resolved",
        "action": "chat.hide",
        "action_entry": entries["chat.hide"].pk,
    }
    assert (resolve.target_type, resolve.target_id) == ("streams.chatmessage", line.pk)
    assert statuses == {("resolved", resolve.pk)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flush_layer")
async def test_resolving_a_live_report_ends_the_live_for_its_viewers(live, live_host, moderator):
    await sync_to_async(_report)("live", live, "b1")
    viewer, _ = await connect(live.pk)
    response = await sync_to_async(_decide)(moderator, "live", live.pk, suspend_days=2)
    assert response.status_code == 302
    assert (await receive_type(viewer, "stream.state"))["data"]["status"] == "ended"
    await viewer.disconnect()

    @sync_to_async
    def after():
        live_host.refresh_from_db()
        return Stream.objects.get(pk=live.pk).status, live_host.live_suspended_until

    status, suspended = await after()
    assert status == "ended" and suspended is not None


@pytest.mark.django_db
def test_resolving_reports_of_a_user_mutes_or_bans_them(live, moderator):
    troll, scammer = UserFactory(handle="troll"), UserFactory(handle="scammer")
    _report("user", troll, "c1")
    _report("user", scammer, "c2", reason="scam")
    assert _decide(moderator, "user", troll.pk, hours=6).status_code == 302
    assert _decide(moderator, "user", scammer.pk, ban="on").status_code == 302
    troll.refresh_from_db()
    scammer.refresh_from_db()
    assert troll.chat_muted_until is not None and troll.is_active
    assert not scammer.is_active
    assert sorted(AuditEntry.objects.values_list("action", flat=True)) == [
        "report.resolve",
        "report.resolve",
        "user.ban",
        "user.mute",
    ]


@pytest.mark.django_db
def test_resolving_reports_of_a_shop_suspends_it_and_empties_its_carousels(
    live, live_host, products, moderator
):
    streams_services.carousel_set(stream=live, actor=live_host, product_ids=[products[0].pk])
    _report("shop", live_host.shop, "c1", reason="scam")
    _report("product", products[1], "c2", reason="counterfeit")
    assert _decide(moderator, "shop", live_host.shop.pk).status_code == 302
    assert _decide(moderator, "product", products[1].pk).status_code == 302
    assert Shop.objects.get(pk=live_host.shop.pk).status == Shop.Status.SUSPENDED
    assert not CarouselItem.objects.filter(stream=live).exists()
    assert Product.objects.get(pk=products[1].pk).status == Product.Status.TAKEN_DOWN
    assert set(Report.objects.values_list("status", flat=True)) == {"resolved"}


@pytest.mark.django_db
def test_dismissing_leaves_the_target_and_lets_it_be_reported_again(live, moderator):
    line = ChatMessage.objects.create(stream=live, user=UserFactory(handle="loud"), text="hi")
    _report("chat_message", line, "b1", "b2")
    assert _decide(moderator, "chat_message", line.pk, decision="dismiss").status_code == 302
    line.refresh_from_db()
    assert not line.hidden
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.after) == ("report.dismiss", {"status": "dismissed"})
    assert set(Report.objects.values_list("status", flat=True)) == {"dismissed"}
    # Decided once: a second decision finds nothing open, and nothing is logged.
    again = admin_client(moderator).post(
        reverse("admin:moderation_report_decide", args=["chat_message", line.pk]),
        {"decision": "resolve", "reason": "Second look"},
        follow=True,
    )
    assert "no open reports" in again.content.decode().lower()
    assert AuditEntry.objects.count() == 1
    report_create(
        reporter=Report.objects.first().reporter,
        target_type="chat_message",
        target_id=line.pk,
        reason="spam",
    )
    assert Report.objects.filter(status="open").count() == 1


@pytest.mark.django_db
def test_a_decision_needs_a_reason(live, moderator):
    line = ChatMessage.objects.create(stream=live, user=UserFactory(handle="loud"), text="hi")
    _report("chat_message", line, "b1")
    assert _decide(moderator, "chat_message", line.pk, reason="").status_code == 400
    assert Report.objects.get().status == "open" and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_the_moderation_history_lists_reports_against_a_user(live, moderator):
    troll = UserFactory(handle="troll")
    line = ChatMessage.objects.create(stream=live, user=troll, text="rude")
    _report("chat_message", line, "b1", reason="harassment")
    _report("user", troll, "b2")
    html = (
        admin_client(moderator)
        .get(reverse("admin:moderation_user_history", args=[troll.pk]))
        .content.decode()
    )
    assert html.count('data-testid="report"') == 2
    assert "@troll: rude" in html and "Harassment or hate" in html
