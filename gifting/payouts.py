"""Payouts: a host is paid some of their settled gift earnings.

The path of a payout:

1. payout_request (the host): one transaction creates the Payout and posts
   `payout:<id>:hold`, settled earnings → payout hold. The debit of the settled account is
   ledger_post's conditional UPDATE (never below zero): two requests racing for the same
   balance cannot both take it, and the loser gets NotEnoughEarnings with nothing written.
2. payout_approve / payout_reject (staff): a compare-and-set from requested. Approving
   enqueues gifting.payout_execute after commit; rejecting posts `payout:<id>:release`,
   hold → settled, in the same transaction.
3. payout_execute (the task): claims the payout (approved → sending, a compare-and-set),
   then, with no transaction open, asks the provider to pay under the key `payout:<id>`, so
   a retry or a second worker gets the first transfer's answer and never pays twice. A
   compare-and-set from sending records the outcome once: paid posts `payout:<id>:paid`,
   hold → the outside world; failed posts `payout:<id>:release`, the money back in the
   settled balance.

A worker killed after the provider paid leaves the payout in sending; running the task
again asks the provider again with the same key, gets the same answer and finishes it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.permissions import staff_can
from config.errors import DomainError, NotAllowed
from outbox.services import task_enqueue
from payments.errors import InsufficientFunds
from payments.ledger import Line, account_get, ledger_post
from payments.ledger_models import LedgerAccount
from payments.money import format_money
from payments.providers import get_provider

from .errors import InvalidPayout, NotEnoughEarnings, PayoutNotFound, PayoutStateConflict
from .models import Payout
from .settlement import settled_account

Status = Payout.Status
MAX_DESTINATION = 40
MAX_KEY = 120


# --- errors (the API's error shape through config.errors) ---------------------------------


def hold_account(*, creator_id: int, currency: str) -> LedgerAccount:
    """What a host asked to be paid and was not yet: out of the settled balance, not yet
    sent. Its cached balance guards the release and the payment: never below zero."""
    return account_get(
        code=f"earnings:payout-hold:user:{creator_id}:{currency}",
        kind=LedgerAccount.Kind.EARNINGS,
        unit=currency,
        owner=User(pk=creator_id),
        allow_negative=False,
        track_balance=True,
    )


def _external_account(provider: str, currency: str) -> LedgerAccount:
    # The outside world: credited by every payout sent through this provider. Every paid
    # payout posts to it, so it keeps no cached balance (no row that all of them lock).
    return account_get(
        code=f"external:payouts:{provider}:{currency}",
        kind=LedgerAccount.Kind.EXTERNAL,
        unit=currency,
        allow_negative=True,
        track_balance=False,
    )


def _move(payout: Payout, *, step: str, kind: str, to_settled: bool) -> None:
    """Post the hold back to the settled balance (to_settled) or, for a paid payout, out
    to the provider. Runs in the caller's transaction, keyed payout:<id>:<step>."""
    hold = hold_account(creator_id=payout.creator_id, currency=payout.currency)
    if to_settled:
        target = settled_account(creator_id=payout.creator_id, currency=payout.currency)
    else:
        target = _external_account(payout.provider, payout.currency)
    ledger_post(
        kind=kind,
        key=f"payout:{payout.pk}:{step}",
        lines=[Line(hold, -payout.amount_minor), Line(target, payout.amount_minor)],
        memo=f"Payout {payout.pk}",
    )


# --- reading -------------------------------------------------------------------------------


def _check_request(amount_minor, destination, idempotency_key) -> None:
    errors: dict[str, list[str]] = {}
    minimum = settings.GIFTING_PAYOUT_MINIMUM_MINOR
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        errors["amount"] = ["The amount is a whole number of minor units (cents)."]
    elif amount_minor < minimum:
        minimum_shown = format_money(minimum, settings.TAPBUY_CURRENCY)
        errors["amount"] = [f"The smallest payout is {minimum_shown}."]
    if (
        not isinstance(destination, str)
        or not 1 <= len(destination.strip()) <= MAX_DESTINATION
        or not destination.isprintable()
    ):
        errors["destination"] = [
            f"A payout account reference of 1 to {MAX_DESTINATION} characters."
        ]
    if (
        not isinstance(idempotency_key, str)
        or not 1 <= len(idempotency_key) <= MAX_KEY
        or not idempotency_key.isprintable()
    ):
        errors["idempotency_key"] = [f"1 to {MAX_KEY} printable characters."]
    if errors:
        raise InvalidPayout(fields=errors)


