"""Settling hosts' gift earnings: one statement per host, currency and period with exact
totals, the money moved from unsettled to settled earnings in the ledger, each earning
settled once however often settlement runs."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from config.celery import app
from gifting import services, tasks
from gifting.models import EarningsStatement, Gift, GiftSend
from gifting.settlement import earnings_settle, settlement_cutoff
from payments.ledger import Line, account_balance, ledger_post
from payments.ledger_models import LedgerAccount, LedgerTransaction
from tests.factories import UserFactory
from tests.gifting.conftest import give_coins, go_live


def balance(code: str) -> int:
    account = LedgerAccount.objects.filter(code=code).first()
    return account_balance(account=account) if account else 0


def unsettled(user, currency="USD") -> int:
    return balance(f"earnings:gifts:user:{user.pk}:{currency}")


def settled(user, currency="USD") -> int:
    return balance(f"earnings:settled:user:{user.pk}:{currency}")


def send(viewer, stream, gift, quantity, key):
    return services.gift_send(
        sender=viewer, stream_id=stream.pk, gift_id=gift.pk, quantity=quantity, idempotency_key=key
    )


def bulk_earnings(*, creators, per_creator, sender, stream, gift, created_at) -> int:
    """Many gift sends written directly (for speed), each host's earnings credited by one
    balanced posting for all of theirs, as gift_send would have in many. Returns the sum of
    the hosts' shares."""
    total = 0
    for creator in creators:
        rows = []
        for n in range(per_creator):
            coins = gift.coins * (1 + n % 7)
            value, creator_minor, platform_minor = services.gift_split(coins=coins)
            rows.append(
                GiftSend(
                    sender=sender,
                    stream=stream,
                    creator=creator,
                    gift=gift,
                    quantity=1 + n % 7,
                    coins=coins,
                    value_minor=value,
                    creator_minor=creator_minor,
                    platform_minor=platform_minor,
                    currency="USD",
                    idempotency_key=f"bulk-{creator.pk}-{n}",
                )
            )
        GiftSend.objects.bulk_create(rows, batch_size=5000)
        share = sum(row.creator_minor for row in rows)
        commission = sum(row.platform_minor for row in rows)
        ledger_post(
            kind="gift.sent",
            key=f"bulk:{creator.pk}",
            lines=[
                Line(services._sales_account("USD"), -(share + commission)),
                Line(services.earnings_account(creator=creator, currency="USD"), share),
                Line(services._commission_account("USD"), commission),
            ],
        )
        total += share
    GiftSend.objects.update(created_at=created_at)
    return total


@pytest.fixture
def hosts(db):
    return [UserFactory(handle=f"host{n}", is_business=True) for n in range(3)]


@pytest.fixture
def lives(hosts):
    return [go_live(host) for host in hosts]


@pytest.fixture
def gifts(db):
    return {
        "rose": Gift.objects.create(name="Rose", slug="rose", coins=1),
        "heart": Gift.objects.create(name="Heart", slug="heart", coins=5),
        "lion": Gift.objects.create(name="Lion", slug="lion", coins=500),
    }


@pytest.fixture
def sent(viewer, hosts, lives, gifts):
    """Gifts to three hosts sent two hours ago: before the last whole period ended."""
    give_coins(viewer, 5000)
    send(viewer, lives[0], gifts["heart"], 3, "a1")  # 15 coins, host earns 7
    send(viewer, lives[0], gifts["lion"], 2, "a2")  # 1000 coins, 500
    send(viewer, lives[0], gifts["rose"], 1, "a3")  # 1 coin, 0 (rounded down)
    send(viewer, lives[1], gifts["lion"], 1, "b1")  # 500 coins, 250
    send(viewer, lives[2], gifts["rose"], 1, "c1")  # 1 coin, 0: a statement with no money
    GiftSend.objects.update(created_at=timezone.now() - timedelta(hours=2))


def test_settling_makes_one_statement_per_host_with_exact_totals(hosts, sent):
    before = {host.pk: unsettled(host) for host in hosts}
    assert before == {hosts[0].pk: 507, hosts[1].pk: 250, hosts[2].pk: 0}
    until = settlement_cutoff()

    assert earnings_settle(until=until) == 5

    statements = {s.creator_id: s for s in EarningsStatement.objects.all()}
    assert len(statements) == 3
    totals = {
        host.pk: (
            s.gift_count,
            s.coins,
            s.value_minor,
            s.creator_minor,
            s.currency,
            s.period_end,
        )
        for host in hosts
        for s in [statements[host.pk]]
    }
    assert totals == {
        hosts[0].pk: (3, 1016, 1016, 507, "USD", until),
        hosts[1].pk: (1, 500, 500, 250, "USD", until),
        hosts[2].pk: (1, 1, 1, 0, "USD", until),
    }
    # Every gift settled, into its host's statement.
    assert not GiftSend.objects.filter(statement__isnull=True).exists()
    assert not GiftSend.objects.filter(settled_at__isnull=True).exists()
    for send_ in GiftSend.objects.all():
        assert statements[send_.creator_id].pk == send_.statement_id
    # The money moved from unsettled to settled earnings, one posting per statement that
    # moved any (the ledger's balance is checked after every test).
    assert [unsettled(host) for host in hosts] == [0, 0, 0]
    assert [settled(host) for host in hosts] == [507, 250, 0]
    keys = set(
        LedgerTransaction.objects.filter(kind="earnings.settled").values_list("key", flat=True)
    )
    assert keys == {
        f"settlement:{statements[hosts[0].pk].pk}",
        f"settlement:{statements[hosts[1].pk].pk}",
    }
    settled_account = LedgerAccount.objects.get(code=f"earnings:settled:user:{hosts[0].pk}:USD")
    assert (settled_account.kind, settled_account.track_balance, settled_account.owner_id) == (
        "earnings",
        True,
        hosts[0].pk,
    )


