"""Settlement under concurrency and crashes, on real PostgreSQL: two runs at once (threads,
then two real Celery workers through the broker) and a process killed with SIGKILL halfway
through settle each earning exactly once."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from gifting import services, tasks
from gifting.models import EarningsStatement, Gift, GiftSend
from gifting.settlement import earnings_settle, settlement_cutoff
from payments.ledger import Line, ledger_post
from payments.ledger_models import LedgerEntry
from tests.factories import UserFactory

from .test_settlement import bulk_earnings, go_live, settled, unsettled

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def earnings_made(viewer, host):
    """A function making `per_creator` earnings for each of `count` new hosts, sent before
    the last whole period ended. Returns (hosts, the sum of their shares)."""
    stream = go_live(host)
    gift = Gift.objects.create(name="Heart", slug="heart", coins=5)

    def make(count: int, per_creator: int):
        creators = [UserFactory(handle=f"creator{n}") for n in range(count)]
        total = bulk_earnings(
            creators=creators,
            per_creator=per_creator,
            sender=viewer,
            stream=stream,
            gift=gift,
            created_at=timezone.now() - timedelta(hours=2),
        )
        return creators, total

    return make


def assert_settled_exactly_once(creators, total):
    """Every earning attached to one statement; each statement's totals the sums of its
    gifts; the ledger moved exactly those sums, once."""
    assert not GiftSend.objects.filter(statement__isnull=True).exists()
    assert EarningsStatement.objects.count() == len(creators)
    for statement in EarningsStatement.objects.all():
        sums = GiftSend.objects.filter(statement=statement).aggregate(
            n=Count("pk"), minor=Sum("creator_minor"), coins=Sum("coins")
        )
        assert (statement.gift_count, statement.creator_minor, statement.coins) == (
            sums["n"],
            sums["minor"],
            sums["coins"],
        )
    assert sum(settled(c) for c in creators) == total
    assert all(unsettled(c) == 0 for c in creators)
    settled_total = LedgerEntry.objects.filter(
        transaction__kind="earnings.settled", amount__gt=0
    ).aggregate(s=Sum("amount"))["s"]
    assert settled_total == total


def test_two_runs_at_once_settle_each_earning_once(earnings_made):
    creators, total = earnings_made(40, 50)
    until = settlement_cutoff()
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(earnings_settle(until=until, batch_size=3))
        except Exception as exc:  # noqa: BLE001 (reported below)
            results.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 2000
    assert_settled_exactly_once(creators, total)


def test_two_celery_workers_settle_each_earning_once(earnings_made):
    """Two real worker processes (`celery worker`, as deployed) on the test database and
    Redis take one settlement task each, at once: each earning is settled once."""
    creators, total = earnings_made(60, 50)
    queue = f"test-{uuid.uuid4().hex[:8]}"  # nobody else's worker consumes this queue
    workers = [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "-Q",
                queue,
                "-n",
                f"settle{index}-{queue}@%h",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
    try:
        time.sleep(3)  # both workers up before the tasks go out
        for _ in range(2):
            tasks.settle_earnings.apply_async(queue=queue)
        deadline = time.monotonic() + 90
        while GiftSend.objects.filter(statement__isnull=True).exists():
            assert time.monotonic() < deadline, "the workers did not settle everything"
            assert all(w.poll() is None for w in workers), "a worker died"
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    assert_settled_exactly_once(creators, total)


def _env() -> dict:
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
    }


def _command(until, batch_size):
    env = _env()
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "settle_earnings",
            "--until",
            until.isoformat(),
            "--batch-size",
            str(batch_size),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def many_earnings(viewer, host, *, count: int, per_creator: int):
    """`count` new hosts with `per_creator` gift earnings each, sent two hours ago: written
    by one INSERT … SELECT over generate_series (1 to 7 of a 5-coin gift, split as
    gift_split splits it), the hosts' earnings credited by one balanced posting, as
    gift_send would have in many. Returns (hosts, the sum of their shares)."""
    stream = go_live(host)
    gift = Gift.objects.create(name="Heart", slug="heart", coins=5)
    creators = UserFactory.create_batch(count)
    bp = settings.GIFTING_CREATOR_SHARE_BP
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO gifting_giftsend (sender_id, stream_id, creator_id, gift_id, quantity, "
            "coins, value_minor, creator_minor, platform_minor, currency, idempotency_key, "
            "created_at) SELECT %s, %s, (%s::bigint[])[1 + n / %s], %s, 1 + n %% 7, coins, "
            "value, value * %s / 10000, value - value * %s / 10000, 'USD', 'bulk-' || n, %s "
            "FROM (SELECT n, 5 * (1 + n %% 7) AS coins, 5 * (1 + n %% 7) * %s AS value "
            "FROM generate_series(0, %s) AS n) AS g",
            [
                viewer.pk,
                stream.pk,
                [c.pk for c in creators],
                per_creator,
                gift.pk,
                bp,
                bp,
                timezone.now() - timedelta(hours=2),
                settings.GIFTING_COIN_VALUE_MINOR,
                count * per_creator - 1,
            ],
        )
    made = GiftSend.objects.filter(creator__in=creators)
    shares = dict(
        made.values("creator_id").annotate(s=Sum("creator_minor")).values_list("creator_id", "s")
    )
    commission = made.aggregate(s=Sum("platform_minor"))["s"]
    total = sum(shares.values())
    ledger_post(
        kind="gift.sent",
        key="bulk:many",
        lines=[
            Line(services._sales_account("USD"), -(total + commission)),
            Line(services._commission_account("USD"), commission),
            *(
                Line(services.earnings_account(creator=c, currency="USD"), shares[c.pk])
                for c in creators
            ),
        ],
    )
    return creators, total


def test_a_run_killed_halfway_is_completed_by_the_next(viewer, host):
    creators, total = many_earnings(viewer, host, count=200, per_creator=500)
    assert GiftSend.objects.count() == 100_000
    until = settlement_cutoff()
    process = _command(until, batch_size=2)  # 100 batches of 1,000 earnings
    deadline = time.monotonic() + 60
    while not EarningsStatement.objects.filter(gift_count__gt=0).exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no batch committed"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    # Halfway: some batches done (attached, posted and totalled together), the rest untouched.
    left = GiftSend.objects.filter(statement__isnull=True).count()
    assert 0 < left < 100_000
    done = GiftSend.objects.filter(statement__isnull=False)
    assert (
        LedgerEntry.objects.filter(transaction__kind="earnings.settled", amount__gt=0).aggregate(
            s=Sum("amount")
        )["s"]
        == done.aggregate(s=Sum("creator_minor"))["s"]
    )
    # No statement was committed without its gifts and its posting.
    assert not EarningsStatement.objects.filter(gift_count=0).exists()

    rerun = _command(until, batch_size=50)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert f"Settled {left} gift earnings" in out
    assert_settled_exactly_once(creators, total)
