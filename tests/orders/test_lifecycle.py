"""After the tap: delayed payments, unpaid orders released, cancelling, shipping, refunds,
and the ledger following the money both ways."""

import time
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from config.celery import app
from orders import services, tasks
from orders.errors import InvalidOrder, InvalidTransition, NotYourOrder, RefundTooLarge
from orders.models import Order, Refund
from payments import tasks as payment_tasks
from payments.ledger_models import LedgerEntry
from payments.provider_models import SimulatedCharge
from payments.providers.simulated import simulated_webhook_send
from shops.models import Variant
from streams import services as streams_services
from streams.models import Deal

from .conftest import variant_of


def balances(order):
    """Each account's balance from the entries, by the account's role."""
    cur = order.currency
    codes = {
        "merchant": f"merchant:payable:shop:{order.shop_id}:{cur}",
        "platform": f"platform:commission:{cur}",
        "creator": f"earnings:affiliate:user:{order.creator_id}:{cur}",
        "external": f"external:card:simulated:{cur}",
    }
    return {
        role: sum(LedgerEntry.objects.filter(account__code=code).values_list("amount", flat=True))
        for role, code in codes.items()
    }


def buy(buyer, product, quantity=1, **kwargs):
    kwargs.setdefault("checkout_key", uuid.uuid4().hex)
    (order,) = services.order_place(
        buyer=buyer, items=[{"variant": variant_of(product).pk, "quantity": quantity}], **kwargs
    )
    return order


def stock(product):
    return Variant.objects.get(pk=variant_of(product).pk).stock


@pytest.fixture
def scheduled(monkeypatch):
    """Delayed payments' webhook tasks, kept instead of queued."""
    calls = []
    monkeypatch.setattr(
        payment_tasks.simulated_webhook,
        "apply_async",
        lambda args=None, **options: calls.append(tuple(args)),
    )
    return calls


# --- delayed payments and the pay-by time ------------------------------------------------------


def test_a_delayed_card_pays_only_when_its_webhook_arrives(
    asgi_server, settings, buyer, shirt, scheduled
):
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    order = buy(buyer, shirt, 2, payment_method="pm_card_delayed")
    assert (order.status, order.payment_state) == ("pending_payment", "pending")
    assert stock(shirt) == 5  # reserved while the payment is pending
    assert not LedgerEntry.objects.exists()
    assert scheduled == [(order.payment_ref,)]

    assert simulated_webhook_send(charge_ref=order.payment_ref)
    order.refresh_from_db()
    assert (order.status, order.payment_state) == ("paid", "captured")
    assert balances(order)["external"] == -order.total_minor
    # The same webhook again is a replay: nothing more happens.
    SimulatedCharge.objects.filter(ref=order.payment_ref).update(webhook_sent_at=None)
    assert simulated_webhook_send(charge_ref=order.payment_ref)
    assert LedgerEntry.objects.filter(transaction__kind="order.paid").count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_delayed_webhook_and_the_order_is_paid(
    asgi_server, settings, buyer, shirt, monkeypatch
):
    """The whole path: the provider's Celery task (on a real worker, through the broker)
    posts the signed webhook to the running site, which captures and marks the order paid."""
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    settings.SIMULATED_WEBHOOK_DELAY = 0.2
    queue = f"test-{uuid.uuid4().hex[:8]}"  # nobody else's worker consumes this queue
    original = payment_tasks.simulated_webhook.apply_async
    monkeypatch.setattr(
        payment_tasks.simulated_webhook,
        "apply_async",
        lambda args=None, **options: original(args=args, queue=queue, **options),
    )
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]):
        order = buy(buyer, shirt, payment_method="pm_card_delayed")
        assert order.status == "pending_payment"
        deadline = time.monotonic() + 20
        while Order.objects.get(pk=order.pk).status != "paid":
            assert time.monotonic() < deadline, "the webhook did not pay the order"
            time.sleep(0.1)


def test_an_unpaid_order_is_released_after_its_pay_by_time(buyer, shirt, scheduled):
    order = buy(buyer, shirt, 3, payment_method="pm_card_delayed")
    assert stock(shirt) == 4
    assert services.orders_release_unpaid() == 0  # not due yet
    later = timezone.now() + timedelta(seconds=settings_timeout() + 1)
    assert services.orders_release_unpaid(now=later) == 1
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("cancelled", "payment_timeout")
    assert stock(shirt) == 7
    # The payment it was waiting for is voided: its webhook will never come.
    assert SimulatedCharge.objects.get(ref=order.payment_ref).status == "voided"
    assert simulated_webhook_send(charge_ref=order.payment_ref) is False
    assert services.orders_release_unpaid(now=later) == 0  # safe to run twice


