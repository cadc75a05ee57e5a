"""Writes for coins: buying a coin pack and crediting the wallet once its payment is
captured.

The path of a tap on Buy: coins_buy creates the pending purchase (one per checkout key),
then, with no transaction open, authorizes and captures its price through the payment
provider. A card that succeeds makes the purchase paid at once; a declined one makes it
failed and credits nothing; a delayed one leaves it pending until the provider's webhook
(receivers.py). Paid means one ledger transaction: coins issued by the platform into the
buyer's wallet, and the price from the outside world to the platform's coin sales.

Sending a gift is one transaction: the GiftSend row, then one ledger posting that debits
the wallet with a conditional UPDATE (never below zero, no read-then-write) and appends the
host's and the platform's shares as entries on accounts without a cached balance, so that
a hot creator's row is never locked. gift.sent goes to the live after commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.images import image_renditions
from accounts.models import User
from accounts.permissions import staff_can
from config.errors import NotAllowed
from payments.errors import DomainError, InsufficientFunds, InvalidPaymentMethod
from payments.ledger import Line, account_get, ledger_post
from payments.ledger_models import LedgerAccount
from payments.provider_services import payment_method_resolve
from payments.providers import get_provider

from . import sends
from .accounts import (  # noqa: F401 (earnings_account: part of this module's API)
    commission_spec,
    earnings_account,
    external_spec,
    issued_spec,
    sales_spec,
    wallet_account,
)
from .errors import (
    CoinPackNotFound,
    CoinRefundNotAllowed,
    CoinsAlreadySpent,
    InvalidCoinPurchase,
    InvalidGift,
    PaymentDeclined,
    PaymentFailed,
)
from .models import CoinPack, CoinPurchase, GiftSend
from .sends import gift_split  # noqa: F401 (part of this module's API)

log = logging.getLogger(__name__)

GIFT_IMAGE_SIZE = 256
GIFT_IMAGE_MAX_BYTES = 5 * 1024 * 1024

Status = CoinPurchase.Status
PaymentState = CoinPurchase.PaymentState


# --- accounts (specs in gifting.accounts) ---------------------------------------------------


def _issued_account() -> LedgerAccount:
    return account_get(**issued_spec())


def _external_account(provider: str, currency: str) -> LedgerAccount:
    return account_get(**external_spec(provider=provider, currency=currency))


def _sales_account(currency: str) -> LedgerAccount:
    return account_get(**sales_spec(currency=currency))


def _commission_account(currency: str) -> LedgerAccount:
    return account_get(**commission_spec(currency=currency))


# --- buying coins ---------------------------------------------------------------------------


def _check_key(checkout_key) -> str:
    if not isinstance(checkout_key, str) or not 1 <= len(checkout_key) <= 120:
        raise InvalidCoinPurchase(
            fields={"checkout_key": ["A checkout key of 1 to 120 characters."]}
        )
    return checkout_key


def _active_pack(pack_id) -> CoinPack:
    if isinstance(pack_id, bool) or not isinstance(pack_id, int):
        raise InvalidCoinPurchase(fields={"pack": ["A coin pack's id."]})
    pack = CoinPack.objects.filter(pk=pack_id, active=True).first()
    if pack is None:
        raise CoinPackNotFound()
    return pack


def coins_buy(
    *,
    buyer: User,
    pack_id: int,
    checkout_key: str,
    payment_method: str | None = None,
) -> CoinPurchase:
    """Buy an active coin pack with a card: the default one when payment_method is None,
    a saved card's token or id, or a test method (pm_card_ok, pm_card_declined,
    pm_card_delayed).

    Returns the purchase: paid (the coins are in the wallet), or pending_payment while a
    delayed card waits for its webhook. Raises CoinPackNotFound for an unknown or inactive
    pack, PaymentDeclined (the purchase is failed, nothing credited), PaymentFailed,
    PaymentMethodRequired, InvalidPaymentMethod and InvalidCoinPurchase for bad input.
    The same checkout_key returns the purchase it made the first time, whatever its state.
    The caller holds no transaction: payment calls go over the network."""
    checkout_key = _check_key(checkout_key)
    existing = CoinPurchase.objects.filter(buyer=buyer, checkout_key=checkout_key).first()
    if existing is not None:
        return existing
    pack = _active_pack(pack_id)
    token, provider = payment_method_resolve(user=buyer, payment_method=payment_method)
    try:
        with transaction.atomic():
            purchase = CoinPurchase.objects.create(
                buyer=buyer,
                pack=pack,
                coins=pack.coins,
                price_minor=pack.price_minor,
                currency=pack.currency,
                payment_method=token,
                payment_provider=provider,
                checkout_key=checkout_key,
            )
    except IntegrityError:
        # A retry with this key raced its first attempt, which made the purchase.
        return CoinPurchase.objects.get(buyer=buyer, checkout_key=checkout_key)
    coin_purchase_pay(purchase=purchase)
    purchase.refresh_from_db()
    return purchase


def _fail(purchase_id: int, *, state: str | None = None, message: str = "", ref: str = ""):
    changes = {"status": Status.FAILED, "payment_message": message[:200]}
    if state:
        changes["payment_state"] = state
    if ref:
        changes["payment_ref"] = ref
    CoinPurchase.objects.filter(pk=purchase_id, status=Status.PENDING_PAYMENT).update(**changes)


def coin_purchase_pay(*, purchase: CoinPurchase) -> CoinPurchase:
    """Take the payment of a pending purchase through its provider. The caller holds no
    transaction. Succeeded: the purchase is paid and its coins credited. Pending: it waits
    for the webhook. Declined: the purchase is failed and PaymentDeclined raised."""
    provider = get_provider(purchase.payment_provider)
    try:
        result = provider.authorize(
            amount_minor=purchase.price_minor,
            currency=purchase.currency,
            payment_method=purchase.payment_method,
            idempotency_key=f"coins:{purchase.pk}:authorize",
            metadata={"coin_purchase": purchase.pk},
        )
    except DomainError as exc:
        _fail(purchase.pk, message=exc.message)
        if isinstance(exc, InvalidPaymentMethod):
            raise
        raise PaymentFailed() from exc
    if result.status == "declined":
        _fail(
            purchase.pk,
            state=PaymentState.DECLINED,
            message=result.message,
            ref=result.provider_ref,
        )
        raise PaymentDeclined(result.message or None)
    if result.status == "failed":
        _fail(purchase.pk, message=result.message, ref=result.provider_ref)
        raise PaymentFailed()
    state = PaymentState.PENDING if result.status == "pending" else PaymentState.AUTHORIZED
    CoinPurchase.objects.filter(pk=purchase.pk, payment_state=PaymentState.NONE).update(
        payment_ref=result.provider_ref, payment_state=state, payment_message=result.message[:200]
    )
    if state == PaymentState.AUTHORIZED:
        coin_purchase_capture(purchase_id=purchase.pk)
    return purchase


def coin_purchase_capture(*, purchase_id: int) -> bool:
    """Capture an authorized purchase's payment and credit its coins. Safe to run twice
    (the provider call is idempotent on its key; marking paid is a compare-and-set). A
    purchase failed meanwhile gets its authorization voided instead. The caller holds no
    transaction."""
    purchase = CoinPurchase.objects.filter(pk=purchase_id).first()
    if purchase is None or purchase.payment_state != PaymentState.AUTHORIZED:
        return False
    if purchase.status != Status.PENDING_PAYMENT:
        if purchase.status == Status.FAILED:
            coin_purchase_void(purchase_id=purchase.pk)
        return False
    result = get_provider(purchase.payment_provider).capture(
        provider_ref=purchase.payment_ref,
        amount_minor=purchase.price_minor,
        idempotency_key=f"coins:{purchase.pk}:capture",
    )
    if not result.succeeded:
        log.warning("capture of coin purchase %s answered %s", purchase.pk, result.status)
        return False
    return coin_purchase_mark_paid(purchase_id=purchase.pk)


def coin_purchase_mark_paid(*, purchase_id: int) -> bool:
    """The payment is captured: pending_payment → paid and the coins posted to the wallet,
    in one transaction. Returns whether this call made the change (a second call, or a
    webhook arriving twice, credits nothing more). The caller holds no transaction."""
    with transaction.atomic():
        CoinPurchase.objects.filter(pk=purchase_id).update(payment_state=PaymentState.CAPTURED)
        changed = CoinPurchase.objects.filter(pk=purchase_id, status=Status.PENDING_PAYMENT).update(
            status=Status.PAID, paid_at=timezone.now()
        )
        if changed:
            _post_paid(CoinPurchase.objects.select_related("buyer").get(pk=purchase_id))
    if not changed:
        purchase = CoinPurchase.objects.get(pk=purchase_id)
        if purchase.status == Status.FAILED:
            # Failed meanwhile (its payment_failed webhook won the race): no coins were
            # credited, so the captured money goes back.
            _refund_late_capture(purchase)
    return bool(changed)


def _refund_late_capture(purchase: CoinPurchase) -> None:
    result = get_provider(purchase.payment_provider).refund(
        provider_ref=purchase.payment_ref,
        amount_minor=purchase.price_minor,
        idempotency_key=f"coins:{purchase.pk}:refund:late-capture",
    )
    if not result.succeeded:
        log.warning("refund of coin purchase %s answered %s", purchase.pk, result.status)


def coin_purchase_void(*, purchase_id: int) -> None:
    """Release the authorization of a purchase that failed meanwhile: no money stays
    with Tapbuy for coins that were never credited."""
    purchase = CoinPurchase.objects.get(pk=purchase_id)
    if not purchase.payment_ref or purchase.payment_state not in (
        PaymentState.PENDING,
        PaymentState.AUTHORIZED,
    ):
        return
    try:
        get_provider(purchase.payment_provider).void(
            provider_ref=purchase.payment_ref, idempotency_key=f"coins:{purchase.pk}:void"
        )
    except DomainError:
        log.warning("could not void the payment of coin purchase %s", purchase.pk, exc_info=True)
        return
    CoinPurchase.objects.filter(pk=purchase.pk).update(payment_state=PaymentState.VOIDED)


def _post_paid(purchase: CoinPurchase) -> None:
    """One balanced transaction, two units: the coins leave the platform's issue account
    for the wallet; the price leaves the outside world for the platform's coin sales."""
    currency = purchase.currency
    ledger_post(
        kind="coins.purchased",
        key=f"coins:{purchase.pk}:paid",
        memo=f"{purchase.coins} coins",
        lines=[
            Line(_issued_account(), -purchase.coins),
            Line(wallet_account(user=purchase.buyer), purchase.coins),
            Line(_external_account(purchase.payment_provider, currency), -purchase.price_minor),
            Line(_sales_account(currency), purchase.price_minor),
        ],
    )


