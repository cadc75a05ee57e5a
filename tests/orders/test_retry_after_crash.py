"""A checkout whose process is killed mid-way (bench/chaos/asgi_kill.py found it) and is
retried with the same key is paid by the retry, once, instead of being handed back
unpaid until its pay-by time cancels it."""

import pytest

from orders import services
from orders.models import Order
from payments.ledger_models import LedgerTransaction
from payments.provider_models import SimulatedOperation
from tests.orders.conftest import variant_of


class Killed(BaseException):
    """The process dies here: nothing after it runs (not an Exception, so no handler of
    ours catches it, as with a SIGKILL)."""


def place(buyer, product, key):
    return services.order_place(
        buyer=buyer, items=[{"variant": variant_of(product).pk, "quantity": 1}], checkout_key=key
    )


@pytest.mark.parametrize("dies_in", ["order_pay", "order_capture"])
def test_a_retry_pays_the_checkout_its_first_attempt_left_unpaid(
    buyer, shirt, monkeypatch, dies_in
):
    def die(**kwargs):
        raise Killed()

    if dies_in == "order_pay":
        monkeypatch.setattr(services, "order_pay", die)
    else:
        monkeypatch.setattr(services, "order_capture", die)
    with pytest.raises(Killed):
        place(buyer, shirt, "k-1")
    monkeypatch.undo()
    order = Order.objects.get(buyer=buyer, checkout_key="k-1")
    assert order.status == Order.Status.PENDING_PAYMENT

    (retried,) = place(buyer, shirt, "k-1")
    (again,) = place(buyer, shirt, "k-1")
    assert retried.pk == again.pk == order.pk
    assert again.status == Order.Status.PAID
    assert LedgerTransaction.objects.filter(key=f"order:{order.pk}:paid").count() == 1
    assert SimulatedOperation.objects.filter(kind="authorize").count() == 1
    assert SimulatedOperation.objects.filter(kind="capture").count() == 1
    shirt.refresh_from_db()
    assert variant_of(shirt).stock == 6


def test_a_retry_leaves_a_declined_checkout_cancelled(buyer, shirt):
    with pytest.raises(services.PaymentDeclined):
        services.order_place(
            buyer=buyer,
            items=[{"variant": variant_of(shirt).pk, "quantity": 1}],
            checkout_key="k-2",
            payment_method="pm_card_declined",
        )
    (order,) = place(buyer, shirt, "k-2")
    assert order.status == Order.Status.CANCELLED
    assert SimulatedOperation.objects.filter(kind="authorize").count() == 1
