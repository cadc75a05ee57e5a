"""Work enqueued after an order is paid survives a broker that is down at the commit: the
task goes through the outbox (outbox.services.task_enqueue), written in the payment's
transaction, and the relay sends it once the broker is back. No mock: the broker that is
down is a Redis URL on a closed port, the one that is back is this configuration's own,
and a real worker runs the task."""

import contextlib
import time
from datetime import timedelta

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from config.celery import app
from orders import services
from orders.models import OrderEvent
from outbox.models import OutboxTask
from outbox.services import outbox_relay
from tests.conftest import ON_REDIS, free_port
from tests.orders.conftest import variant_of


@contextlib.contextmanager
def broker_down():
    """While inside, Celery publishes to a broker nothing listens on (connection refused),
    as it does when Redis is down; afterwards to this configuration's broker again."""
    down = Celery("broker-down", set_as_current=False)
    down.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    down.conf.broker_connection_timeout = 1
    down.set_current()
    try:
        yield
    finally:
        app.set_current()
        down.close()


def _wait_for(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_paid_order_is_not_held_by_a_broker_that_is_down(buyer, shirt, key):
    with broker_down():
        started = time.monotonic()
        (order,) = services.order_place(
            buyer=buyer,
            items=[{"variant": variant_of(shirt).pk, "quantity": 1}],
            checkout_key=key(),
        )
        took = time.monotonic() - started
    assert order.status == "paid"
    assert took < 5, f"checkout waited {took:.1f} s for the broker"
    row = OutboxTask.objects.get(task="orders.emails")
    assert row.kwargs == {"order_id": order.pk, "what": "paid"}
    assert row.sent_at is None and row.attempts == 1 and row.last_error
    # Not due yet (it backs off), so a relay right away leaves it.
    assert outbox_relay() == 0


@pytest.mark.django_db(transaction=True)
def test_relay_sends_each_row_once(buyer, shirt, key):
    with broker_down():
        for _ in range(3):
            services.order_place(
                buyer=buyer,
                items=[{"variant": variant_of(shirt).pk, "quantity": 1}],
                checkout_key=key(),
            )
        assert outbox_relay() == 0  # still down: nothing is marked sent
    OutboxTask.objects.update(available_at=timezone.now())  # their backoff is over
    assert outbox_relay() == 3
    assert outbox_relay() == 0
    assert not OutboxTask.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.skipif(
    not ON_REDIS,
    reason="needs Redis (set REDIS_URL; CI always does): the filesystem broker's default "
    "queue is shared with a `make run` worker on this machine",
)
@pytest.mark.django_db(transaction=True)
def test_paid_order_emails_sent_once_after_the_broker_comes_back(buyer, shirt, key):
    with broker_down():
        (order,) = services.order_place(
            buyer=buyer,
            items=[{"variant": variant_of(shirt).pk, "quantity": 1}],
            checkout_key=key(),
        )
    row = OutboxTask.objects.get(task="orders.emails", sent_at__isnull=True)
    mail.outbox.clear()
    app.control.purge()  # tasks other tests left on the default queue of the test broker
    # The default queue, named: a worker started with other queues (as other tests do)
    # leaves the app consuming from those otherwise.
    queues = [app.conf.task_default_queue]
    with start_worker(
        app, pool="solo", perform_ping_check=False, queues=queues, shutdown_timeout=10
    ):
        _wait_for(lambda: outbox_relay() == 1, "the relay did not send the row once it was due", 10)
        _wait_for(
            lambda: OrderEvent.objects.filter(order=order, kind="email.paid").exists(),
            "the worker did not send the order's emails",
        )
        # A relay killed between the send and the mark sends the row again: the task runs
        # again and sends nothing more. A probe queued behind it (the solo worker runs in
        # order) says when it has run.
        app.send_task(row.task, kwargs=row.kwargs)
        Session.objects.create(
            session_key="probe", session_data="", expire_date=timezone.now() - timedelta(1)
        )
        app.send_task("accounts.sessions_clear")
        _wait_for(
            lambda: not Session.objects.filter(session_key="probe").exists(),
            "the worker did not run the probe",
        )
    assert sorted(m.to[0] for m in mail.outbox) == sorted([buyer.email, order.shop.owner.email])
    assert OrderEvent.objects.filter(order=order, kind="email.paid").count() == 1


class RefusingBackend(BaseEmailBackend):
    """A mail server that cannot be reached."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


def test_emails_that_failed_to_send_are_sent_by_the_retry(buyer, shirt, key, settings):
    """The task retries on OSError; its claim must not make the retry send nothing."""
    from orders.emails import order_emails_send

    (order,) = services.order_place(
        buyer=buyer, items=[{"variant": variant_of(shirt).pk, "quantity": 1}], checkout_key=key()
    )
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    with pytest.raises(OSError):
        order_emails_send(order_id=order.pk, what="paid")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    assert order_emails_send(order_id=order.pk, what="paid") == 2
    assert order_emails_send(order_id=order.pk, what="paid") == 0
    assert len(mail.outbox) == 2