def settings_timeout():
    return int(services.payment_timeout().total_seconds())


def test_the_release_task_is_scheduled_and_thin(settings):
    assert app.conf.beat_schedule["orders-release-unpaid"]["task"] == tasks.release_unpaid.name


def test_a_webhook_for_a_released_order_gives_the_money_back(
    asgi_server, settings, buyer, shirt, scheduled
):
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    order = buy(buyer, shirt, payment_method="pm_card_delayed")
    # Released first (as if the webhook were very late); then the webhook arrives anyway.
    Order.objects.filter(pk=order.pk).update(pay_by=timezone.now() - timedelta(seconds=1))
    services.order_cancel(order_id=order.pk, actor=None, reason="payment_timeout", void=False)
    SimulatedCharge.objects.filter(ref=order.payment_ref).update(status="pending")
    simulated_webhook_send(charge_ref=order.payment_ref)
    charge = SimulatedCharge.objects.get(ref=order.payment_ref)
    assert charge.amount_captured == charge.amount_refunded  # nobody charged without an order
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert not LedgerEntry.objects.exists()


# --- cancelling -----------------------------------------------------------------------------


def test_the_buyer_cancels_a_paid_order_and_everything_goes_back(buyer, live, shirt):
    order = buy(buyer, shirt, 2, stream_id=live.pk)
    assert balances(order)["creator"] == 980
    services.order_cancel_by_buyer(buyer=buyer, order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "cancelled" and order.refunded_minor == order.total_minor
    assert stock(shirt) == 7
    assert balances(order) == {"merchant": 0, "platform": 0, "creator": 0, "external": 0}
    charge = SimulatedCharge.objects.get(ref=order.payment_ref)
    assert charge.amount_refunded == charge.amount_captured == order.total_minor
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds == ["placed", "paid", "cancelled"]
    assert order.events.last().actor == buyer


def test_a_cancelled_deal_unit_goes_back_to_the_running_deal(buyer, live, shirt, creator):
    deal = streams_services.deal_start(
        stream=live, actor=creator, product_id=shirt.pk, price_minor=2500, quantity=5, seconds=60
    )
    order = buy(buyer, shirt, 2, stream_id=live.pk)
    assert Deal.objects.get(pk=deal.pk).sold == 2
    services.order_cancel_by_buyer(buyer=buyer, order_id=order.pk)
    assert Deal.objects.get(pk=deal.pk).sold == 0


def test_a_shipped_order_cannot_be_cancelled(buyer, shirt, seller):
    order = buy(buyer, shirt)
    services.order_ship(actor=seller, order_id=order.pk, carrier="UPS", tracking_number="1Z999")
    with pytest.raises(InvalidTransition):
        services.order_cancel_by_buyer(buyer=buyer, order_id=order.pk)
    with pytest.raises(InvalidTransition):
        services.order_cancel_by_shop(actor=seller, order_id=order.pk)
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == ("shipped", "UPS", "1Z999")
    assert stock(shirt) == 6


def test_shipping_needs_a_carrier_and_tracking_number_and_the_seller(buyer, shirt, seller, viewer):
    order = buy(buyer, shirt)
    with pytest.raises(InvalidOrder) as caught:
        services.order_ship(actor=seller, order_id=order.pk, carrier="", tracking_number=" ")
    assert set(caught.value.fields) == {"carrier", "tracking_number"}
    with pytest.raises(NotYourOrder):
        services.order_ship(actor=viewer, order_id=order.pk, carrier="UPS", tracking_number="1")
    assert Order.objects.get(pk=order.pk).status == "paid"


# --- refunds ------------------------------------------------------------------------------------


def delivered(buyer, seller, product, quantity=1, **kwargs):
    order = buy(buyer, product, quantity, **kwargs)
    services.order_ship(actor=seller, order_id=order.pk, carrier="DHL", tracking_number="JD01")
    services.order_deliver(actor=buyer, order_id=order.pk)
    return order


def test_partial_refunds_add_up_and_reverse_the_commissions_exactly(buyer, seller, live, shirt):
    order = delivered(buyer, seller, shirt, 3, stream_id=live.pk)  # 3 × 49.00
    line = order.lines.get()
    paid = balances(order)
    assert paid == {
        "merchant": 14700 - 735 - 1470,
        "platform": 735,
        "creator": 1470,
        "external": -14700,
    }

    services.order_refund(actor=seller, order_id=order.pk, lines={line.pk: 1}, reason="damaged")
    order.refresh_from_db()
    assert order.status == "refunded" and order.refunded_minor == 4900
    services.order_refund(actor=seller, order_id=order.pk, lines={line.pk: 2})
    order.refresh_from_db()
    assert order.refunded_minor == order.total_minor
    assert balances(order) == {"merchant": 0, "platform": 0, "creator": 0, "external": 0}
    with pytest.raises(RefundTooLarge):
        services.order_refund(actor=seller, order_id=order.pk, lines={line.pk: 1})
    charge = SimulatedCharge.objects.get(ref=order.payment_ref)
    assert charge.amount_refunded == order.total_minor


def test_refunding_more_than_was_paid_is_refused_and_changes_nothing(buyer, seller, shirt):
    order = delivered(buyer, seller, shirt, 2)
    line = order.lines.get()
    with pytest.raises(RefundTooLarge):
        services.order_refund(actor=seller, order_id=order.pk, lines={line.pk: 3})
    order.refresh_from_db()
    assert order.status == "delivered" and order.refunded_minor == 0
    assert not Refund.objects.exists()
    assert SimulatedCharge.objects.get(ref=order.payment_ref).amount_refunded == 0


def test_a_refund_before_delivery_is_refused(buyer, seller, shirt):
    order = buy(buyer, shirt)
    with pytest.raises(InvalidTransition):
        services.order_refund(actor=seller, order_id=order.pk)
    with pytest.raises(InvalidTransition):
        services.order_request_refund(buyer=buyer, order_id=order.pk, reason="changed my mind")


def test_the_buyer_requests_and_the_shop_approves_what_was_asked(buyer, seller, shirt, mug):
    (order,) = services.order_place(
        buyer=buyer,
        items=[
            {"variant": variant_of(shirt).pk, "quantity": 1},
            {"variant": variant_of(mug).pk, "quantity": 2},
        ],
        checkout_key="two-lines",
    )
    services.order_ship(actor=seller, order_id=order.pk, carrier="DHL", tracking_number="1")
    services.order_deliver(actor=seller, order_id=order.pk)
    mug_line = order.lines.get(product=mug)
    request = services.order_request_refund(
        buyer=buyer, order_id=order.pk, reason="one mug arrived broken", lines={mug_line.pk: 1}
    )
    assert request.amount_minor == 2800
    assert Order.objects.get(pk=order.pk).status == "refund_requested"
    refund = services.order_refund(actor=seller, order_id=order.pk)
    assert (refund.pk, refund.status, refund.amount_minor) == (request.pk, "refunded", 2800)
    assert Order.objects.get(pk=order.pk).refunded_minor == 2800


def test_the_shop_rejects_a_refund_request_with_a_reason(buyer, seller, shirt):
    order = delivered(buyer, seller, shirt)
    services.order_request_refund(buyer=buyer, order_id=order.pk, reason="not as pictured")
    with pytest.raises(InvalidOrder):
        services.order_reject_refund(actor=seller, order_id=order.pk, reason="")
    refund = services.order_reject_refund(actor=seller, order_id=order.pk, reason="worn")
    assert refund.status == "rejected"
    order.refresh_from_db()
    assert order.status == "refund_rejected" and order.refunded_minor == 0
    history = list(order.events.values_list("to_status", flat=True))
    assert history == [
        "pending_payment",
        "paid",
        "shipped",
        "delivered",
        "refund_requested",
        "refund_rejected",
    ]


def test_a_failed_payment_in_a_bag_checkout_releases_the_other_shops_orders(
    buyer, seller, shirt, monkeypatch
):
    """Two shops in one bag: the first shop's payment goes through, the second's fails.
    The first order stays paid and leaves the bag; the stock of the unpaid one is back at
    once, and checking out again does not buy the first shop's items twice."""
    from orders.errors import PaymentDeclined
    from orders.models import BagItem
    from tests.factories import ShopFactory, make_product

    other = make_product(ShopFactory(handle="potter").owner.shop, "Bowl", price_minor=1500, stock=4)
    services.bag_add(user=buyer, variant_id=variant_of(shirt).pk, quantity=1)
    services.bag_add(user=buyer, variant_id=variant_of(other).pk, quantity=2)
    paid_once = []
    real_pay = services.order_pay

    def pay_then_decline(*, order):
        if paid_once:
            raise PaymentDeclined()
        paid_once.append(order.pk)
        return real_pay(order=order)

    monkeypatch.setattr(services, "order_pay", pay_then_decline)
    with pytest.raises(PaymentDeclined):
        services.bag_checkout(buyer=buyer, checkout_key="bag-1")
    first, second = Order.objects.filter(checkout_key="bag-1").order_by("pk")
    assert first.status == "paid"
    assert second.status == "cancelled" and second.cancel_reason == "checkout_failed"
    assert stock(shirt) == 6 and stock(other) == 4
    assert list(BagItem.objects.values_list("variant_id", flat=True)) == [variant_of(other).pk]
