import threading
import time
from contextlib import contextmanager

import pytest
from django.db import connection, connections

from payments.errors import IdempotencyKeyRequired, IdempotencyKeyReused
from payments.idempotency import idempotent
from payments.ledger_models import IdempotencyKey
from shops.errors import InvalidProduct
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_retry_gets_the_stored_answer_and_the_work_runs_once():
    user = UserFactory()
    calls = []

    def action():
        calls.append(1)
        return 201, {"order": len(calls)}

    first = idempotent(user=user, scope="orders", key="k-1", payload={"a": 1}, action=action)
    again = idempotent(user=user, scope="orders", key="k-1", payload={"a": 1}, action=action)
    assert first == again == (201, {"order": 1})
    assert len(calls) == 1


def test_the_same_key_with_another_body_is_a_conflict():
    user = UserFactory()
    idempotent(user=user, scope="orders", key="k", payload={"a": 1}, action=lambda: (201, {}))
    with pytest.raises(IdempotencyKeyReused) as error:
        idempotent(user=user, scope="orders", key="k", payload={"a": 2}, action=lambda: (201, {}))
    assert error.value.status == 409


def test_keys_are_per_user_and_scope():
    alice, bob = UserFactory(), UserFactory()
    idempotent(user=alice, scope="orders", key="k", payload={}, action=lambda: (201, {"n": 1}))
    assert idempotent(
        user=bob, scope="orders", key="k", payload={}, action=lambda: (201, {"n": 2})
    ) == (201, {"n": 2})
    assert idempotent(
        user=alice, scope="coins", key="k", payload={}, action=lambda: (201, {"n": 3})
    ) == (201, {"n": 3})


@pytest.mark.parametrize("key", [None, "", "   ", "x" * 101, "bad\nkey"])
def test_a_missing_or_malformed_key_is_refused(key):
    with pytest.raises(IdempotencyKeyRequired):
        idempotent(
            user=UserFactory(), scope="orders", key=key, payload={}, action=lambda: (201, {})
        )
    assert not IdempotencyKey.objects.exists()


def test_a_refusal_is_stored_and_replayed():
    user = UserFactory()

    def refuse():
        raise InvalidProduct(fields={"quantity": ["Too many."]})

    status, body = idempotent(user=user, scope="orders", key="k", payload={}, action=refuse)
    assert status == 400 and body["error"]["fields"] == {"quantity": ["Too many."]}
    assert idempotent(user=user, scope="orders", key="k", payload={}, action=lambda: (201, {})) == (
        status,
        body,
    )


def test_a_crash_frees_the_key_for_a_retry():
    user = UserFactory()

    def crash():
        raise RuntimeError("the process died")

    with pytest.raises(RuntimeError):
        idempotent(user=user, scope="orders", key="k", payload={}, action=crash)
    assert idempotent(
        user=user, scope="orders", key="k", payload={}, action=lambda: (201, {"ok": True})
    ) == (201, {"ok": True})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("breaks", ["in the work", "after the work"])
def test_a_connection_terminated_under_the_request_frees_or_answers_the_key(breaks):
    """pg_terminate_backend on the request's connection (a failover, an operator): the
    key is freed (the work failed) or its answer stored (the work was done) on a new
    connection, so that the client's retry is not refused as in progress for minutes."""
    from payments import idempotency

    user = UserFactory()
    ran = []

    def terminate_own_backend():
        pid = connection.cursor().connection.info.backend_pid
        with connections_other() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    def work():
        ran.append(1)
        terminate_own_backend()
        if breaks == "in the work":
            connection.cursor().execute("SELECT 1")  # the work's next query fails
        return 201, {"ok": True}

    if breaks == "in the work":
        with pytest.raises(Exception):  # noqa: B017 (whichever database error psycopg gives)
            idempotency.idempotent(user=user, scope="orders", key="k", payload={}, action=work)
        assert not IdempotencyKey.objects.filter(user=user, key="k").exists()
        answer = idempotency.idempotent(
            user=user, scope="orders", key="k", payload={}, action=lambda: (201, {"again": 1})
        )
        assert answer == (201, {"again": 1})
    else:
        answer = idempotency.idempotent(user=user, scope="orders", key="k", payload={}, action=work)
        assert answer == (201, {"ok": True})
        assert IdempotencyKey.objects.get(user=user, key="k").state == "done"
        retry = idempotency.idempotent(user=user, scope="orders", key="k", payload={}, action=work)
        assert retry == (201, {"ok": True}) and ran == [1]


@contextmanager
def connections_other():
    """A cursor on a second connection to the test database."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            yield cursor
    finally:
        other.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_once_and_get_the_same_answer():
    user = UserFactory()
    calls, answers = [], []
    start = threading.Barrier(8)

    def action():
        calls.append(1)
        time.sleep(0.3)  # the work takes a while: the others arrive meanwhile
        return 201, {"order": 42}

    def post():
        try:
            start.wait()
            answers.append(
                idempotent(user=user, scope="orders", key="same", payload={"q": 1}, action=action)
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert answers == [(201, {"order": 42})] * 8
