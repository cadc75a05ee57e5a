"""Finance refund an order from admin with a reason: the money goes back through the
provider and the ledger, and the refund is in the audit log."""

import pytest

from moderation.models import AuditEntry
from orders.models import Order
from payments.provider_models import SimulatedCharge
from tests.moderation.conftest import admin_client
from tests.orders.test_lifecycle import balances, buy, delivered

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"


def _refund(user, order, reason="Item never matched the listing", **extra):
    return admin_client(user).post(
        CHANGELIST,
        {"action": "refund", "_selected_action": [order.pk], "apply": "1", "reason": reason},
        **extra,
    )


def test_finance_refunds_a_delivered_order_in_full(buyer, seller, shirt, finance):
    order = delivered(buyer, seller, shirt, 2)
    assert _refund(finance, order).status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_minor == order.total_minor == 9800
    assert SimulatedCharge.objects.get(ref=order.payment_ref).amount_refunded == 9800
    assert balances(order) == {"merchant": 0, "platform": 0, "creator": 0, "external": 0}
    entry = AuditEntry.objects.select_related("actor", "subject").get()
    assert (entry.action, entry.actor, entry.subject) == ("order.refund", finance, buyer)
    assert (entry.target_type, entry.target_id) == ("orders.order", order.pk)
    assert entry.reason == "Item never matched the listing"
    assert entry.before == {"status": "delivered", "payment_state": "captured", "refunded_minor": 0}
    assert entry.after["status"] == "refunded" and entry.after["refunded_minor"] == 9800
    refund = order.refunds.get()
    assert refund.decided_by == finance and refund.reason == "staff: Item never matched the listing"


def test_an_order_not_yet_shipped_is_cancelled_with_its_money_back(buyer, seller, shirt, finance):
    order = buy(buyer, shirt)
    assert order.status == Order.Status.PAID
    assert _refund(finance, order).status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    charge = SimulatedCharge.objects.get(ref=order.payment_ref)
    assert charge.amount_captured == charge.amount_refunded == order.total_minor
    entry = AuditEntry.objects.get()
    assert (entry.before["status"], entry.after["status"]) == ("paid", "cancelled")


def test_an_order_in_transit_is_refused_and_nothing_is_logged(buyer, seller, shirt, finance):
    from orders import services

    order = buy(buyer, shirt)
    services.order_ship(actor=seller, order_id=order.pk, carrier="DHL", tracking_number="X1")
    response = _refund(finance, order, follow=True)
    assert "delivered order can be refunded" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED and not AuditEntry.objects.exists()


def test_a_moderator_cannot_refund(buyer, seller, shirt, moderator):
    order = delivered(buyer, seller, shirt)
    # Moderators do not see orders at all.
    assert _refund(moderator, order).status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and not AuditEntry.objects.exists()
