"""What orders does when payments reports a webhook (payments.signals). Receivers run in
the webhook's transaction: they change rows and leave provider calls to after commit."""

from django.db import transaction

from .models import Order


def _order_for(sender: str, provider_ref: str) -> Order | None:
    return (
        Order.objects.filter(payment_provider=sender, payment_ref=provider_ref)
        .only("pk", "status", "payment_state")
        .first()
    )


def on_payment_succeeded(sender, provider_ref, **kwargs):
    """A delayed payment was authorized: capture it and mark the order paid, after the
    webhook is recorded. A payment for an order released meanwhile is given back."""
    from .services import order_capture, order_payment_void

    order = _order_for(sender, provider_ref)
    if order is None:
        return
    Order.objects.filter(pk=order.pk, payment_state=Order.PaymentState.PENDING).update(
        payment_state=Order.PaymentState.AUTHORIZED
    )
    if order.status == Order.Status.PENDING_PAYMENT:
        transaction.on_commit(lambda: order_capture(order_id=order.pk), robust=True)
    elif order.status == Order.Status.CANCELLED:
        transaction.on_commit(lambda: order_payment_void(order_id=order.pk), robust=True)


def on_payment_failed(sender, provider_ref, decline_code="", **kwargs):
    """A delayed payment failed: cancel the order and put its stock back at once."""
    from .services import order_cancel

    order = _order_for(sender, provider_ref)
    if order is None or order.status != Order.Status.PENDING_PAYMENT:
        return
    Order.objects.filter(pk=order.pk).update(
        payment_state=Order.PaymentState.DECLINED, payment_message=str(decline_code)[:200]
    )
    transaction.on_commit(
        lambda: order_cancel(order_id=order.pk, actor=None, reason="payment_declined", void=False),
        robust=True,
    )
