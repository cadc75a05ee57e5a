"""Flash sale: how fast one hot item sells to a crowd, and whether it ever oversells.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tapbuy_bench \\
    REDIS_URL=redis://127.0.0.1:6379/9 CACHE_PREFIX=bench CHANNEL_PREFIX=bench \\
        .venv/bin/python bench/flash_sale.py --level 1 [--processes 2] [--threads 100] [--pool 40]

    ... .venv/bin/python bench/flash_sale.py --level 2 --url http://127.0.0.1:8765 \\
        [--buyers 200] [--concurrency 200]

Level 1 calls the stock claim directly: orders.claims.claim, the function that reserves
the stock and creates the pending order in one transaction (order_place minus its reads
and the payment). Buyers are threads in --processes forked processes (200 buyers by
default: 2 × 100), released together by one barrier; each keeps buying one unit until it
is told "sold out", then taps --after more times (the crowd that keeps tapping after a
sell-out). PostgreSQL allows 100 connections, so as in production the threads of a process
share Django's psycopg pool (DATABASE_POOL_MAX_SIZE=--pool, 40 by default, set before
Django starts): a buyer takes a connection for one attempt and gives it back after it, as
a request does at its end, and a buyer that finds them all taken waits for one (at most
DATABASE_POOL_TIMEOUT). Every flow runs through the same pools. The same crowd, on the
same data shape (a fresh product with --units in stock, one order and one line per unit,
the same order drafts), runs each flow in turn:

- claim, flash deal: claims.claim with batching on, on a running deal of --units units of
  a live (the product has --units in stock too, so both run out together);
- claim, plain stock: claims.claim with batching on, on the variant's stock;
- claim, unbatched: claims.claim with ORDERS_CLAIM_BATCHING off (one conditional UPDATE
  per buyer, each in its own transaction);
- SELECT … FOR UPDATE: in one transaction, lock the variant's row, check the stock,
  UPDATE it, INSERT the order and its line;
- read then write (no lock): read the stock, then UPDATE it to the value read minus one and
  INSERT the order and its line. The control: it oversells.

A flow that oversells never says sold out: every buyer stops once the crowd has made --cap
times --units orders, and the oversold figure is then a lower bound.

For each flow it prints orders/s (units sold over the time from the barrier to the end of
the last successful attempt); claim and sold-out latencies, nearest rank, from an
attempt's start (a wait for a connection included) to its end, where the sold-out answers
are every refusal, also split into those asked before and after the last sale ended; the
stock UPDATEs that took units; the most connections open to the database (sampled every
50 ms); and the CPU time of the buyer processes and of the whole machine.

Level 2 drives the sale over HTTP against a running `make serve` (WORKERS=2) pointed at the
same database and Redis: --buyers users, each with a token and its own keep-alive
connection, POST /api/v1/orders/ with an Idempotency-Key and payment_method "pm_card_ok" on
a flash deal of --units units until told sold out (201 an order, 409 sold out; a 429 waits
its Retry-After; any other answer stops the buyer). At most --concurrency requests are in
flight (every buyer by default): `make serve` gives each worker a pool of
DATABASE_POOL_MAX_SIZE connections (20), and requests beyond it wait for one. Start the
server first, for example:

    DATABASE_URL=... REDIS_URL=... PORT=8765 WORKERS=2 make serve

The script needs PostgreSQL (row locks) and creates its own users, shop, products and live
in the database it is pointed at (level 1 migrates it first). Level 1 deletes them at the
end. Level 2 cannot: paid orders post to the append-only ledger, whose accounts keep their
shop and users, so it runs only on a database whose name contains "bench". Level 1 holds
at most processes × --pool connections and a few of its own, and refuses to start when
fewer are free.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

BARRIER_TIMEOUT = 120  # seconds for every buyer to be ready
RUN_TIMEOUT = 600  # seconds for one flow to sell out


# --- the flows ------------------------------------------------------------------------------


def _claim(draft) -> None:
    from orders.claims import Checkout, claim

    claim(Checkout(drafts=[draft]))


def _insert_order(draft) -> None:
    from orders.models import OrderLine

    order = draft.to_order()
    order.save()
    line = draft.lines[0]
    OrderLine.objects.create(
        order=order,
        product_id=line.product_id,
        variant_id=line.variant_id,
        title=line.title,
        unit_price_minor=line.unit_price_minor,
        quantity=line.quantity,
    )


def _for_update(draft) -> None:
    from django.db import transaction

    from orders.errors import OutOfStock
    from shops.models import Variant

    line = draft.lines[0]
    with transaction.atomic():
        stock = (
            Variant.objects.select_for_update()
            .values_list("stock", flat=True)
            .get(pk=line.variant_id)
        )
        if stock < line.quantity:
            raise OutOfStock([line.variant_id])
        Variant.objects.filter(pk=line.variant_id).update(stock=stock - line.quantity)
        _insert_order(draft)


def _read_then_write(draft) -> None:
    from django.db import transaction

    from orders.errors import OutOfStock
    from shops.models import Variant

    line = draft.lines[0]
    # The race this bench exists to show: two buyers read the same stock and both write
    # "stock - 1"; one unit is sold twice.
    stock = Variant.objects.values_list("stock", flat=True).get(pk=line.variant_id)
    if stock < line.quantity:
        raise OutOfStock([line.variant_id])
    with transaction.atomic():
        Variant.objects.filter(pk=line.variant_id).update(stock=stock - line.quantity)
        _insert_order(draft)


@dataclasses.dataclass(frozen=True)
class Flow:
    name: str
    call: object
    deal: bool = False
    batching: bool = True


FLOWS = [
    Flow("claim, flash deal", _claim, deal=True),
    Flow("claim, plain stock", _claim),
    Flow("claim, unbatched", _claim, batching=False),
    Flow("SELECT … FOR UPDATE", _for_update),
    Flow("read then write (no lock)", _read_then_write),
]


# --- the crowd ------------------------------------------------------------------------------


def _buyer(flow, buyer_id, variant_id, stream_id, after, cap, barrier, results):
    """One buyer thread: build its order draft as order_place does, wait for the others,
    buy until sold out, tap `after` times more. Each attempt takes a connection from the
    process's pool and gives it back at its end, as a request does; the time waiting for
    one is in the attempt's time. Sends [(start, end, kind)], its stock UPDATEs that took
    units, and the first unexpected error. A flow that oversells never says sold out:
    every buyer stops once the crowd has `cap` orders (a shared count)."""
    from django.db import connection

    from accounts.models import User
    from orders import services
    from orders.errors import DealEnded, OutOfStock
    from orders.models import Address
    from streams.models import Stream

    attempts, takes, error = [], [0], None

    def count_takes(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('UPDATE "shops_variant"') and context["cursor"].rowcount > 0:
            takes[0] += 1
        return result

    try:
        buyer = User.objects.get(pk=buyer_id)
        stream = Stream.objects.get(pk=stream_id) if stream_id else None
        (draft,) = services._drafts(
            buyer=buyer,
            items=[{"variant": variant_id, "quantity": 1}],
            stream=stream,
            address=Address.objects.get(user=buyer, is_default=True).snapshot(),
            payment=("pm_card_ok", "simulated"),
            checkout_key="draft",
        )
        # Back to the pool: the buyers waiting at the barrier hold none.
        connection.close()
        prefix = uuid.uuid4().hex[:12]
        barrier.wait(timeout=BARRIER_TIMEOUT)
        refusals = 0
        with connection.execute_wrapper(count_takes):
            for n in itertools_count():
                attempt = dataclasses.replace(draft, checkout_key=f"bench-{prefix}-{n}")
                start = time.monotonic()
                try:
                    flow.call(attempt)
                    kind = "ok"
                    with cap.get_lock():
                        cap.value -= 1
                except (OutOfStock, DealEnded):
                    kind = "sold_out"
                    refusals += 1
                finally:
                    connection.close()  # back to the pool, as at the end of a request
                attempts.append((start, time.monotonic(), kind))
                if refusals > after or cap.value <= 0:
                    break
    except Exception as exc:  # noqa: BLE001 (reported, and the run fails)
        error = f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
        results.put((attempts, takes[0], error))


def itertools_count():
    n = 0
    while True:
        yield n
        n += 1


def _process(flow, buyer_ids, variant_id, stream_id, after, cap, window, barrier, results):
    from django.conf import settings

    # Read at every claim (orders/claims.py), so setting them here applies to this process.
    settings.ORDERS_CLAIM_BATCHING = flow.batching
    if window is not None:
        settings.ORDERS_CLAIM_BATCH_WINDOW = window
    threads = [
        threading.Thread(
            target=_buyer,
            args=(flow, buyer_id, variant_id, stream_id, after, cap, barrier, results),
        )
        for buyer_id in buyer_ids
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _close_pool()


def _close_pool() -> None:
    """Close this process's connection pool, if any. Before a fork, so that no child
    inherits the parent's pooled connections or a pool without its worker threads."""
    from django.db import connections

    connections.close_all()
    if connections["default"].settings_dict["OPTIONS"].get("pool"):
        connections["default"].close_pool()


