"""Stock is never oversold when a crowd buys at once: 200 buyers, real PostgreSQL.

Each test releases 200 buyers together behind one barrier. Every buyer is its own user
(with a default address) and calls orders.services.order_place on its own database
connection, paying with the simulated card "pm_card_ok". Afterwards the tests check that
what was sold, what was charged and what is left add up, and that every refused buyer got
a 409 conflict and nothing else.

The connection limit. PostgreSQL allows 100 connections here, shared with other test
runs, so 200 buyers cannot each hold a connection at the same moment. The crowd is bounded
the way a server bounds it with a connection pool: a released buyer takes one of
CONNECTIONS slots (40) before its first query and gives it back after closing its
connection (django.db.connection.close(), in a finally block); the buyers still without a
slot queue for one, as requests queue for a pooled connection. While the crowd runs, a
sampler thread counts the open connections to the test database in pg_stat_activity and
reads the stock and the deal's sales every few milliseconds. The tests assert that the
peak of connections stayed within CONNECTIONS (and a margin of 2), that every slot
was taken at the same moment (so 40 buyers, not a handful, race at the sell-out edge),
that the stock never went below what must remain and the deal never past its quantity.
Django 5.2's own pool (DATABASES OPTIONS "pool", psycopg-pool) would bound connections the
same way inside Django.

Processes. orders/claims.py combines the claims of the threads of one process into one
transaction; in production several worker processes claim the same rows at once. So the
crowds run as PROCESSES (4) forked processes of 50 threads with 10 slots each: batches of
different processes contend on the deal and variant rows in PostgreSQL, including the
one-by-one claims at the sell-out edge. The plain-stock test also runs one process with
batching off, where 40 single-buyer claims race on the row.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import connection, connections

from orders import services
from orders.models import Order
from payments.ledger import ledger_problems
from payments.provider_models import SimulatedCharge
from shops.models import Variant
from shops.services import variant_set_stock
from streams import services as streams_services
from streams.models import Deal
from tests.factories import UserFactory, make_product

from .conftest import variant_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUYERS = 200
PROCESSES = 4
CONNECTIONS = 40  # buyers holding a database connection at once, over all processes
REFUSALS = {"OutOfStock", "DealSoldOut", "DealEnded"}  # each a Conflict, status 409
_keys = itertools.count(1)


@dataclass
class Outcome:
    buyer: int
    quantity: int
    result: str  # "paid" or the class name of the exception
    status: int | None = None  # the exception's HTTP status
    order_ids: list[int] = field(default_factory=list)
    order_statuses: list[str] = field(default_factory=list)
    # Conditional UPDATEs of a variant's stock that took units, run on this buyer's
    # connection (a leader runs its whole batch's).
    stock_takes: int = 0


@dataclass
class Crowd:
    outcomes: list[Outcome]
    peak_connections: int
    peak_in_flight: int
    samples: list[tuple[int, int]]  # (stock, deal sold) read while the crowd ran

    def paid(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "paid"]

    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result != "paid"]

    def stock_takes(self) -> int:
        return sum(o.stock_takes for o in self.outcomes)

    def __repr__(self) -> str:
        # What a failed assertion shows: the outcomes counted, not 200 of them listed.
        results = dict(Counter(o.result for o in self.outcomes))
        return (
            f"<Crowd {results}, {self.stock_takes()} stock takes, peak "
            f"{self.peak_connections} connections, {self.peak_in_flight} in flight>"
        )


def make_buyers(count: int) -> list:
    buyers = UserFactory.create_batch(count)
    for user in buyers:
        services.address_add(
            user=user,
            data={
                "name": user.display_name[:100],
                "line1": "1 Main St",
                "city": "Springfield",
                "postal_code": "12345",
                "country": "US",
            },
        )
    return buyers


def _count_stock_takes(counter: list[int]):
    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('UPDATE "shops_variant"') and context["cursor"].rowcount > 0:
            counter[0] += 1
        return result

    return wrapper


def _buyer_thread(index, quantity, call, barrier, slots, in_flight, results):
    outcome = Outcome(buyer=index, quantity=quantity, result="")
    takes = [0]
    try:
        barrier.wait(timeout=60)
        with slots:
            with in_flight.get_lock():
                in_flight.value += 1
                in_flight.peak = max(in_flight.peak, in_flight.value)
            try:
                with connection.execute_wrapper(_count_stock_takes(takes)):
                    orders = call()
                outcome.result = "paid"
                outcome.order_ids = [order.pk for order in orders]
                outcome.order_statuses = [order.status for order in orders]
            except Exception as exc:  # noqa: BLE001 (every outcome is recorded and checked)
                outcome.result = type(exc).__name__
                outcome.status = getattr(exc, "status", None)
            finally:
                # Give the slot back with the connection: at most CONNECTIONS are open.
                connection.close()
                with in_flight.get_lock():
                    in_flight.value -= 1
    except threading.BrokenBarrierError:
        outcome.result = "BrokenBarrierError"
    outcome.stock_takes = takes[0]
    results.put(outcome)


class _Gauge:
    """In-flight buyers over all processes, with the peak (two shared integers)."""

    def __init__(self, ctx):
        self._value = ctx.Value("i", 0)
        self._peak = ctx.Value("i", 0, lock=False)

    def get_lock(self):
        return self._value.get_lock()

    @property
    def value(self):
        return self._value.value

    @value.setter
    def value(self, v):
        self._value.value = v

    @property
    def peak(self):
        return self._peak.value

    @peak.setter
    def peak(self, v):
        self._peak.value = v


def _process(buyers, barrier, slot_count, in_flight, results):
    slots = threading.BoundedSemaphore(slot_count)
    threads = [
        threading.Thread(
            target=_buyer_thread,
            args=(index, quantity, call, barrier, slots, in_flight, results),
        )
        for index, quantity, call in buyers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _sampler(stop: threading.Event, variant_id: int, deal_id: int | None, out: dict):
    """Open connections to the test database and the stock, every few milliseconds."""
    peak, samples = 0, []
    try:
        with connection.cursor() as cursor:
            while not stop.is_set():
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                peak = max(peak, cursor.fetchone()[0])
                cursor.execute("SELECT stock FROM shops_variant WHERE id = %s", [variant_id])
                stock = cursor.fetchone()[0]
                sold = 0
                if deal_id is not None:
                    cursor.execute("SELECT sold FROM streams_deal WHERE id = %s", [deal_id])
                    sold = cursor.fetchone()[0]
                samples.append((stock, sold))
                time.sleep(0.005)
    finally:
        connection.close()
        out.update(peak=peak, samples=samples)


def run_crowd(
    calls: list[tuple[int, Callable[[], list[Order]]]],
    *,
    processes: int = PROCESSES,
    variant_id: int,
    deal_id: int | None = None,
) -> Crowd:
    """Run every (quantity, call) as its own buyer thread, spread over forked processes,
    all released at once; CONNECTIONS slots in all."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(calls))
    in_flight = _Gauge(ctx)
    results = ctx.Queue()
    buyers = [(index, quantity, call) for index, (quantity, call) in enumerate(calls)]
    # A forked process must not share the parent's connection: close it first.
    connections.close_all()
    workers = [
        ctx.Process(
            target=_process,
            args=(buyers[p::processes], barrier, CONNECTIONS // processes, in_flight, results),
        )
        for p in range(processes)
    ]
    stop, sampled = threading.Event(), {}
    sampler = threading.Thread(target=_sampler, args=(stop, variant_id, deal_id, sampled))
    sampler.start()
    outcomes = []
    try:
        for worker in workers:
            worker.start()
        for _ in calls:
            outcomes.append(results.get(timeout=120))
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
        stop.set()
        sampler.join()
    assert all(worker.exitcode == 0 for worker in workers)
    return Crowd(
        outcomes=sorted(outcomes, key=lambda o: o.buyer),
        peak_connections=sampled["peak"],
        peak_in_flight=in_flight.peak,
        samples=sampled["samples"],
    )


def buy(buyer, variant_id: int, quantity: int = 1, **kwargs) -> Callable[[], list[Order]]:
    key = f"crowd-{next(_keys)}"
    items = [{"variant": variant_id, "quantity": quantity}]
    if "deal" in kwargs:
        items[0]["deal"] = kwargs.pop("deal")
    return lambda: services.order_place(
        buyer=buyer, items=items, checkout_key=key, payment_method="pm_card_ok", **kwargs
    )


def assert_crowd_was_real(crowd: Crowd) -> None:
    """The connection budget held, and most of it was in use at once: a real crowd."""
    # A closed connection's backend may take a moment to leave pg_stat_activity.
    assert crowd.peak_connections <= CONNECTIONS + 2, crowd
    # Not all of it, always: a process the scheduler runs late lets a buyer of another one
    # be answered (a quick sold-out) before its own buyers are in flight.
    assert CONNECTIONS * 3 // 4 <= crowd.peak_in_flight <= CONNECTIONS, crowd
    assert "BrokenBarrierError" not in {o.result for o in crowd.outcomes}, crowd


def assert_charged_exactly(paid_order_ids: set[int]) -> None:
    """No buyer charged without an order: each authorization belongs to a paid order and
    was captured once, and no other charge exists."""
    charges = list(SimulatedCharge.objects.all())
    assert sorted(c.metadata["order"] for c in charges) == sorted(paid_order_ids)
    assert {c.status for c in charges} == {SimulatedCharge.Status.AUTHORIZED}
    assert all(c.amount_captured == c.amount_minor for c in charges)
    assert ledger_problems() == []


def test_a_flash_deal_of_50_sells_exactly_50_to_a_crowd_of_200(live, creator, shirt, seller):
    variant = variant_of(shirt)
    variant_set_stock(variant=variant, actor=seller, stock=80)
    deal = streams_services.deal_start(
        stream=live, actor=creator, product_id=shirt.pk, price_minor=2900, quantity=50, seconds=300
    )
    buyers = make_buyers(BUYERS)

    # Each buyer names the deal, as a tap on the live's deal does: once it has ended they
    # are told so, instead of buying one of the 30 left at the full price.
    crowd = run_crowd(
        [(1, buy(b, variant.pk, deal=deal.pk, stream_id=live.pk)) for b in buyers],
        variant_id=variant.pk,
        deal_id=deal.pk,
    )

    assert_crowd_was_real(crowd)
    paid, refused = crowd.paid(), crowd.refused()
    assert len(paid) == 50, crowd
    assert all(o.order_statuses == [Order.Status.PAID] for o in paid)
    assert {o.result for o in refused} <= REFUSALS, crowd
    assert {o.status for o in refused} == {409}
    deal.refresh_from_db()
    assert (deal.sold, deal.status, deal.ended_reason) == (50, Deal.Status.ENDED, "sold_out")
    assert Variant.objects.get(pk=variant.pk).stock == 30
    # Read while the crowd ran: never past the deal, never below what must remain.
    assert min(stock for stock, _ in crowd.samples) >= 30
    assert max(sold for _, sold in crowd.samples) <= 50
    paid_ids = {pk for o in paid for pk in o.order_ids}
    assert set(Order.objects.values_list("pk", flat=True)) == paid_ids
    assert set(Order.objects.filter(status=Order.Status.PAID).values_list("pk", flat=True)) == (
        paid_ids
    )
    assert Order.objects.filter(lines__deal=deal, lines__unit_price_minor=2900).count() == 50
    assert_charged_exactly(paid_ids)


@pytest.mark.parametrize(
    ("processes", "batching"),
    [(PROCESSES, True), (1, True), (1, False)],
    ids=["4-processes-batched", "1-process-batched", "1-process-unbatched"],
)
def test_plain_stock_of_50_sells_exactly_50_to_a_crowd_of_200(
    seller, settings, processes, batching
):
    settings.ORDERS_CLAIM_BATCHING = batching
    product = make_product(seller.shop, "Flash tee", sku="FT", price_minor=1500, stock=50)
    variant = variant_of(product)
    buyers = make_buyers(BUYERS)

    crowd = run_crowd(
        [(1, buy(b, variant.pk)) for b in buyers], processes=processes, variant_id=variant.pk
    )

    assert_crowd_was_real(crowd)
    paid, refused = crowd.paid(), crowd.refused()
    assert len(paid) == 50, crowd
    assert {o.result for o in refused} == {"OutOfStock"}, crowd
    assert {o.status for o in refused} == {409}
    assert Variant.objects.get(pk=variant.pk).stock == 0
    assert min(stock for stock, _ in crowd.samples) >= 0
    paid_ids = {pk for o in paid for pk in o.order_ids}
    assert set(Order.objects.filter(status=Order.Status.PAID).values_list("pk", flat=True)) == (
        paid_ids
    )
    assert Order.objects.count() == 50
    assert_charged_exactly(paid_ids)
    # The combiner: with batching, the 50 units left the row in fewer conditional
    # UPDATEs than orders (several buyers per transaction); without it, one per order.
    if batching:
        assert crowd.stock_takes() < 50, crowd
    else:
        assert crowd.stock_takes() == 50, crowd


def test_buyers_of_1_to_3_units_never_take_more_than_the_stock(seller):
    product = make_product(seller.shop, "Flash mug", sku="FM", price_minor=1200, stock=50)
    variant = variant_of(product)
    buyers = make_buyers(BUYERS)
    pick = random.Random(5)  # a fixed mix of quantities
    quantities = [pick.randint(1, 3) for _ in buyers]

    crowd = run_crowd(
        [(q, buy(b, variant.pk, quantity=q)) for b, q in zip(buyers, quantities, strict=True)],
        variant_id=variant.pk,
    )

    assert_crowd_was_real(crowd)
    paid, refused = crowd.paid(), crowd.refused()
    assert {o.result for o in refused} == {"OutOfStock"}, crowd
    sold = sum(o.quantity for o in paid)
    left = Variant.objects.get(pk=variant.pk).stock
    assert sold + left == 50 and sold <= 50
    # Stock only goes down here (every card succeeds), so whoever was refused asked for
    # more than was left at that moment, and so for more than is left now.
    assert left == 0 or left < min(o.quantity for o in refused)
    assert min(stock for stock, _ in crowd.samples) >= 0
    lines = Order.objects.filter(status=Order.Status.PAID).values_list("lines__quantity", flat=True)
    assert sum(lines) == sold
    assert_charged_exactly({pk for o in paid for pk in o.order_ids})
