"""Affiliate commissions settle with the gifts: what a host earned on orders paid in their
lives, net of refunds, moves into the period's statement and their settled balance once,
however often and however concurrently settlement runs; refunds after settlement are
taken off the next one."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gifting.models import EarningsStatement, Gift
from gifting.settlement import earnings_settle
from orders import services as orders
from payments.ledger_models import LedgerAccount, LedgerEntry, LedgerTransaction
from payments.provider_services import payment_method_add
from tests.factories import ShopFactory, UserFactory, make_product
from tests.gifting.conftest import give_coins

from .test_settlement import go_live, send, settled


def commissions(user, currency="USD") -> int:
    """What is left in the host's unsettled affiliate earnings (summed from the entries)."""
    return (
        LedgerEntry.objects.filter(
            account__code=f"earnings:affiliate:user:{user.pk}:{currency}"
        ).aggregate(s=Sum("amount"))["s"]
        or 0
    )


@pytest.fixture
def seller(db):
    return ShopFactory(handle="linenco", owner=UserFactory(handle="lina", is_business=True)).owner


@pytest.fixture
def shirt(seller):
    # 10 % of 49.00 to the host who sells it in a live: 490 a shirt.
    return make_product(
        seller.shop, "Linen shirt", sku="LS", price_minor=4900, stock=50, affiliate_rate_bp=1000
    )