def _count_connections(stop: threading.Event, peak: list[int]) -> None:
    """Sample the connections open to this database every 50 ms, this one left out."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            while not stop.wait(0.05):
                cursor.execute(
                    "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()"
                )
                peak[0] = max(peak[0], cursor.fetchone()[0])
    finally:
        connection.close()


def busy_cpu_seconds() -> float | None:
    """CPU time the whole machine has spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_flow(flow: Flow, data: dict, args) -> dict:
    from orders.models import Order, OrderLine
    from shops.models import Variant
    from streams.models import Deal

    variant_id, stream_id, deal_id = fresh_item(flow, data, args.units)
    ctx = multiprocessing.get_context("fork")
    buyers = data["buyer_ids"][: args.processes * args.threads]
    barrier = ctx.Barrier(len(buyers))
    cap = ctx.Value("q", args.cap * args.units)  # orders the crowd may still make
    results = ctx.Queue()
    # A forked process must not share the parent's connections.
    _close_pool()
    workers = [
        ctx.Process(
            target=_process,
            args=(
                flow,
                buyers[p :: args.processes],
                variant_id,
                stream_id,
                args.after,
                cap,
                args.window,
                barrier,
                results,
            ),
        )
        for p in range(args.processes)
    ]
    collected = []
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=_count_connections, args=(stop, peak))
    cpu_before, busy_before, wall_before = os.times(), busy_cpu_seconds(), time.monotonic()
    try:
        for worker in workers:
            worker.start()
        sampler.start()  # after the fork: its connection is the parent's own
        deadline = time.monotonic() + BARRIER_TIMEOUT + RUN_TIMEOUT
        for _ in buyers:
            collected.append(results.get(timeout=max(1, deadline - time.monotonic())))
    finally:
        stop.set()
        if sampler.is_alive():
            sampler.join()
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    cpu_after, busy_after, wall_after = os.times(), busy_cpu_seconds(), time.monotonic()
    errors = [error for _, _, error in collected if error]
    attempts = [a for buyer_attempts, _, _ in collected for a in buyer_attempts]
    sold = sum(OrderLine.objects.filter(variant_id=variant_id).values_list("quantity", flat=True))
    stock_left = Variant.objects.get(pk=variant_id).stock
    deal = Deal.objects.get(pk=deal_id) if deal_id else None
    ok = sorted(a for a in attempts if a[2] == "ok")
    refused = [a for a in attempts if a[2] == "sold_out"]
    start = min(a[0] for a in attempts)
    sold_out_at = max(a[1] for a in ok)
    after = [a for a in refused if a[0] >= sold_out_at]
    during = [a for a in refused if a[0] < sold_out_at]
    return {
        "flow": flow.name,
        "buyers": len(buyers),
        "orders": Order.objects.filter(lines__variant_id=variant_id).distinct().count(),
        "sold": sold,
        "oversold": max(0, sold - args.units),
        "stock_left": stock_left,
        "deal_sold": deal.sold if deal else None,
        "deal_end": deal.ended_reason if deal else None,
        "seconds": sold_out_at - start,
        "per_second": len(ok) / (sold_out_at - start),
        "claim_ms": [1000 * (end - begin) for begin, end, _ in ok],
        "sold_out_ms": [1000 * (end - begin) for begin, end, _ in refused],
        "refused_during_ms": [1000 * (end - begin) for begin, end, _ in during],
        "refused_after_ms": [1000 * (end - begin) for begin, end, _ in after],
        "takes": sum(t for _, t, _ in collected),
        "capped": cap.value <= 0,
        "connections": peak[0],
        # From the fork to the last buyer's exit (set-up of the buyers included): the buyer
        # processes' CPU time, the whole machine's (PostgreSQL included), and what it had.
        "cpu_buyers": (cpu_after.children_user + cpu_after.children_system)
        - (cpu_before.children_user + cpu_before.children_system),
        "cpu_busy": None if busy_before is None else busy_after - busy_before,
        "cpu_available": (wall_after - wall_before) * (os.cpu_count() or 1),
        "errors": Counter(errors),
    }


