"""What gifting does when payments reports a webhook (payments.signals). Receivers run in
the webhook's transaction: they change rows and leave provider calls to after commit."""

from django.db import transaction

from .models import CoinPurchase

Status = CoinPurchase.Status
PaymentState = CoinPurchase.PaymentState


def _purchase_for(sender: str, provider_ref: str) -> CoinPurchase | None:
    return (
        CoinPurchase.objects.filter(payment_provider=sender, payment_ref=provider_ref)
        .only("pk", "status", "payment_state")
        .first()
    )


def on_payment_succeeded(sender, provider_ref, **kwargs):
    """A delayed payment was authorized: capture it and credit the coins, after the
    webhook is recorded. A payment for a purchase that failed meanwhile is released."""
    from .services import coin_purchase_capture, coin_purchase_void

    purchase = _purchase_for(sender, provider_ref)
    if purchase is None:
        return  # not a coin purchase (an order's payment, say)
    CoinPurchase.objects.filter(pk=purchase.pk, payment_state=PaymentState.PENDING).update(
        payment_state=PaymentState.AUTHORIZED
    )
    if purchase.status == Status.PENDING_PAYMENT:
        transaction.on_commit(lambda: coin_purchase_capture(purchase_id=purchase.pk), robust=True)
    elif purchase.status == Status.FAILED:
        transaction.on_commit(lambda: coin_purchase_void(purchase_id=purchase.pk), robust=True)


def on_payment_failed(sender, provider_ref, decline_code="", **kwargs):
    """A delayed payment failed: the purchase fails and no coins are credited."""
    purchase = _purchase_for(sender, provider_ref)
    if purchase is None or purchase.status != Status.PENDING_PAYMENT:
        return
    CoinPurchase.objects.filter(pk=purchase.pk, status=Status.PENDING_PAYMENT).update(
        status=Status.FAILED,
        payment_state=PaymentState.DECLINED,
        payment_message=str(decline_code)[:200],
    )
