"""Hand Celery tasks to the broker through the outbox (outbox.models.OutboxTask).

`task_enqueue` writes the row inside the caller's transaction; after commit one attempt
sends it at once, and `outbox_relay` (beat, every few seconds) sends whatever that attempt
could not: the broker was down, or the process died between the commit and the send. A row
is marked sent only after the broker took it, so a task can be sent twice (a relay killed
between the two) but never lost: every task sent this way must be safe to run twice, which
is the rule for every task here (STYLE.md, "Celery")."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from celery import current_app
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import OutboxTask

log = logging.getLogger(__name__)

# A claimed row is taken again after this: its relay died before it could send or fail.
LEASE = timedelta(seconds=60)
# After a failed send the row waits 1, 2, 4 ... seconds, at most this long.
BACKOFF_MAX_SECONDS = 120
# Sent rows are kept this long for inspection, then deleted by the relay.
KEEP_SENT = timedelta(days=1)
# One quick retry while publishing: a broker that is down must not hold the request (or
# the relay) for long; the relay tries again later.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def task_enqueue(*, task: str, kwargs: dict) -> OutboxTask:
    """Have the Celery task named `task` run with `kwargs` (JSON values) once the current
    transaction commits, even if the broker is unreachable at that moment. Call it inside
    the transaction of the state change that calls for the task: the row commits or rolls
    back with it (outside a transaction it commits at once). The task may run more than
    once and must be idempotent."""
    row = OutboxTask.objects.create(task=task, kwargs=kwargs)
    transaction.on_commit(partial(_send, row.pk), robust=True)
    return row


SENT, SKIPPED, FAILED = "sent", "skipped", "failed"


def _send(outbox_id: int) -> str:
    """Hand one due, unsent row to the broker and mark it sent. The caller holds no
    transaction (the publish is network I/O)."""
    # Claiming first (a compare-and-set on available_at) keeps the after-commit attempt and
    # the relay, or two relays, from both sending the row.
    now = timezone.now()
    claimed = OutboxTask.objects.filter(
        pk=outbox_id, sent_at__isnull=True, available_at__lte=now
    ).update(available_at=now + LEASE, attempts=F("attempts") + 1)
    if not claimed:
        return SKIPPED
    row = OutboxTask.objects.only("task", "kwargs", "attempts").get(pk=outbox_id)
    try:
        current_app.send_task(row.task, kwargs=row.kwargs, retry=True, retry_policy=PUBLISH_RETRY)
    except Exception as exc:  # the broker's errors vary with the transport
        wait = min(2 ** (row.attempts - 1), BACKOFF_MAX_SECONDS)
        OutboxTask.objects.filter(pk=outbox_id, sent_at__isnull=True).update(
            available_at=timezone.now() + timedelta(seconds=wait),
            last_error=f"{type(exc).__name__}: {exc}"[:300],
        )
        log.warning("outbox: could not send %s (%s): %s", row.task, outbox_id, exc)
        return FAILED
    OutboxTask.objects.filter(pk=outbox_id).update(sent_at=timezone.now(), last_error="")
    return SENT


def outbox_relay(*, limit: int = 500) -> int:
    """Send the unsent rows that are due, oldest first; stop at the first that fails (the
    broker is down: the rest wait for the next run). Returns how many were sent. Safe to
    run twice and beside itself (each row is claimed before it is sent)."""
    due = list(
        OutboxTask.objects.filter(sent_at__isnull=True, available_at__lte=timezone.now())
        .order_by("available_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for outbox_id in due:
        outcome = _send(outbox_id)
        if outcome == FAILED:
            break
        sent += outcome == SENT
    old = OutboxTask.objects.filter(sent_at__lt=timezone.now() - KEEP_SENT).values_list(
        "pk", flat=True
    )[:limit]
    OutboxTask.objects.filter(pk__in=list(old)).delete()
    return sent


def outbox_pending() -> int:
    """Rows not yet handed to the broker (for the health check and the chaos checker)."""
    return OutboxTask.objects.filter(sent_at__isnull=True).count()