# --- data -----------------------------------------------------------------------------------


def setup(buyers: int) -> dict:
    from django.utils import timezone

    from accounts.models import User
    from orders import services
    from shops.models import Shop
    from streams import services as streams_services

    tag = uuid.uuid4().hex[:8]
    seller = User.objects.create_user(
        f"flash_seller_{tag}", f"flash_seller_{tag}@example.com", is_business=True
    )
    shop = Shop.objects.create(
        owner=seller, handle=f"flash_{tag}", name="Flash sale bench", status=Shop.Status.APPROVED
    )
    host = User.objects.create_user(
        f"flash_host_{tag}", f"flash_host_{tag}@example.com", is_business=True
    )
    stream, _ = streams_services.stream_schedule(
        host=host, title="Flash sale bench", scheduled_at=timezone.now()
    )
    stream = streams_services.stream_go_live(
        stream=stream, actor=host, playback_url="https://cdn.example/bench.m3u8"
    )
    users = User.objects.bulk_create(
        [
            User(handle=f"flash_{tag}_{n}", email=f"flash_{tag}_{n}@example.com")
            for n in range(buyers)
        ]
    )
    for user in users:
        services.address_add(
            user=user,
            data={
                "name": "Bench Buyer",
                "line1": "1 Main St",
                "city": "Springfield",
                "postal_code": "12345",
                "country": "US",
            },
        )
    return {
        "tag": tag,
        "seller": seller,
        "shop": shop,
        "host": host,
        "stream": stream,
        "buyer_ids": [u.pk for u in users],
        "products": [],
    }