def coin_purchase_refund(*, purchase_id: int, actor: User) -> CoinPurchase:
    """Refund a coin purchase (staff): its coins leave the wallet first, in one transaction
    with the reverse posting (a guarded debit: coins already spent cannot be taken back,
    CoinsAlreadySpent, and then nothing is refunded); then, with no transaction open, the
    money goes back to the card under the key coins:<id>:refund. Coins bought with
    refunded money can never be spent twice. Safe to run again after a failed refund: a
    REFUNDING purchase only retries the provider call."""
    if not staff_can(actor, "refund_order"):
        raise NotAllowed("Only finance staff refund coin purchases.")
    purchase = CoinPurchase.objects.select_related("buyer").filter(pk=purchase_id).first()
    if purchase is None:
        raise CoinPackNotFound("No such coin purchase.")
    if purchase.status == Status.PAID:
        currency = purchase.currency
        try:
            with transaction.atomic():
                if not CoinPurchase.objects.filter(pk=purchase.pk, status=Status.PAID).update(
                    status=Status.REFUNDING
                ):
                    raise CoinRefundNotAllowed()
                ledger_post(
                    kind="coins.refunded",
                    key=f"coins:{purchase.pk}:refunded",
                    memo=f"{purchase.coins} coins refunded",
                    lines=[
                        Line(wallet_account(user=purchase.buyer), -purchase.coins),
                        Line(_issued_account(), purchase.coins),
                        Line(_sales_account(currency), -purchase.price_minor),
                        Line(
                            _external_account(purchase.payment_provider, currency),
                            purchase.price_minor,
                        ),
                    ],
                )
        except InsufficientFunds:
            raise CoinsAlreadySpent() from None
        purchase.status = Status.REFUNDING
    if purchase.status != Status.REFUNDING:
        raise CoinRefundNotAllowed()
    result = get_provider(purchase.payment_provider).refund(
        provider_ref=purchase.payment_ref,
        amount_minor=purchase.price_minor,
        idempotency_key=f"coins:{purchase.pk}:refund",
    )
    if not result.succeeded:
        raise PaymentFailed("The refund could not be processed; run it again.")
    CoinPurchase.objects.filter(pk=purchase.pk, status=Status.REFUNDING).update(
        status=Status.REFUNDED, payment_state=PaymentState.REFUNDED
    )
    purchase.refresh_from_db()
    return purchase