def payout_request(
    *, creator: User, amount_minor: int, destination: str, idempotency_key: str
) -> Payout:
    """Hold amount_minor of the host's settled earnings for a payout to destination, in
    one transaction. The same key returns the first payout. Raises InvalidPayout (below
    the minimum, bad input) or NotEnoughEarnings (nothing written). The caller holds no
    transaction."""
    _check_request(amount_minor, destination, idempotency_key)
    existing = Payout.objects.filter(creator=creator, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    currency = settings.TAPBUY_CURRENCY
    try:
        with transaction.atomic():
            payout = Payout.objects.create(
                creator=creator,
                amount_minor=amount_minor,
                currency=currency,
                destination=destination.strip(),
                idempotency_key=idempotency_key,
            )
            hold = hold_account(creator_id=creator.pk, currency=currency)
            settled = settled_account(creator_id=creator.pk, currency=currency)
            # The guarded debit: a conditional UPDATE of the settled balance, so that two
            # requests at once can never together hold more than was settled.
            ledger_post(
                kind="payout.requested",
                key=f"payout:{payout.pk}:hold",
                lines=[Line(settled, -amount_minor), Line(hold, amount_minor)],
                memo=f"Payout {payout.pk} requested",
            )
    except InsufficientFunds:
        raise NotEnoughEarnings() from None
    except IntegrityError:
        # The same key in a concurrent request that committed first: its payout is ours.
        existing = Payout.objects.filter(creator=creator, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    return payout


def _check_staff(actor: User) -> None:
    if not staff_can(actor, "decide_payout"):
        raise NotAllowed("Only finance staff decide on payouts.")


def _decide(*, payout_id: int, actor: User, reason: str, to: str) -> bool:
    """Compare-and-set requested → to. False when the payout is no longer requested."""
    return bool(
        Payout.objects.filter(pk=payout_id, status=Status.REQUESTED).update(
            status=to, decided_by=actor, decided_at=timezone.now(), reason=(reason or "")[:200]
        )
    )


def _refused(payout_id: int, action: str) -> DomainError:
    payout = Payout.objects.filter(pk=payout_id).first()
    if payout is None:
        return PayoutNotFound()
    return PayoutStateConflict(
        f"Only a requested payout can be {action}; this one is {payout.status}."
    )


def payout_approve(*, payout_id: int, actor: User, reason: str = "") -> Payout:
    """Staff approve a requested payout; gifting.payout_execute is enqueued after commit.
    Raises NotAllowed for non-staff, PayoutStateConflict if it was decided already."""
    _check_staff(actor)
    with transaction.atomic():
        if not _decide(payout_id=payout_id, actor=actor, reason=reason, to=Status.APPROVED):
            raise _refused(payout_id, "approved")
        # Through the outbox: sent at once after commit, or by the relay if the broker is
        # down then (payouts_sweep remains for a task that ran out of retries).
        task_enqueue(task="gifting.payout_execute", kwargs={"payout_id": payout_id})
    return Payout.objects.get(pk=payout_id)


def payout_reject(*, payout_id: int, actor: User, reason: str = "") -> Payout:
    """Staff reject a requested payout: the held money returns to the settled balance in
    the same transaction. Raises NotAllowed for non-staff, PayoutStateConflict if it was
    decided already."""
    _check_staff(actor)
    with transaction.atomic():
        if not _decide(payout_id=payout_id, actor=actor, reason=reason, to=Status.REJECTED):
            raise _refused(payout_id, "rejected")
        payout = Payout.objects.get(pk=payout_id)
        _move(payout, step="release", kind="payout.released", to_settled=True)
    return payout


def payout_execute(*, payout_id: int) -> Payout | None:
    """Send an approved payout through the provider and record the outcome once. Safe to
    run twice, concurrently and after being killed halfway: the claim is a compare-and-set,
    the provider call is idempotent on `payout:<id>`, and only one compare-and-set from
    sending records the result. Returns None for an unknown payout. The caller holds no
    transaction: the provider call may go over the network. A provider error (OSError)
    propagates, leaving the payout in sending for the task's retry."""
    claimed = Payout.objects.filter(
        pk=payout_id, status__in=[Status.APPROVED, Status.SENDING]
    ).update(status=Status.SENDING)
    payout = Payout.objects.filter(pk=payout_id).first()
    if not claimed or payout is None:
        return payout  # decided, paid or failed already: nothing to do
    provider = get_provider()
    result = provider.payout(
        amount_minor=payout.amount_minor,
        currency=payout.currency,
        destination=payout.destination,
        idempotency_key=f"payout:{payout.pk}",
    )
    if result.status == "pending":
        return payout  # the provider answers later; a rerun asks again with the same key
    paid = result.succeeded
    with transaction.atomic():
        done = Payout.objects.filter(pk=payout.pk, status=Status.SENDING).update(
            status=Status.PAID if paid else Status.FAILED,
            provider=provider.name,
            provider_ref=result.provider_ref[:100],
            failure_code="" if paid else (result.decline_code or result.status)[:40],
            paid_at=timezone.now() if paid else None,
        )
        payout.refresh_from_db()
        if done:
            if paid:
                _move(payout, step="paid", kind="payout.paid", to_settled=False)
            else:
                _move(payout, step="release", kind="payout.failed", to_settled=True)
    return payout


def payouts_stuck(*, older_than: timedelta = timedelta(minutes=15)) -> list[int]:
    """Payouts approved (or being sent) for a while without an outcome: their task was lost
    or ran out of retries. The sweep sends them again; the provider's idempotency key makes
    a payout that did go through count once."""
    return list(
        Payout.objects.filter(
            status__in=[Payout.Status.APPROVED, Payout.Status.SENDING],
            decided_at__lt=timezone.now() - older_than,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