def fresh_item(flow: Flow, data: dict, units: int) -> tuple[int, int | None, int | None]:
    """A new product with `units` in stock; for the deal flow, on the live's carousel with
    a running deal of `units` units."""
    from shops.services import product_create
    from streams import services as streams_services

    n = len(data["products"]) + 1
    product = product_create(
        shop=data["shop"],
        actor=data["seller"],
        title=f"Flash item {n}",
        sku=f"FLASH-{n}",
        price_minor=4900,
        stock=units,
        status="active",
        affiliate_rate_bp=1000,
    )
    data["products"].append(product)
    variant_id = product.variants.get().pk
    if not flow.deal:
        return variant_id, None, None
    stream, host = data["stream"], data["host"]
    streams_services.carousel_set(stream=stream, actor=host, product_ids=[product.pk])
    deal = streams_services.deal_start(
        stream=stream,
        actor=host,
        product_id=product.pk,
        price_minor=2900,
        quantity=units,
        seconds=3600,
    )
    return variant_id, stream.pk, deal.pk


def cleanup(data: dict) -> None:
    from accounts.models import User
    from orders.models import Order
    from streams.models import Deal
    from streams.services import deal_end

    for deal_id in Deal.objects.filter(stream=data["stream"], status="active").values_list(
        "pk", flat=True
    ):
        deal_end(deal_id=deal_id, reason="host")
    Order.objects.filter(shop=data["shop"]).delete()
    data["stream"].delete()
    data["shop"].delete()
    User.objects.filter(pk__in=[*data["buyer_ids"], data["seller"].pk, data["host"].pk]).delete()