def coin_purchases_release_unpaid(*, now=None, limit: int = 500) -> int:
    """Fail the coin purchases still waiting for their payment GIFTING_PAYMENT_TIMEOUT_SECONDS
    after they were made (a delayed card whose webhook never came) and void that payment;
    no coins are credited. Celery beat runs it every minute. Returns how many it failed.

    A purchase whose payment was authorized but whose capture was interrupted is captured
    instead, as the buyer paid. Safe to run twice and beside the webhook: each release is
    a compare-and-set, and a success arriving after it is voided by the receiver (or
    refunded by coin_purchase_mark_paid if it was captured). The caller holds no
    transaction: voids and captures go over the network."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.GIFTING_PAYMENT_TIMEOUT_SECONDS)
    due = CoinPurchase.objects.filter(
        status=Status.PENDING_PAYMENT, created_at__lte=cutoff
    ).order_by("created_at", "pk")
    released = 0
    for purchase_id, state in due.values_list("pk", "payment_state")[:limit]:
        try:
            if state == PaymentState.AUTHORIZED:
                coin_purchase_capture(purchase_id=purchase_id)
                continue
            # The payment state is in the compare-and-set too: a webhook that authorized
            # the payment since the read above has scheduled its capture, which wins.
            if not CoinPurchase.objects.filter(
                pk=purchase_id,
                status=Status.PENDING_PAYMENT,
                payment_state__in=[PaymentState.NONE, PaymentState.PENDING],
            ).update(status=Status.FAILED, payment_message="The payment did not complete in time."):
                continue  # paid, failed or authorized meanwhile
            released += 1
            coin_purchase_void(purchase_id=purchase_id)
        except (DomainError, OSError):
            # One payment the provider will not handle now must not hold up the others
            # behind it. A capture is tried again by the next run; a void left undone is
            # done by the receiver if the payment's success ever arrives.
            log.warning("releasing coin purchase %s failed", purchase_id, exc_info=True)
    return released


# --- the gift catalog ---------------------------------------------------------------------


def gift_image_clean(*, upload) -> ContentFile:
    """A gift's uploaded picture checked and re-encoded: a square WebP of at most 256 px,
    without metadata. Raises accounts' InvalidImage with a message fit for staff."""
    (rendition,) = image_renditions(
        upload=upload,
        widths=(GIFT_IMAGE_SIZE,),
        max_bytes=GIFT_IMAGE_MAX_BYTES,
        max_pixels=40_000_000,
        square=True,
    )
    name = (getattr(upload, "name", "") or "gift").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return ContentFile(rendition.content.read(), name=f"{name[:40] or 'gift'}.webp")


