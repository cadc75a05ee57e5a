"""Idempotency keys for money-moving requests.

The first request with a key claims it (a committed row holding the request's
fingerprint), does its work and stores its answer. A retry with the same key and body gets
the stored answer; one arriving while the first is still working waits for it (briefly)
and gets the same answer; the same key with another body gets 409. The business rows carry
their own unique constraints (an order per key) as the last guard.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from config.errors import DomainError, error_body

from .errors import IdempotencyInProgress, IdempotencyKeyRequired, IdempotencyKeyReused
from .ledger_models import IdempotencyKey

HEADER = "Idempotency-Key"
WAIT_SECONDS = 10.0
# A claim older than this whose request never stored an answer (its process died) may be
# taken over by a retry; the business rows' unique constraints keep the work from being
# done twice.
STALE_AFTER = timedelta(minutes=2)


def fingerprint(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str | None) -> str:
    key = (key or "").strip()
    if not key or len(key) > 100 or not key.isprintable():
        raise IdempotencyKeyRequired()
    return key


def _claim(user: User, scope: str, key: str, print_: str) -> IdempotencyKey | None:
    """Claim the key (returns None), or return the existing row."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(user=user, scope=scope, key=key, fingerprint=print_)
        return None
    except IntegrityError:
        return IdempotencyKey.objects.get(user=user, scope=scope, key=key)


def idempotent(
    *, user: User, scope: str, key: str, payload, action: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Run action() once per (user, scope, key) and return (status, body), stored.
    The caller holds no transaction: the claim commits before the work starts, so that a
    concurrent duplicate sees it."""
    key = validate_key(key)
    print_ = fingerprint(payload)
    existing = _claim(user, scope, key, print_)
    deadline = time.monotonic() + WAIT_SECONDS
    while existing is not None:
        if existing.fingerprint != print_:
            raise IdempotencyKeyReused()
        if existing.state == IdempotencyKey.State.DONE:
            return existing.response_status, existing.response_body
        if existing.updated_at < timezone.now() - STALE_AFTER:
            taken = IdempotencyKey.objects.filter(
                pk=existing.pk,
                state=IdempotencyKey.State.IN_PROGRESS,
                updated_at=existing.updated_at,
            ).update(updated_at=timezone.now())
            if taken:
                break
        if time.monotonic() > deadline:
            raise IdempotencyInProgress()
        time.sleep(0.05)
        existing.refresh_from_db()
    try:
        status, body = action()
    except DomainError as exc:
        # A refusal is an answer too: the same request retried is refused the same way.
        status, body = exc.status, error_body(exc.code, exc.message, exc.fields)
    except BaseException:
        # Nothing was decided: free the key so that the client can retry.
        _on_a_working_connection(
            lambda: IdempotencyKey.objects.filter(
                user=user, scope=scope, key=key, state=IdempotencyKey.State.IN_PROGRESS
            ).delete()
        )
        raise
    _on_a_working_connection(
        lambda: IdempotencyKey.objects.filter(user=user, scope=scope, key=key).update(
            state=IdempotencyKey.State.DONE,
            response_status=status,
            response_body=body,
        )
    )
    return status, body


def _on_a_working_connection(write: Callable[[], object]) -> None:
    """Run write(); if the database connection broke under the work (its backend
    terminated, the server restarted), run it once more on a new connection. Without that
    the claim would stay in progress until it goes stale (STALE_AFTER), and every retry of
    the request in between would be refused as still running."""
    try:
        write()
    except DatabaseError:
        if connection.in_atomic_block or connection.is_usable():
            raise
        connection.close()
        write()


def idempotent_response(request, *, scope: str, action: Callable[[], tuple[int, dict]]):
    """For DRF views: the Idempotency-Key header is required; the answer is a Response."""
    from rest_framework.response import Response

    status, body = idempotent(
        user=request.user,
        scope=scope,
        key=request.headers.get(HEADER),
        payload=request.data,
        action=action,
    )
    return Response(body, status=status)


def idempotency_keys_purge(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Forget answered keys after a week (clients retry within minutes)."""
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=timezone.now() - older_than, state=IdempotencyKey.State.DONE
    ).delete()
    return deleted