# --- figures --------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def span(values: list[float | None], fmt) -> str:
    """One figure, or the range over the rounds."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    low, high = min(values), max(values)
    return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low)}–{fmt(high)}"


def table(rounds: list[list[dict]]) -> str:
    """One line per flow; with several rounds, each cell is the range over them."""
    lines = [
        "| flow | orders/s | claim p50 | claim p99 | units sold | oversold | stock UPDATEs "
        "| sold-out answers | sold-out p50 | sold-out p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for index, first in enumerate(rounds[0]):
        rs = [rows[index] for rows in rounds]

        def count(v):
            return f"{v:,.0f}"

        oversold = span([r["oversold"] for r in rs], count)
        if any(r["capped"] for r in rs):
            oversold = f"≥ {oversold} (stopped)"
        lines.append(
            f"| {first['flow']} | {span([r['per_second'] for r in rs], count)} "
            f"| {span([percentile(r['claim_ms'], 50) for r in rs], ms)} "
            f"| {span([percentile(r['claim_ms'], 99) for r in rs], ms)} "
            f"| {span([r['sold'] for r in rs], count)} | {oversold} "
            f"| {span([r['takes'] for r in rs], count)} "
            f"| {span([len(r['sold_out_ms']) for r in rs], count)} "
            f"| {span([percentile(r['sold_out_ms'], 50) for r in rs], ms)} "
            f"| {span([percentile(r['sold_out_ms'], 99) for r in rs], ms)} |"
        )
    return "\n".join(lines)


def ratios(rounds: list[list[dict]]) -> list[str]:
    """Each claim flow's orders/s over the FOR UPDATE flow's of the same round."""
    out = []
    for rows in rounds:
        by_name = {r["flow"]: r for r in rows}
        base = by_name.get("SELECT … FOR UPDATE")
        if base is None:
            return []
        out.append(
            ", ".join(
                f"{r['flow']} {r['per_second'] / base['per_second']:.1f}×"
                for r in rows
                if r["flow"].startswith("claim")
            )
        )
    return out


def cpu(row: dict) -> str:
    busy = "" if row["cpu_busy"] is None else f", machine busy {row['cpu_busy']:.1f} s"
    return f"buyers {row['cpu_buyers']:.1f} s{busy} of {row['cpu_available']:.1f} s"


def free_connections() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_connections')::int")
        limit = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        used = cursor.fetchone()[0]
    return limit, used


def level_1(args) -> None:
    from django.core.management import call_command

    limit, used = free_connections()
    need = args.processes * args.pool + 4  # and the parent's pool: figures and the sampler
    if used + need > limit:
        sys.exit(f"needs {need} connections; {used} of {limit} are in use")
    call_command("migrate", verbosity=0)
    data = setup(args.processes * args.threads)
    print(
        f"{args.processes} processes × {args.threads} buyer threads sharing a pool of "
        f"{args.pool} connections per process, {args.units:,} units, {args.after} taps after "
        f"sold out; {used} other connections open"
    )
    flows = [
        flow
        for flow in FLOWS
        if not args.flows or any(f.lower() in flow.name.lower() for f in args.flows)
    ]
    rounds = []
    try:
        for number in range(1, args.repeat + 1):
            rows = []
            for flow in flows:
                load = os.getloadavg()[0]
                row = run_flow(flow, data, args)
                rows.append(row)
                deal = ""
                if row["deal_sold"] is not None:
                    deal = f", deal sold {row['deal_sold']} ended {row['deal_end']!r}"
                print(
                    f"  #{number} {row['flow']:<26} {row['per_second']:6,.0f} orders/s, "
                    f"{row['sold']:,} sold in {row['seconds']:.2f} s, stock left "
                    f"{row['stock_left']}{deal}, {row['takes']:,} stock UPDATEs, at most "
                    f"{row['connections']} connections, CPU {cpu(row)}, load {load:.1f} "
                    f"before, errors {dict(row['errors']) or 'none'}"
                )
                during, after = row["refused_during_ms"], row["refused_after_ms"]
                print(
                    f"     sold-out answers asked before the last sale ended: {len(during)}, p50 "
                    f"{ms(percentile(during, 50))}, max {ms(max(during, default=None))}; after "
                    f"it: {len(after)}, p50 {ms(percentile(after, 50))}, max "
                    f"{ms(max(after, default=None))}"
                )
            rounds.append(rows)
    finally:
        cleanup(data)
    print()
    print(table(rounds))
    for number, line in enumerate(ratios(rounds), 1):
        print(f"round {number}: {line} the FOR UPDATE flow's orders/s")


# --- level 2: over HTTP ---------------------------------------------------------------------


def _http_buyer(base, token, body, after, slots, start_gate, results):
    """One buyer over HTTP, on its own keep-alive connection: POST /api/v1/orders/ until
    told sold out (409), then `after` taps more. A 429 waits its Retry-After and tries
    again. Sends [(start, end, status, code)]."""
    import http.client
    import json
    from urllib.parse import urlsplit

    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
    attempts, refusals = [], 0
    payload = json.dumps(body)
    start_gate.wait()
    try:
        while refusals <= after:
            headers = {
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            }
            with slots:
                begin = time.monotonic()
                for _ in range(3):
                    try:
                        conn.request("POST", "/api/v1/orders/", payload, headers)
                        response = conn.getresponse()
                        text = response.read()
                        break
                    except (OSError, http.client.HTTPException) as exc:
                        # The server closes a keep-alive connection idle for 5 s (a buyer
                        # waiting for a slot); send again on a new one. The same
                        # Idempotency-Key makes the resend safe.
                        conn.close()
                        failure = type(exc).__name__
                else:
                    attempts.append((begin, time.monotonic(), 0, failure))
                    break
                end = time.monotonic()
            code = ""
            if response.status != 201:
                try:
                    code = json.loads(text)["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = response.reason  # an HTML error page
            attempts.append((begin, end, response.status, code))
            if response.status == 409:
                refusals += 1
            elif response.status == 429:
                time.sleep(float(response.getheader("Retry-After") or 1))
            elif response.status != 201:
                break
    finally:
        conn.close()
        results.append(attempts)


def level_2(args) -> None:
    import http.client
    from urllib.parse import urlsplit

    from django.db import connection
    from rest_framework.authtoken.models import Token

    from orders.models import Order, OrderLine
    from payments.provider_models import SimulatedCharge
    from shops.models import Variant
    from streams.models import Deal

    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        # Paid orders post to the append-only ledger, which keeps their users and shop:
        # level 2 leaves them behind, so only in a database meant for it.
        sys.exit(
            f"level 2 leaves its paid orders behind: use a database named *bench*, not {name!r}"
        )
    url = urlsplit(args.url)
    try:
        probe = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=5)
        probe.request("GET", "/healthz")
        healthy = probe.getresponse().status == 200
    except OSError:
        healthy = False
    if not healthy:
        sys.exit(f"no server answers {args.url}/healthz: start `make serve` on that port first")

    data = setup(args.buyers)
    tokens = Token.objects.bulk_create(
        [Token(user_id=pk, key=Token.generate_key()) for pk in data["buyer_ids"]]
    )
    flow = Flow("order_place over HTTP", None, deal=True)
    variant_id, stream_id, deal_id = fresh_item(flow, data, args.units)
    body = {
        "items": [{"variant": variant_id, "quantity": 1, "deal": deal_id}],
        "stream": stream_id,
        "payment_method": "pm_card_ok",
    }
    print(
        f"{args.buyers} buyers over HTTP against {args.url}, at most {args.concurrency} "
        f"requests in flight, a deal of {args.units:,} units"
    )
    slots = threading.BoundedSemaphore(args.concurrency)
    gate = threading.Event()
    results: list = []
    threads = [
        threading.Thread(
            target=_http_buyer, args=(args.url, t.key, body, args.after, slots, gate, results)
        )
        for t in tokens
    ]
    for thread in threads:
        thread.start()
    connection.close()  # the sampler's is then the only one of this process
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=_count_connections, args=(stop, peak))
    sampler.start()
    busy_before, wall_before = busy_cpu_seconds(), time.monotonic()
    gate.set()
    for thread in threads:
        thread.join(timeout=RUN_TIMEOUT)
    busy_after, wall_after = busy_cpu_seconds(), time.monotonic()
    stop.set()
    sampler.join()
    attempts = [a for buyer in results for a in buyer]
    ok = [a for a in attempts if a[2] == 201]
    refused = [a for a in attempts if a[2] == 409]
    statuses = Counter(f"{a[2]} {a[3]}".strip() for a in attempts)
    start = min(a[0] for a in attempts)
    sold_out_at = max(a[1] for a in ok) if ok else start
    after = [a for a in refused if a[0] >= sold_out_at]
    orders = Order.objects.filter(lines__variant_id=variant_id).distinct()
    paid = orders.filter(status=Order.Status.PAID)
    sold = sum(
        OrderLine.objects.filter(
            variant_id=variant_id, order__status=Order.Status.PAID
        ).values_list("quantity", flat=True)
    )
    charges = SimulatedCharge.objects.filter(
        metadata__order__in=list(orders.values_list("pk", flat=True)), amount_captured__gt=0
    ).count()
    deal = Deal.objects.get(pk=deal_id)
    claim_ms = [1000 * (a[1] - a[0]) for a in ok]
    sold_out_ms = [1000 * (a[1] - a[0]) for a in refused]
    after_ms = [1000 * (a[1] - a[0]) for a in after]
    seconds = sold_out_at - start
    print(f"  answers: {dict(statuses)}")
    print(
        f"  {len(ok):,} orders in {seconds:.2f} s: {len(ok) / seconds if seconds else 0:,.0f} "
        f"orders/s; p50 {ms(percentile(claim_ms, 50))}, p99 {ms(percentile(claim_ms, 99))}"
    )
    print(
        f"  paid orders {paid.count():,} of {orders.count():,}, units sold {sold:,}, "
        f"oversold {max(0, sold - args.units):,}, captured charges {charges:,}, stock left "
        f"{Variant.objects.get(pk=variant_id).stock}, deal sold {deal.sold} "
        f"({deal.status}, {deal.ended_reason or '-'})"
    )
    print(
        f"  sold-out answers: {len(sold_out_ms)}, p50 {ms(percentile(sold_out_ms, 50))}, p99 "
        f"{ms(percentile(sold_out_ms, 99))}; asked after the last sale: {len(after_ms)}, p50 "
        f"{ms(percentile(after_ms, 50))}, p99 {ms(percentile(after_ms, 99))}"
    )
    busy = "" if busy_before is None else f"machine busy {busy_after - busy_before:.1f} s of "
    print(
        f"  at most {peak[0]} connections to the database (the server's and Celery's); CPU: "
        f"{busy}{(wall_after - wall_before) * (os.cpu_count() or 1):.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", type=int, choices=(1, 2), default=1)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=100, help="buyer threads per process")
    parser.add_argument(
        "--pool", type=int, default=40, help="level 1: pooled connections per process at most"
    )
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--after", type=int, default=5, help="taps after sold out")
    parser.add_argument(
        "--cap", type=int, default=5, help="stop a flow at this many times --units orders"
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every flow")
    parser.add_argument("--window", type=float, help="ORDERS_CLAIM_BATCH_WINDOW, seconds")
    parser.add_argument("--url", default="http://127.0.0.1:8765", help="level 2: the server")
    parser.add_argument("--buyers", type=int, default=200, help="level 2: buyers")
    parser.add_argument(
        "--concurrency", type=int, help="level 2: requests in flight at most (default: every buyer)"
    )
    parser.add_argument("--flows", nargs="*", help="run only flows whose name contains these")
    args = parser.parse_args()
    if args.concurrency is None:
        args.concurrency = args.buyers
    if args.level == 1:
        # Django's psycopg pool, as `make serve` runs it (config/settings.py reads this when
        # Django starts): every process's buyers share at most --pool connections.
        os.environ["DATABASE_POOL_MAX_SIZE"] = str(args.pool)

    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("the flash sale needs PostgreSQL: set DATABASE_URL")
    if args.level == 1:
        level_1(args)
    else:
        level_2(args)


if __name__ == "__main__":
    main()
