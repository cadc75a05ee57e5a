"""Staff decide on shops (moderators) and payouts (finance) from admin, with a reason in
the audit log; neither role can make the other's decisions."""

import pytest

from gifting.models import Payout
from moderation.models import AuditEntry
from shops.models import Shop
from tests.factories import ShopFactory, UserFactory
from tests.gifting.test_payouts import EARNED, request, settled
from tests.moderation.conftest import admin_client

pytestmark = pytest.mark.django_db


def _act(user, url, action, pk, reason="Checked by staff"):
    return admin_client(user).post(
        url, {"action": action, "_selected_action": [pk], "apply": "1", "reason": reason}
    )


@pytest.fixture
def pending_shop():
    return ShopFactory(
        handle="newshop", owner=UserFactory(handle="owner", is_business=True), status="pending"
    )


@pytest.mark.parametrize(("action", "status"), [("approve", "approved"), ("reject", "rejected")])
def test_a_moderator_decides_on_a_new_shop(pending_shop, moderator, action, status):
    response = _act(moderator, "/admin/shops/shop/", action, pending_shop.pk, "Policies fine")
    assert response.status_code == 302
    pending_shop.refresh_from_db()
    assert pending_shop.status == status and pending_shop.status_reason == "Policies fine"
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.subject, entry.reason) == (
        f"shop.{action}",
        pending_shop.owner,
        "Policies fine",
    )
    assert (entry.before, entry.after) == ({"status": "pending"}, {"status": status})


def test_a_moderator_suspends_and_reinstates_a_shop(pending_shop, moderator):
    url = "/admin/shops/shop/"
    _act(moderator, url, "approve", pending_shop.pk, "Looks good")
    # Approving it again, or reinstating a shop that is not suspended, is refused.
    assert _act(moderator, url, "reinstate", pending_shop.pk, "Nothing to do").status_code == 302
    assert _act(moderator, url, "suspend", pending_shop.pk, "Fake reviews").status_code == 302
    pending_shop.refresh_from_db()
    assert pending_shop.status == Shop.Status.SUSPENDED
    assert _act(moderator, url, "approve", pending_shop.pk, "Approve again").status_code == 302
    assert _act(moderator, url, "reinstate", pending_shop.pk, "Appeal accepted").status_code == 302
    pending_shop.refresh_from_db()
    assert pending_shop.status == Shop.Status.APPROVED
    assert list(AuditEntry.objects.order_by("pk").values_list("action", "after")) == [
        ("shop.approve", {"status": "approved"}),
        ("shop.suspend", {"status": "suspended"}),
        ("shop.reinstate", {"status": "approved"}),
    ]


def test_finance_cannot_decide_on_shops(pending_shop, finance):
    assert _act(finance, "/admin/shops/shop/", "approve", pending_shop.pk).status_code == 403
    pending_shop.refresh_from_db()
    assert pending_shop.status == Shop.Status.PENDING and not AuditEntry.objects.exists()


@pytest.fixture
def payout(earner):
    return request(earner, amount=2000)


def test_finance_approves_and_rejects_payouts(
    earner, payout, finance, queued, django_capture_on_commit_callbacks
):
    other = request(earner, amount=1000, key="p-2")
    url = "/admin/gifting/payout/"
    with django_capture_on_commit_callbacks(execute=True):
        assert _act(finance, url, "approve", payout.pk, "Earnings checked").status_code == 302
    assert _act(finance, url, "reject", other.pk, "Destination looks wrong").status_code == 302
    payout.refresh_from_db()
    other.refresh_from_db()
    assert (payout.status, other.status) == (Payout.Status.APPROVED, Payout.Status.REJECTED)
    assert queued == [payout.pk]
    # The rejected amount is back in the settled balance; the approved one is held.
    assert settled(earner) == EARNED - 2000
    entries = {e.target_id: e for e in AuditEntry.objects.filter(subject=earner)}
    assert (entries[payout.pk].action, entries[payout.pk].reason) == (
        "payout.approve",
        "Earnings checked",
    )
    assert entries[other.pk].action == "payout.reject"
    assert entries[other.pk].after == {"status": "rejected", "amount_minor": 1000}


def test_a_moderator_cannot_decide_on_payouts(payout, moderator):
    # Moderators do not even see payouts.
    assert _act(moderator, "/admin/gifting/payout/", "approve", payout.pk).status_code == 403
    payout.refresh_from_db()
    assert payout.status == Payout.Status.REQUESTED and not AuditEntry.objects.exists()


def test_the_admin_index_shows_each_role_its_queues(pending_shop, payout, moderator, finance):
    import re

    def queues(user):
        html = admin_client(user).get("/admin/").content.decode()
        return re.findall(
            r'<tr data-testid="queue">.*?>([^<]+)</a></th>\s*<td>(\d+)</td>', html, re.S
        )

    assert queues(moderator) == [("Shops awaiting approval", "1"), ("Open reports", "0")]
    assert queues(finance) == [("Payout requests awaiting approval", "1")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flush_layer")
async def test_a_suspended_shops_products_leave_the_lives_at_once(
    live, live_host, products, moderator
):
    from asgiref.sync import sync_to_async

    from streams import services as streams_services
    from tests.factories import make_product
    from tests.streams.conftest import connect, receive_type

    @sync_to_async
    def feature_two_shops():
        other = ShopFactory(handle="othershop", owner=UserFactory(handle="olga"))
        theirs = make_product(other, "Tote", sku="TT", price_minor=1500, affiliate_rate_bp=800)
        streams_services.carousel_set(
            stream=live, actor=live_host, product_ids=[products[0].pk, theirs.pk]
        )
        return theirs

    theirs = await feature_two_shops()
    viewer, _ = await connect(live.pk)
    response = await sync_to_async(_act)(
        moderator, "/admin/shops/shop/", "suspend", live_host.shop.pk, "Counterfeits"
    )
    assert response.status_code == 302
    carousel = await receive_type(viewer, "carousel.updated")
    assert [item["product"] for item in carousel["data"]["items"]] == [theirs.pk]
    await viewer.disconnect()
