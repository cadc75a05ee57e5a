"""Signed webhooks, Stripe style.

A provider POSTs an event to /payments/webhooks/<provider>/ with the header

    Tapbuy-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]

where each v1 is HMAC-SHA256 of f"{t}.{raw body}" with settings.PAYMENTS_WEBHOOK_SECRET
(several during a secret rotation). An event is processed once: it is recorded as a
WebhookEvent row, unique per (provider, event id), in the same transaction as what its
receivers write. A bad signature, a timestamp more than TOLERANCE_SECONDS from now, a
malformed event and a replayed event id are refused with 400 and change nothing.

Event body:
    {"id": "evt_…", "type": "payment.succeeded", "created": <unix>,
     "data": {"provider_ref": "ch_…", "amount_minor": 1999, "currency": "USD"}}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.errors import DomainError, error_body

from .errors import (
    WebhookMalformed,
    WebhookReplayed,
    WebhookSignatureInvalid,
    WebhookTimestampOutOfTolerance,
)
from .money import EXPONENTS, MAX_MINOR
from .provider_models import WebhookEvent
from .providers import VerifiedEvent, get_provider
from .signals import payment_failed, payment_succeeded

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Tapbuy-Signature"
TOLERANCE_SECONDS = 300
SCHEME = "v1"
MAX_SIGNATURE_HEADER = 2048

# Event types with a signal; others are recorded (so a replay is still refused) and
# acknowledged, as providers expect for events an endpoint does not act on.
EVENT_SIGNALS = {
    "payment.succeeded": payment_succeeded,
    "payment.failed": payment_failed,
}


def webhook_secret() -> str:
    secret = getattr(settings, "PAYMENTS_WEBHOOK_SECRET", "")
    if not secret:
        raise ImproperlyConfigured("PAYMENTS_WEBHOOK_SECRET is not set.")
    return secret


def _signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_webhook(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Tapbuy-Signature header value for body: 't=<unix>,v1=<hex>'."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},{SCHEME}={_signature(body, secret, timestamp)}"


def _parse_header(header: str) -> tuple[int, list[str]]:
    if not header or len(header) > MAX_SIGNATURE_HEADER:
        raise WebhookSignatureInvalid(f"The {SIGNATURE_HEADER} header is missing.")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookSignatureInvalid(f"The {SIGNATURE_HEADER} header is malformed.")
        if key == "t":
            timestamps.append(value.strip())
        elif key == SCHEME:
            signatures.append(value.strip())
        # Other schemes (v0, a future v2) are ignored, as Stripe's libraries do.
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not timestamps[0].isascii():
        raise WebhookSignatureInvalid(f"The {SIGNATURE_HEADER} header needs one t=<unix time>.")
    if not signatures:
        raise WebhookSignatureInvalid(f"The {SIGNATURE_HEADER} header has no {SCHEME} signature.")
    return int(timestamps[0]), signatures


def verify_signature(
    *,
    body: bytes,
    header: str,
    secret: str,
    tolerance: int = TOLERANCE_SECONDS,
    now: int | None = None,
) -> int:
    """Check header against body; return its timestamp. Raises WebhookSignatureInvalid or
    WebhookTimestampOutOfTolerance. The timestamp is signed too, so the tolerance bounds
    how long a captured request could be replayed (and the event id refuses it within)."""
    timestamp, signatures = _parse_header(header)
    expected = _signature(body, secret, timestamp)
    # compare_digest takes the same time wherever the strings differ, so the response
    # time tells an attacker nothing about how much of a forged signature was right.
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookSignatureInvalid("The signature does not match the body.")
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > tolerance:
        raise WebhookTimestampOutOfTolerance()
    return timestamp


def parse_event(*, provider: str, body: bytes) -> VerifiedEvent:
    """The event in a (verified) body. Raises WebhookMalformed, with the fields at fault."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookMalformed("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise WebhookMalformed("The body is not a JSON object.")
    errors: dict[str, list[str]] = {}
    event_id, event_type = payload.get("id"), payload.get("type")
    created, data = payload.get("created"), payload.get("data")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100:
        errors["id"] = ["A string of 1 to 100 characters."]
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 60:
        errors["type"] = ["A string of 1 to 60 characters."]
    if isinstance(created, bool) or not isinstance(created, int):
        errors["created"] = ["A unix time."]
    if not isinstance(data, dict):
        errors["data"] = ["An object."]
    elif event_type in EVENT_SIGNALS:
        errors.update(_payment_data_errors(data))
    if errors:
        raise WebhookMalformed(fields=errors)
    return VerifiedEvent(
        provider=provider, id=event_id, type=event_type, created=created, data=data
    )


def _payment_data_errors(data: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    ref, amount, currency = data.get("provider_ref"), data.get("amount_minor"), data.get("currency")
    if not isinstance(ref, str) or not 1 <= len(ref) <= 100:
        errors["data.provider_ref"] = ["A string of 1 to 100 characters."]
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_MINOR:
        errors["data.amount_minor"] = ["A non-negative integer in minor units."]
    if currency not in EXPONENTS:
        errors["data.currency"] = ["A currency code Tapbuy accepts."]
    return errors


def webhook_process(*, event: VerifiedEvent) -> WebhookEvent:
    """Record a verified event and send its signal, in one transaction: receivers' writes
    commit with the record, and a receiver that raises rolls both back so that the
    provider's next delivery is processed afresh. Raises WebhookReplayed for an event id
    already processed. The caller holds no transaction."""
    with transaction.atomic():
        try:
            # A savepoint of its own, so that the IntegrityError of a duplicate leaves the
            # outer transaction usable. Two deliveries at once: PostgreSQL makes the second
            # insert wait for the first's commit and then fail, so one of them wins.
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    provider=event.provider,
                    event_id=event.id,
                    type=event.type,
                    payload={
                        "id": event.id,
                        "type": event.type,
                        "created": event.created,
                        "data": dict(event.data),
                    },
                )
        except IntegrityError:
            raise WebhookReplayed() from None
        signal = EVENT_SIGNALS.get(event.type)
        if signal is not None:
            details = {
                "provider_ref": event.data["provider_ref"],
                "amount_minor": event.data["amount_minor"],
                "currency": event.data["currency"],
                "event_id": event.id,
            }
            if signal is payment_failed:
                details["decline_code"] = str(event.data.get("decline_code", ""))
            signal.send(sender=event.provider, **details)
    return record


def _refuse(error: DomainError) -> JsonResponse:
    return JsonResponse(error_body(error.code, error.message, error.fields), status=error.status)


@csrf_exempt  # authenticated by its signature; the provider has no CSRF token
@require_POST
def webhook_receive(request: HttpRequest, provider: str) -> JsonResponse:
    try:
        body = request.body  # the raw bytes: the signature is over exactly these
    except RequestDataTooBig:
        return _refuse(WebhookMalformed("The body is too large."))
    try:
        event = get_provider(provider).verify_webhook(body=body, headers=request.headers)
        webhook_process(event=event)
    except DomainError as error:
        if isinstance(error, WebhookReplayed | WebhookSignatureInvalid):
            logger.warning("webhook refused (%s) from %s", error.code, provider)
        return _refuse(error)
    return JsonResponse({"received": True, "id": event.id})


def header_value(headers: Mapping[str, str], name: str) -> str:
    """headers[name] whatever its case (request.headers is case-insensitive; a plain dict
    from a test or a queue is not)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value or ""
