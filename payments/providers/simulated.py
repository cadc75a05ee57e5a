"""The simulated card provider: a complete provider that runs offline, keeping its state
in its own tables (SimulatedCard, SimulatedCharge, SimulatedOperation).

Test cards, typed in the card form or given as the API's payment_method:

    4242 4242 4242 4242  pm_card_ok        succeeds
    4000 0000 0000 0002  pm_card_declined  declined (decline_code "card_declined")
    4000 0000 0000 3220  pm_card_delayed   pending; a few seconds later (a Celery task,
                                           settings.SIMULATED_WEBHOOK_DELAY) it succeeds
                                           and a signed payment.succeeded webhook is POSTed
                                           to settings.PAYMENTS_WEBHOOK_URL

Any other number that passes the checks of payments.cards succeeds; a number that fails
them is refused when tokenized. A saved card past its expiry is declined ("expired_card").

Payouts: the destination "acct_fail" fails (status "failed", decline_code "payout_failed");
any other destination (such as "acct_ok") is paid.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from payments.cards import card_expired, card_validate
from payments.errors import (
    CaptureExceedsAuthorized,
    ChargeNotFound,
    ChargeStateConflict,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidAmount,
    InvalidPaymentMethod,
    RefundExceedsCaptured,
)
from payments.money import EXPONENTS, MAX_MINOR
from payments.provider_models import Behaviour, SimulatedCard, SimulatedCharge, SimulatedOperation
from payments.webhooks import (
    SIGNATURE_HEADER,
    header_value,
    parse_event,
    sign_webhook,
    verify_signature,
    webhook_secret,
)

from .base import CardToken, PaymentProvider, ProviderResult, VerifiedEvent

logger = logging.getLogger(__name__)

TEST_CARDS = {
    "4242424242424242": Behaviour.OK,
    "4000000000000002": Behaviour.DECLINED,
    "4000000000003220": Behaviour.DELAYED,
}
TEST_PAYMENT_METHODS = {
    "pm_card_ok": Behaviour.OK,
    "pm_card_declined": Behaviour.DECLINED,
    "pm_card_delayed": Behaviour.DELAYED,
}
TOKEN_PREFIX = "pm_sim_"  # noqa: S105 (an id prefix, not a secret)
DECLINE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "expired_card": "Your card has expired.",
}
PAYOUT_FAIL_DESTINATION = "acct_fail"
PAYOUT_FAIL_MESSAGE = "The payout account refused the transfer."
PENDING_MESSAGE = "Waiting for the card issuer to confirm the payment."
MAX_KEY_LENGTH = 150
# The sweep re-sends the webhooks of delayed payments this long after they were due (their
# task was lost, or ran out of retries), and gives up on those older than WEBHOOK_GIVE_UP,
# as real providers stop retrying after a few days.
WEBHOOK_SWEEP_GRACE = timedelta(seconds=60)
WEBHOOK_GIVE_UP = timedelta(days=3)
WEBHOOK_TIMEOUT = 10


class WebhookDeliveryFailed(OSError):
    """The site could not be reached or answered with a server error: worth a retry."""


def webhook_delay() -> float:
    return float(getattr(settings, "SIMULATED_WEBHOOK_DELAY", 3))


def webhook_url() -> str:
    return getattr(settings, "PAYMENTS_WEBHOOK_URL", "") or (
        f"{settings.SITE_URL.rstrip('/')}/payments/webhooks/simulated/"
    )


def _fingerprint(kind: str, **arguments) -> str:
    canonical = json.dumps([kind, arguments], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyKeyRequired(
            f"Provider calls need an idempotency key of 1 to {MAX_KEY_LENGTH} printable characters."
        )
    return key


def _check_amount(amount_minor: int) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise InvalidAmount("The amount is an integer number of minor units (cents).")
    if not 0 < amount_minor <= MAX_MINOR:
        raise InvalidAmount("The amount must be above zero and below the sanity limit.")
    return amount_minor


def _result(operation: SimulatedOperation, provider_ref: str) -> ProviderResult:
    return ProviderResult(
        status=operation.status,
        provider_ref=provider_ref,
        amount_minor=operation.amount_minor,
        decline_code=operation.decline_code,
        message=operation.message,
    )


def _replay(key: str, fingerprint: str) -> ProviderResult | None:
    """The stored answer to an earlier call with this key, or None for a new key."""
    operation = (
        SimulatedOperation.objects.select_related("charge").filter(idempotency_key=key).first()
    )
    if operation is None:
        return None
    if operation.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This idempotency key was already used for another provider call."
        )
    return _result(operation, operation.charge.ref)


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def _schedule_webhook(charge_ref: str) -> None:
    # Imported here: payments.tasks imports this module.
    from payments.tasks import simulated_webhook

    simulated_webhook.apply_async(args=[charge_ref], countdown=webhook_delay())


class SimulatedProvider(PaymentProvider):
    name = "simulated"

    # --- payments -----------------------------------------------------------------------

    def authorize(
        self,
        *,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: dict,
    ) -> ProviderResult:
        """Authorize by the card's behaviour. A delayed card's charge stays pending and its
        webhook task is scheduled when the caller's transaction commits (nothing is sent
        for a payment that was rolled back)."""
        _check_amount(amount_minor)
        if currency not in EXPONENTS:
            raise InvalidAmount(f"Unknown currency {currency!r}.", field="currency")
        key = _check_key(idempotency_key)
        metadata = dict(metadata or {})
        fingerprint = _fingerprint(
            "authorize",
            amount_minor=amount_minor,
            currency=currency,
            payment_method=payment_method,
            metadata=metadata,
        )
        replayed = _replay(key, fingerprint)
        if replayed is not None:
            return replayed

        behaviour, decline_code = self._behaviour(payment_method)
        charge_status, result_status, message = {
            Behaviour.OK: (SimulatedCharge.Status.AUTHORIZED, "succeeded", ""),
            Behaviour.DELAYED: (SimulatedCharge.Status.PENDING, "pending", PENDING_MESSAGE),
            Behaviour.DECLINED: (
                SimulatedCharge.Status.DECLINED,
                "declined",
                DECLINE_MESSAGES.get(decline_code, ""),
            ),
        }[behaviour]
        try:
            with transaction.atomic():
                charge = SimulatedCharge.objects.create(
                    ref=_new_id("ch_sim_"),
                    status=charge_status,
                    behaviour=behaviour,
                    payment_method=payment_method,
                    currency=currency,
                    amount_minor=amount_minor,
                    decline_code=decline_code,
                    metadata=metadata,
                )
                operation = SimulatedOperation.objects.create(
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    kind=SimulatedOperation.Kind.AUTHORIZE,
                    charge=charge,
                    status=result_status,
                    amount_minor=amount_minor,
                    decline_code=decline_code,
                    message=message,
                )
                if behaviour == Behaviour.DELAYED:
                    # robust: a broker that is down must not undo a committed payment;
                    # the sweep sends the webhook later instead.
                    transaction.on_commit(partial(_schedule_webhook, charge.ref), robust=True)
        except IntegrityError:
            # The same key in a concurrent call that committed first: its answer is ours.
            replayed = _replay(key, fingerprint)
            if replayed is None:
                raise
            return replayed
        return _result(operation, charge.ref)

    def _behaviour(self, payment_method: str) -> tuple[str, str]:
        """(behaviour, decline code) of a payment method, or InvalidPaymentMethod."""
        if not isinstance(payment_method, str):
            raise InvalidPaymentMethod(repr(payment_method))
        behaviour = TEST_PAYMENT_METHODS.get(payment_method)
        if behaviour is None and payment_method.startswith(TOKEN_PREFIX):
            card = SimulatedCard.objects.filter(token=payment_method).first()
            if card is not None:
                if card_expired(exp_month=card.exp_month, exp_year=card.exp_year):
                    return Behaviour.DECLINED, "expired_card"
                behaviour = Behaviour(card.behaviour)
        if behaviour is None:
            raise InvalidPaymentMethod(payment_method)
        return behaviour, ("card_declined" if behaviour == Behaviour.DECLINED else "")

    def capture(
        self, *, provider_ref: str, amount_minor: int, idempotency_key: str
    ) -> ProviderResult:
        return self._move(
            kind=SimulatedOperation.Kind.CAPTURE,
            provider_ref=provider_ref,
            amount_minor=amount_minor,
            idempotency_key=idempotency_key,
        )

    def refund(
        self, *, provider_ref: str, amount_minor: int, idempotency_key: str
    ) -> ProviderResult:
        return self._move(
            kind=SimulatedOperation.Kind.REFUND,
            provider_ref=provider_ref,
            amount_minor=amount_minor,
            idempotency_key=idempotency_key,
        )

    def _move(self, *, kind: str, provider_ref: str, amount_minor: int, idempotency_key: str):
        """Capture or refund: one conditional UPDATE, so two concurrent captures (or
        refunds) can never together take more than the charge allows."""
        _check_amount(amount_minor)
        key = _check_key(idempotency_key)
        fingerprint = _fingerprint(kind, provider_ref=provider_ref, amount_minor=amount_minor)
        replayed = _replay(key, fingerprint)
        if replayed is not None:
            return replayed
        charge = SimulatedCharge.objects.filter(ref=provider_ref).first()
        if charge is None:
            raise ChargeNotFound(f"No payment {provider_ref!r} at the simulated provider.")
        charges = SimulatedCharge.objects.filter(pk=charge.pk)
        if kind == SimulatedOperation.Kind.CAPTURE:
            allowed = charges.filter(
                status=SimulatedCharge.Status.AUTHORIZED,
                amount_captured__lte=F("amount_minor") - amount_minor,
            )
            change = {"amount_captured": F("amount_captured") + amount_minor}
        else:
            allowed = charges.filter(amount_refunded__lte=F("amount_captured") - amount_minor)
            change = {"amount_refunded": F("amount_refunded") + amount_minor}
        try:
            with transaction.atomic():
                # The key first: a concurrent duplicate waits here for this one's commit,
                # then fails on the unique key and returns this answer.
                operation = SimulatedOperation.objects.create(
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    kind=kind,
                    charge=charge,
                    status="succeeded",
                    amount_minor=amount_minor,
                )
                if not allowed.update(**change):
                    raise self._move_refused(kind, charge.pk, amount_minor)
        except IntegrityError:
            replayed = _replay(key, fingerprint)
            if replayed is None:
                raise
            return replayed
        return _result(operation, charge.ref)

    @staticmethod
    def _move_refused(kind: str, charge_pk: int, amount_minor: int) -> Exception:
        charge = SimulatedCharge.objects.get(pk=charge_pk)
        if kind == SimulatedOperation.Kind.CAPTURE:
            if charge.status != SimulatedCharge.Status.AUTHORIZED:
                return ChargeStateConflict(
                    f"Only an authorized payment can be captured; this one is {charge.status}."
                )
            left = charge.amount_minor - charge.amount_captured
            return CaptureExceedsAuthorized(
                f"Cannot capture {amount_minor}: {left} of the {charge.amount_minor} "
                "authorized is left to capture."
            )
        left = charge.amount_captured - charge.amount_refunded
        return RefundExceedsCaptured(
            f"Cannot refund {amount_minor}: {left} of the {charge.amount_captured} "
            "captured is left to refund."
        )

    def void(self, *, provider_ref: str, idempotency_key: str) -> ProviderResult:
        """Release a pending or authorized payment of which nothing was captured (after a
        capture, refund instead)."""
        key = _check_key(idempotency_key)
        fingerprint = _fingerprint("void", provider_ref=provider_ref)
        replayed = _replay(key, fingerprint)
        if replayed is not None:
            return replayed
        charge = SimulatedCharge.objects.filter(ref=provider_ref).first()
        if charge is None:
            raise ChargeNotFound(f"No payment {provider_ref!r} at the simulated provider.")
        try:
            with transaction.atomic():
                operation = SimulatedOperation.objects.create(
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    kind=SimulatedOperation.Kind.VOID,
                    charge=charge,
                    status="succeeded",
                    amount_minor=charge.amount_minor,
                )
                # Compare-and-set: a capture landing at the same moment either comes
                # first (and this refuses) or finds the charge voided.
                voided = SimulatedCharge.objects.filter(
                    pk=charge.pk,
                    status__in=[SimulatedCharge.Status.PENDING, SimulatedCharge.Status.AUTHORIZED],
                    amount_captured=0,
                ).update(status=SimulatedCharge.Status.VOIDED)
                if not voided:
                    charge.refresh_from_db()
                    if charge.amount_captured:
                        raise ChargeStateConflict(
                            "Part of this payment was captured: refund it instead."
                        )
                    raise ChargeStateConflict(
                        f"Only a pending or authorized payment can be voided; this one is "
                        f"{charge.status}."
                    )
        except IntegrityError:
            replayed = _replay(key, fingerprint)
            if replayed is None:
                raise
            return replayed
        return _result(operation, charge.ref)

    # --- payouts ------------------------------------------------------------------------

    def payout(
        self, *, amount_minor: int, currency: str, destination: str, idempotency_key: str
    ) -> ProviderResult:
        """Pay out by the destination: "acct_fail" fails, anything else is paid. The same
        key returns the first answer (one transfer per key), like every other call here.
        The transfer is kept as a charge row of its own (ref po_sim_...) so that it is
        recorded and replayed through SimulatedOperation as the payments are."""
        _check_amount(amount_minor)
        if currency not in EXPONENTS:
            raise InvalidAmount(f"Unknown currency {currency!r}.", field="currency")
        if not isinstance(destination, str) or not 1 <= len(destination) <= 40:
            raise InvalidAmount("Unknown payout destination.", field="destination")
        key = _check_key(idempotency_key)
        fingerprint = _fingerprint(
            "payout", amount_minor=amount_minor, currency=currency, destination=destination
        )
        replayed = _replay(key, fingerprint)
        if replayed is not None:
            return replayed
        fails = destination == PAYOUT_FAIL_DESTINATION
        decline_code = "payout_failed" if fails else ""
        try:
            with transaction.atomic():
                transfer = SimulatedCharge.objects.create(
                    ref=_new_id("po_sim_"),
                    status=(
                        SimulatedCharge.Status.DECLINED
                        if fails
                        else SimulatedCharge.Status.AUTHORIZED
                    ),
                    behaviour=Behaviour.DECLINED if fails else Behaviour.OK,
                    payment_method=destination,
                    currency=currency,
                    amount_minor=amount_minor,
                    decline_code=decline_code,
                    metadata={"payout": True},
                )
                operation = SimulatedOperation.objects.create(
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    kind="payout",
                    charge=transfer,
                    status="failed" if fails else "succeeded",
                    amount_minor=amount_minor,
                    decline_code=decline_code,
                    message=PAYOUT_FAIL_MESSAGE if fails else "",
                )
        except IntegrityError:
            replayed = _replay(key, fingerprint)
            if replayed is None:
                raise
            return replayed
        return _result(operation, transfer.ref)

    # --- cards and webhooks ---------------------------------------------------------------

    def tokenize_card(self, *, number: str, exp_month: int, exp_year: int, cvc: str) -> CardToken:
        """Check the card (InvalidCard with field messages otherwise) and store a token
        with the card's behaviour, brand, last four digits and expiry. The number and
        the security code are not kept."""
        card = card_validate(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc)
        stored = SimulatedCard.objects.create(
            token=_new_id(TOKEN_PREFIX),
            behaviour=TEST_CARDS.get(card.number, Behaviour.OK),
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )
        return CardToken(
            token=stored.token,
            brand=stored.brand,
            last4=stored.last4,
            exp_month=stored.exp_month,
            exp_year=stored.exp_year,
        )

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        verify_signature(
            body=body, header=header_value(headers, SIGNATURE_HEADER), secret=webhook_secret()
        )
        return parse_event(provider=self.name, body=body)


# --- the delayed card's webhook ----------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET without its body; a webhook URL that
    # redirects is a configuration mistake to report, not to follow.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    if urlsplit(url).scheme not in {"http", "https"}:
        raise ValueError(f"PAYMENTS_WEBHOOK_URL must be http(s), not {url!r}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=WEBHOOK_TIMEOUT) as response:
            return response.status, response.read(64 * 1024)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(64 * 1024)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise WebhookDeliveryFailed(f"{url}: {getattr(error, 'reason', error)}") from error


def _error_code(answer: bytes) -> str:
    try:
        return json.loads(answer)["error"]["code"]
    except (ValueError, TypeError, KeyError):
        return ""


def simulated_event_id(charge_ref: str) -> str:
    # The same id on every delivery of a charge's webhook, so the site processes it once.
    return "evt_" + charge_ref.removeprefix("ch_")


def simulated_webhook_send(*, charge_ref: str) -> bool:
    """Settle a delayed payment (pending → authorized) and POST its signed
    payment.succeeded webhook to the site. Returns True once the site has the event (now
    or before). Raises WebhookDeliveryFailed when the site is unreachable or answers a
    server error, for the task to retry.

    Safe to run twice and concurrently: settling is a compare-and-set, and every delivery
    carries the same event id, which the site processes once (a repeat is answered
    'replayed_event', taken here as delivered). A payment voided before it settled sends
    nothing. The caller holds no transaction: the POST may take WEBHOOK_TIMEOUT."""
    delayed = SimulatedCharge.objects.filter(ref=charge_ref, behaviour=Behaviour.DELAYED)
    delayed.filter(status=SimulatedCharge.Status.PENDING).update(
        status=SimulatedCharge.Status.AUTHORIZED, settled_at=timezone.now()
    )
    charge = delayed.first()
    if charge is None or charge.status != SimulatedCharge.Status.AUTHORIZED:
        return False
    if charge.webhook_sent_at is not None:
        return True
    event = {
        "id": simulated_event_id(charge.ref),
        "type": "payment.succeeded",
        "created": int(charge.settled_at.timestamp()),
        "data": {
            "provider_ref": charge.ref,
            "amount_minor": charge.amount_minor,
            "currency": charge.currency,
        },
    }
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tapbuy-simulated-provider/1.0",
        SIGNATURE_HEADER: sign_webhook(body, webhook_secret()),
    }
    url = webhook_url()
    status, answer = _post(url, body, headers)
    if 200 <= status < 300 or (status == 400 and _error_code(answer) == "replayed_event"):
        delayed.filter(pk=charge.pk, webhook_sent_at__isnull=True).update(
            webhook_sent_at=timezone.now()
        )
        return True
    if status >= 500 or status in {408, 425, 429}:
        raise WebhookDeliveryFailed(f"{url} answered {status}")
    # Anything else (a bad signature: the secrets differ; 404: a wrong URL) will not get
    # better by retrying now; the sweep tries again later, once it may be fixed.
    logger.error(
        "simulated webhook for %s refused by %s with %s: %s",
        charge.ref,
        url,
        status,
        answer[:500].decode("utf-8", "replace"),
    )
    return False


def simulated_webhooks_due(*, now=None) -> list[str]:
    """Refs of delayed payments whose webhook should have been accepted by now and was
    not (the task was lost with a broker, or ran out of retries)."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=webhook_delay()) - WEBHOOK_SWEEP_GRACE
    return list(
        SimulatedCharge.objects.filter(
            behaviour=Behaviour.DELAYED,
            webhook_sent_at__isnull=True,
            status__in=[SimulatedCharge.Status.PENDING, SimulatedCharge.Status.AUTHORIZED],
            created_at__lt=overdue,
            created_at__gte=now - WEBHOOK_GIVE_UP,
        )
        .order_by("created_at")
        .values_list("ref", flat=True)[:1000]
    )