@pytest.fixture
def shopper(db):
    user = UserFactory(handle="mia", display_name="Mia Buyer")
    orders.address_add(
        user=user,
        data={
            "name": "Mia Buyer",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        },
    )
    payment_method_add(user=user, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123")
    return user


@pytest.fixture
def live(host):
    return go_live(host)


def buy(shopper, shirt, live, quantity):
    (order,) = orders.order_place(
        buyer=shopper,
        items=[{"variant": shirt.variants.get().pk, "quantity": quantity}],
        stream_id=live.pk,
        checkout_key=uuid.uuid4().hex,
    )
    assert order.status == "paid" and order.creator_id == live.host_id
    return order


def delivered(shopper, seller, shirt, live, quantity):
    order = buy(shopper, shirt, live, quantity)
    orders.order_ship(actor=seller, order_id=order.pk, carrier="DHL", tracking_number="JD01")
    orders.order_deliver(actor=shopper, order_id=order.pk)
    return order


def refund_one(seller, order):
    orders.order_refund(actor=seller, order_id=order.pk, lines={order.lines.get().pk: 1})


def affiliate_postings():
    return LedgerTransaction.objects.filter(key__contains=":affiliate:")


def test_a_commission_settles_into_the_statement_once(host, shopper, shirt, live):
    buy(shopper, shirt, live, 2)
    assert commissions(host) == 980
    until = timezone.now()

    assert earnings_settle(until=until) == 0  # no gift sends, but the commission moved

    statement = EarningsStatement.objects.get()
    assert (statement.creator_id, statement.currency, statement.period_end) == (
        host.pk,
        "USD",
        until,
    )
    assert (statement.gift_count, statement.creator_minor, statement.affiliate_minor) == (0, 0, 980)
    assert (commissions(host), settled(host)) == (0, 980)
    account = LedgerAccount.objects.get(code=f"earnings:affiliate:user:{host.pk}:USD")
    last = LedgerEntry.objects.filter(account=account, transaction__kind="order.paid").get().pk
    assert list(affiliate_postings().values_list("key", "kind")) == [
        (f"settlement:{statement.pk}:affiliate:{last}", "earnings.settled")
    ]

    # Again, for the same period and the next: nothing more moves, no empty statement.
    snapshot = list(EarningsStatement.objects.values())
    postings = LedgerTransaction.objects.count()
    assert earnings_settle(until=until) == 0
    assert earnings_settle(until=until + timedelta(hours=1)) == 0
    assert list(EarningsStatement.objects.values()) == snapshot
    assert LedgerTransaction.objects.count() == postings
    assert settled(host) == 980


def test_commissions_earned_after_the_cutoff_wait(host, shopper, shirt, live):
    until = timezone.now()
    buy(shopper, shirt, live, 1)
    assert earnings_settle(until=until) == 0
    assert not EarningsStatement.objects.exists()
    assert (commissions(host), settled(host)) == (490, 0)

    later = timezone.now()
    earnings_settle(until=later)
    assert EarningsStatement.objects.get(period_end=later).affiliate_minor == 490
    assert (commissions(host), settled(host)) == (0, 490)


def test_a_refund_before_settlement_is_not_paid(host, seller, shopper, shirt, live):
    order = delivered(shopper, seller, shirt, live, 3)
    refund_one(seller, order)
    assert commissions(host) == 980

    earnings_settle(until=timezone.now())

    assert EarningsStatement.objects.get().affiliate_minor == 980
    assert (commissions(host), settled(host)) == (0, 980)


def test_a_refund_after_settlement_is_taken_off_the_next(host, seller, shopper, shirt, live):
    order = delivered(shopper, seller, shirt, live, 3)
    earnings_settle(until=timezone.now())
    assert settled(host) == 1470

    # The shop refunds a shirt already settled: the commission is owed back, and the
    # unsettled account goes below zero (the ledger allows it there, and stays sound).
    refund_one(seller, order)
    assert commissions(host) == -490
    postings = LedgerTransaction.objects.count()
    assert earnings_settle(until=timezone.now()) == 0  # a negative net waits
    assert LedgerTransaction.objects.count() == postings
    assert EarningsStatement.objects.count() == 1

    buy(shopper, shirt, live, 2)  # 980 more, 490 of it owed back
    until = timezone.now()
    earnings_settle(until=until)
    assert EarningsStatement.objects.get(period_end=until).affiliate_minor == 490
    assert (commissions(host), settled(host)) == (0, 1470 + 490)
    assert sum(EarningsStatement.objects.values_list("affiliate_minor", flat=True)) == 1960


def test_gifts_and_commissions_share_the_statement(viewer, host, shopper, shirt, live):
    give_coins(viewer, 1000)
    send(viewer, live, Gift.objects.create(name="Lion", slug="lion", coins=500), 1, "g1")
    buy(shopper, shirt, live, 1)

    assert earnings_settle(until=timezone.now()) == 1

    statement = EarningsStatement.objects.get()
    assert (statement.gift_count, statement.creator_minor, statement.affiliate_minor) == (
        1,
        250,
        490,
    )
    assert settled(host) == 740
    assert LedgerTransaction.objects.filter(kind="earnings.settled").count() == 2


def test_the_queries_do_not_grow_with_the_hosts(viewer, seller, shopper, shirt):
    """Set-based: settling a batch of many hosts takes as many queries as one of few."""
    give_coins(viewer, 100_000)
    gift = Gift.objects.create(name="Lion", slug="lion", coins=500)

    def earn(count, tag):
        for n in range(count):
            live = go_live(UserFactory(handle=f"{tag}{n}", is_business=True))
            send(viewer, live, gift, 1, f"{tag}{n}")
            buy(shopper, shirt, live, 1)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            earnings_settle(until=timezone.now())
        return len(ctx.captured_queries)

    earn(2, "few")
    few = queries()
    earn(8, "many")
    assert queries() == few
    assert EarningsStatement.objects.filter(affiliate_minor=490, creator_minor=250).count() == 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_for_different_periods_at_once_settle_once(host, shopper, shirt, live):
    """Two settlements at once, one up to an hour ago and one up to now, over hosts with
    commissions before and after the earlier cutoff: each commission moves once."""
    hosts = [host] + [UserFactory(handle=f"h{n}", is_business=True) for n in range(5)]
    lives = [live] + [go_live(h) for h in hosts[1:]]
    for each in lives:
        buy(shopper, shirt, each, 1)
    LedgerEntry.objects.update(created_at=timezone.now() - timedelta(hours=2))
    for each in lives:
        buy(shopper, shirt, each, 2)
    total = 6 * 3 * 490
    earlier, now = timezone.now() - timedelta(hours=1), timezone.now()

    def run(until, barrier, errors):
        try:
            barrier.wait(timeout=10)
            earnings_settle(until=until, batch_size=2)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(repr(exc))
        finally:
            connection.close()

    # The first round races the two periods; the others race reruns of both.
    for _ in range(3):
        barrier = threading.Barrier(2)
        errors = []
        threads = [threading.Thread(target=run, args=(u, barrier, errors)) for u in (earlier, now)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []

    assert [commissions(h) for h in hosts] == [0] * 6
    assert sum(settled(h) for h in hosts) == total
    assert (
        EarningsStatement.objects.aggregate(s=Sum("affiliate_minor"))["s"]
        == LedgerEntry.objects.filter(transaction__kind="earnings.settled", amount__gt=0).aggregate(
            s=Sum("amount")
        )["s"]
        == total
    )
    assert not EarningsStatement.objects.filter(affiliate_minor=0, gift_count=0).exists()