def test_running_twice_settles_nothing_more(hosts, sent):
    until = settlement_cutoff()
    assert earnings_settle(until=until) == 5
    snapshot = list(EarningsStatement.objects.values())
    postings = LedgerTransaction.objects.count()

    assert earnings_settle(until=until) == 0
    assert earnings_settle(until=until + timedelta(hours=1)) == 0  # the next period too

    assert list(EarningsStatement.objects.values()) == snapshot
    assert LedgerTransaction.objects.count() == postings
    assert [settled(host) for host in hosts] == [507, 250, 0]


def test_gifts_sent_after_the_cutoff_wait_for_the_next_period(viewer, hosts, lives, gifts, sent):
    until = settlement_cutoff()
    late = send(viewer, lives[1], gifts["heart"], 2, "late")  # now: after the cutoff
    assert earnings_settle(until=until) == 5
    late.refresh_from_db()
    assert (late.statement_id, late.settled_at) == (None, None)
    assert unsettled(hosts[1]) == 5

    following = until + timedelta(hours=2)
    assert earnings_settle(until=following) == 1
    statement = EarningsStatement.objects.get(creator=hosts[1], period_end=following)
    assert (statement.gift_count, statement.creator_minor) == (1, 5)
    assert EarningsStatement.objects.filter(creator=hosts[1]).count() == 2
    assert (unsettled(hosts[1]), settled(hosts[1])) == (0, 255)


def test_a_statement_that_grows_in_a_later_run_posts_only_what_was_added(
    viewer, hosts, lives, gifts
):
    """A run for a period that has not ended yet (by hand, with --until in the future), then
    more gifts, then the same period again: one statement, two postings, exact sums."""
    give_coins(viewer, 5000)
    until = timezone.now() + timedelta(hours=1)
    send(viewer, lives[0], gifts["lion"], 1, "one")
    assert earnings_settle(until=until) == 1
    second = send(viewer, lives[0], gifts["heart"], 4, "two")
    third = send(viewer, lives[0], gifts["lion"], 3, "three")

    assert earnings_settle(until=until) == 2
    assert earnings_settle(until=until) == 0

    statement = EarningsStatement.objects.get()
    assert (statement.gift_count, statement.coins, statement.creator_minor) == (3, 2020, 1010)
    postings = dict(
        LedgerTransaction.objects.filter(kind="earnings.settled").values_list("key", "pk")
    )
    assert set(postings) == {f"settlement:{statement.pk}", f"settlement:{statement.pk}:{third.pk}"}
    assert second.pk < third.pk
    assert (unsettled(hosts[0]), settled(hosts[0])) == (0, 1010)


def test_many_hosts_in_small_batches(viewer, hosts, lives, gifts):
    give_coins(viewer, 1)
    creators = [UserFactory(handle=f"creator{n}") for n in range(12)]
    total = bulk_earnings(
        creators=creators,
        per_creator=25,
        sender=viewer,
        stream=lives[0],
        gift=gifts["heart"],
        created_at=timezone.now() - timedelta(hours=3),
    )
    assert earnings_settle(until=settlement_cutoff(), batch_size=5) == 300
    assert EarningsStatement.objects.count() == 12
    assert sum(settled(creator) for creator in creators) == total
    assert all(unsettled(creator) == 0 for creator in creators)


def test_the_command_settles_and_says_how_many(hosts, sent, capsys):
    call_command("settle_earnings")
    assert f"Settled 5 gift earnings before {settlement_cutoff().isoformat()}." in (
        capsys.readouterr().out
    )
    call_command("settle_earnings", "--until", "2000-01-01T00:00")
    assert "Settled 0 gift earnings before 2000-01-01T00:00:00+00:00." in capsys.readouterr().out
    assert [settled(host) for host in hosts] == [507, 250, 0]


def test_the_command_refuses_a_bad_time(db):
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("settle_earnings", "--until", "yesterday")
    with pytest.raises(CommandError, match="batch-size"):
        call_command("settle_earnings", "--batch-size", "0")


def test_the_cutoff_is_the_end_of_the_last_whole_period(settings):
    settings.GIFTING_SETTLEMENT_PERIOD_SECONDS = 3600
    now = datetime(2025, 3, 4, 13, 59, 59, 999_000, tzinfo=UTC)
    assert settlement_cutoff(now=now) == datetime(2025, 3, 4, 13, tzinfo=UTC)
    settings.GIFTING_SETTLEMENT_PERIOD_SECONDS = 86_400
    assert settlement_cutoff(now=now) == datetime(2025, 3, 4, tzinfo=UTC)


def test_the_task_is_scheduled_thin_and_settles(hosts, sent):
    entry = app.conf.beat_schedule["gifting-settle-earnings"]
    assert entry["task"] == tasks.settle_earnings.name == "gifting.settle_earnings"
    assert tasks.settle_earnings.acks_late
    assert tasks.settle_earnings.apply().get() == 5
    assert tasks.settle_earnings.apply().get() == 0