# --- sending gifts ---------------------------------------------------------------------------


def _check_send_input(quantity, idempotency_key, gift_id) -> None:
    fields = {}
    maximum = settings.GIFTING_MAX_QUANTITY
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= maximum:
        fields["quantity"] = [f"A whole number from 1 to {maximum:,}."]
    if isinstance(gift_id, bool) or not isinstance(gift_id, int):
        fields["gift"] = ["A gift's id."]
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= 120:
        fields["idempotency_key"] = ["An idempotency key of 1 to 120 characters."]
    if fields:
        raise InvalidGift(fields=fields)


def gift_send(
    *, sender: User, stream_id: int, gift_id: int, quantity: int, idempotency_key: str
) -> GiftSend:
    """Debit the sender's coins and credit the host's earnings in one transaction
    (gifting.sends, where sends made at the same moment are batched). Publishes gift.sent
    after commit. The caller holds no locks.

    The host earns GIFTING_CREATOR_SHARE_BP of the coins' value (rounded down), the
    platform the rest. The same idempotency_key returns the first send, whatever happened
    since. Raises InvalidGift (quantity, gift or key malformed), GiftNotFound (unknown or
    inactive gift), LiveNotFound, StreamNotLive (the live is not on air), GiftToSelf (the
    host's own live) and NotEnoughCoins (nothing is debited or recorded)."""
    _check_send_input(quantity, idempotency_key, gift_id)
    return sends.send(
        sends.SendRequest(
            sender=sender,
            stream_id=stream_id,
            gift_id=gift_id,
            quantity=quantity,
            key=idempotency_key,
        )
    )
