import time
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import sessions_clear
from config.celery import app


@pytest.mark.django_db(transaction=True)
def test_scheduled_task_runs_on_a_real_worker_through_the_broker():
    """The broker of this configuration (Redis in CI, the filesystem one by default) carries
    the task to a real worker, which clears expired sessions and keeps live ones."""
    now = timezone.now()
    Session.objects.create(session_key="expired", session_data="", expire_date=now - timedelta(1))
    Session.objects.create(session_key="live", session_data="", expire_date=now + timedelta(1))
    queue = f"test-{uuid.uuid4().hex[:8]}"  # nobody else's worker consumes this queue
    with start_worker(
        app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10
    ):
        sessions_clear.apply_async(queue=queue)
        deadline = time.monotonic() + 20
        while Session.objects.filter(session_key="expired").exists():
            assert time.monotonic() < deadline, "the worker did not run the task"
            time.sleep(0.1)
    assert Session.objects.filter(session_key="live").exists()


def test_beat_schedules_the_task():
    assert app.conf.beat_schedule["sessions-clear"]["task"] == sessions_clear.name
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
