"""Gifts: how many gifts a second one hot live takes, and how fast settlement rolls them up.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tapbuy_bench_gifts \\
    REDIS_URL=redis://127.0.0.1:6379/6 CACHE_PREFIX=benchgifts CHANNEL_PREFIX=benchgifts \\
        .venv/bin/python bench/gifts.py --level 1 [--processes 2] [--threads 25] [--seconds 10]

    ... .venv/bin/python bench/gifts.py --level 2 [--creators 1000] [--rows 100000 1000000] \\
        [--sample 20000]

Level 1: --processes × --threads senders (50 by default), each with plenty of coins and its
own database connection, released together by one barrier, send one gift at a time into
one live (one hot creator) for --seconds. Two flows, one after the other, on the same
senders and live:

- gift_send: gifting.services.gift_send, the service itself (the GiftSend row, one ledger
  posting whose conditional UPDATE debits the sender's wallet and whose entries credit the
  host's unsettled earnings and the platform's commission without locking their rows, the
  combo count, the live's leaderboard, gift.sent after commit);
- SELECT … FOR UPDATE: in one transaction, lock the sender's and the host's rows of a small
  balance table (in id order), check the sender's coins, UPDATE both balances and INSERT a
  gift row. Every gift of the live queues on the host's row.

It prints gifts/s (gifts sent over the time from the barrier to the end of the last one)
and the latency of a gift, nearest rank, from its start to its end.

Level 2 settles gift rows: for each --rows size, GiftSend rows spread evenly over
--creators new hosts are written with bulk_create, with one ledger posting per host that
credits the host's unsettled earnings with all of them (as gift_send would have in many),
then gifting.settlement.earnings_settle settles them and is timed. The baseline settles a
--sample of the rows one at a time: per row, in its own transaction, one UPDATE of the
host's balance row and one INSERT of an entry.

The script needs PostgreSQL (row locks, the set-based settlement) and migrates the database
it is pointed at. Gifts post to the append-only ledger, whose accounts keep their users, so
it leaves its data behind and runs only on a database whose name contains "bench": drop it
afterwards. Level 1 holds processes × threads connections and a few of its own.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Production settings, as under `make serve`: with DEBUG on, Django keeps a copy of every
# query it runs, which would be measured too. Secrets are made up for the run.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex * 2)
os.environ.setdefault("PAYMENTS_WEBHOOK_SECRET", "whsec_bench_" + uuid.uuid4().hex)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("HTTPS", "0")

BARRIER_TIMEOUT = 120  # seconds for every sender to be ready
COINS = 10_000_000  # each sender's coins: far more than --seconds of gifts can spend
GIFT_COINS = 5

BASELINE_TABLES = """
CREATE TABLE IF NOT EXISTS bench_balance (
    id bigint PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0)
);
CREATE TABLE IF NOT EXISTS bench_gift (
    id bigserial PRIMARY KEY,
    sender_id bigint NOT NULL,
    creator_id bigint NOT NULL,
    coins bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS bench_entry (
    id bigserial PRIMARY KEY,
    gift_id bigint NOT NULL,
    creator_id bigint NOT NULL,
    amount bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


class NoCoins(Exception):
    pass


# --- level 1: the flows ---------------------------------------------------------------------


def _gift_send(sender, stream_id, gift_id, host_id, key):
    from gifting.services import gift_send

    gift_send(sender=sender, stream_id=stream_id, gift_id=gift_id, quantity=1, idempotency_key=key)


def _for_update(sender, stream_id, gift_id, host_id, key):
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        # Both rows locked in id order, so that two gifts never deadlock; every gift of the
        # live waits here for the host's row.
        cursor.execute(
            "SELECT id, balance FROM bench_balance WHERE id IN (%s, %s) ORDER BY id FOR UPDATE",
            [sender.pk, host_id],
        )
        balances = dict(cursor.fetchall())
        if balances[sender.pk] < GIFT_COINS:
            raise NoCoins()
        cursor.execute(
            "UPDATE bench_balance SET balance = balance - %s WHERE id = %s",
            [GIFT_COINS, sender.pk],
        )
        cursor.execute(
            "UPDATE bench_balance SET balance = balance + %s WHERE id = %s",
            [GIFT_COINS, host_id],
        )
        cursor.execute(
            "INSERT INTO bench_gift (sender_id, creator_id, coins) VALUES (%s, %s, %s)",
            [sender.pk, host_id, GIFT_COINS],
        )


def _append_only(sender, stream_id, gift_id, host_id, key):
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        # gift_send's design without the ORM and the rest of the service: the sender's
        # coins in one conditional UPDATE, the host's credit an appended row (no lock).
        cursor.execute(
            "UPDATE bench_balance SET balance = balance - %s WHERE id = %s AND balance >= %s",
            [GIFT_COINS, sender.pk, GIFT_COINS],
        )
        if not cursor.rowcount:
            raise NoCoins()
        cursor.execute(
            "INSERT INTO bench_gift (sender_id, creator_id, coins) VALUES (%s, %s, %s) "
            "RETURNING id",
            [sender.pk, host_id, GIFT_COINS],
        )
        (gift_row,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO bench_entry (gift_id, creator_id, amount) VALUES (%s, %s, %s)",
            [gift_row, host_id, GIFT_COINS],
        )


FLOWS = [
    ("gift_send", _gift_send),
    ("SELECT … FOR UPDATE", _for_update),
    ("plain SQL, conditional debit + append-only credit", _append_only),
]
FLOW_NAMES = {"send": "gift_send", "lock": "SELECT … FOR UPDATE", "plain": FLOWS[2][0]}


def _sender(call, sender_id, data, seconds, barrier, results):
    """One sender thread: load its user, wait for the others, send gifts until --seconds
    after the barrier. Keeps its connection for the whole run. Sends [(start, end)] and the
    first unexpected error."""
    from django.db import connection

    from accounts.models import User

    times, error = [], None
    try:
        sender = User.objects.get(pk=sender_id)
        prefix = uuid.uuid4().hex[:12]
        barrier.wait(timeout=BARRIER_TIMEOUT)
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            start = time.monotonic()
            call(sender, data["stream_id"], data["gift_id"], data["host_id"], f"b-{prefix}-{n}")
            times.append((start, time.monotonic()))
            n += 1
    except Exception as exc:  # noqa: BLE001 (reported, and the run fails)
        error = f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
        results.put((times, error))


def _process(call, sender_ids, data, seconds, barrier, results):
    threads = [
        threading.Thread(target=_sender, args=(call, pk, data, seconds, barrier, results))
        for pk in sender_ids
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_flow(name, call, data, args) -> dict:
    from django.db import connections

    senders = data["sender_ids"]
    groups = [senders[i :: args.processes] for i in range(args.processes)]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(senders))
    results = context.Queue()
    connections.close_all()  # no connection crosses the fork
    cpu_before, busy_before = os.times(), busy_cpu_seconds()
    processes = [
        context.Process(target=_process, args=(call, g, data, args.seconds, barrier, results))
        for g in groups
    ]
    for process in processes:
        process.start()
    collected = [results.get(timeout=BARRIER_TIMEOUT + args.seconds + 120) for _ in senders]
    for process in processes:
        process.join()
    cpu_after, busy_after = os.times(), busy_cpu_seconds()
    errors = [error for _, error in collected if error]
    times = [t for sender_times, _ in collected for t in sender_times]
    start, end = min(t[0] for t in times), max(t[1] for t in times)
    return {
        "flow": name,
        "gifts": len(times),
        "seconds": end - start,
        "per_second": len(times) / (end - start),
        "ms": [1000 * (b - a) for a, b in times],
        "errors": errors,
        # The sender processes' CPU time (Python: the service, the ORM, the driver) and the
        # whole machine's (PostgreSQL and Redis included), from the fork to the last exit.
        "cpu_senders": (cpu_after.children_user + cpu_after.children_system)
        - (cpu_before.children_user + cpu_before.children_system),
        "cpu_busy": None if busy_before is None else busy_after - busy_before,
    }


def busy_cpu_seconds() -> float | None:
    """CPU-seconds the whole machine has been busy since boot (Linux), else None."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def setup_level_1(senders: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from gifting import services
    from gifting.models import Gift
    from payments.ledger import Line, ledger_post
    from streams import services as streams_services

    tag = uuid.uuid4().hex[:8]
    host = User.objects.create_user(
        f"gifts_host_{tag}", f"gifts_host_{tag}@example.com", is_business=True
    )
    stream, _ = streams_services.stream_schedule(
        host=host, title="Gifts bench", scheduled_at=timezone.now()
    )
    stream = streams_services.stream_go_live(
        stream=stream, actor=host, playback_url="https://cdn.example/bench.m3u8"
    )
    gift = Gift.objects.create(name="Heart", slug=f"heart-{tag}", coins=GIFT_COINS)
    users = User.objects.bulk_create(
        [
            User(handle=f"gifts_{tag}_{n}", email=f"gifts_{tag}_{n}@example.com")
            for n in range(senders)
        ]
    )
    issued = services._issued_account()
    for user in users:
        # Coins straight from the platform's issue, as a paid coin pack would post them.
        ledger_post(
            kind="bench.coins",
            key=f"bench-coins:{user.pk}",
            lines=[Line(issued, -COINS), Line(services.wallet_account(user=user), COINS)],
        )
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_TABLES)
        cursor.executemany(
            "INSERT INTO bench_balance (id, balance) VALUES (%s, %s)",
            [(user.pk, COINS) for user in users] + [(host.pk, 0)],
        )
    return {
        "host_id": host.pk,
        "stream_id": stream.pk,
        "gift_id": gift.pk,
        "sender_ids": [u.pk for u in users],
    }


def level_1(args) -> None:
    data = setup_level_1(args.processes * args.threads)
    print(
        f"{len(data['sender_ids'])} senders ({args.processes} processes × {args.threads} "
        f"threads, a connection each) into one live, {args.seconds:g} s per flow"
    )
    rows = []
    flows = [(name, call) for name, call in FLOWS if name in args.flows]
    for _ in range(args.repeat):
        for name, call in flows:
            row = run_flow(name, call, data, args)
            rows.append(row)
            print(
                f"  {name}: {row['gifts']:,} gifts in {row['seconds']:.2f} s, "
                f"{row['per_second']:,.0f}/s, p50 {ms(percentile(row['ms'], 50))}, "
                f"p99 {ms(percentile(row['ms'], 99))}, errors {len(row['errors'])}; CPU: senders "
                f"{row['cpu_senders']:.1f} s, machine busy {row['cpu_busy'] or 0:.1f} s"
                + (f" ({row['errors'][0]})" if row["errors"] else "")
            )
    print()
    print("| flow | gifts | gifts/s | p50 | p99 |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['flow']} | {row['gifts']:,} | {row['per_second']:,.0f} "
            f"| {ms(percentile(row['ms'], 50))} | {ms(percentile(row['ms'], 99))} |"
        )
    if len(flows) < len(FLOWS):
        return
    for i in range(0, len(rows), len(FLOWS)):
        ours, base, plain = rows[i : i + len(FLOWS)]
        print(
            f"against FOR UPDATE: gift_send {ours['per_second'] / base['per_second']:.2f}×, "
            f"plain SQL append-only {plain['per_second'] / base['per_second']:.2f}×"
        )


# --- level 2: settlement --------------------------------------------------------------------


def make_rows(rows: int, creators: list, sender, stream, gift, tag: str) -> None:
    """`rows` gift sends spread evenly over the creators, written with bulk_create, and one
    ledger posting per creator for all of theirs (as gift_send would have in many)."""
    from gifting import services
    from gifting.models import GiftSend
    from payments.ledger import Line, ledger_post

    per_creator = rows // len(creators)
    sales, commission_account = services._sales_account("USD"), services._commission_account("USD")
    for creator in creators:
        batch = []
        for n in range(per_creator):
            quantity = 1 + n % 7
            coins = gift.coins * quantity
            value, creator_minor, platform_minor = services.gift_split(coins=coins)
            batch.append(
                GiftSend(
                    sender=sender,
                    stream=stream,
                    creator=creator,
                    gift=gift,
                    quantity=quantity,
                    coins=coins,
                    value_minor=value,
                    creator_minor=creator_minor,
                    platform_minor=platform_minor,
                    currency="USD",
                    idempotency_key=f"{tag}-{creator.pk}-{n}",
                )
            )
        GiftSend.objects.bulk_create(batch, batch_size=5000)
        share = sum(row.creator_minor for row in batch)
        commission = sum(row.platform_minor for row in batch)
        ledger_post(
            kind="gift.sent",
            key=f"bench:{tag}:{creator.pk}",
            lines=[
                Line(sales, -(share + commission)),
                Line(services.earnings_account(creator=creator, currency="USD"), share),
                Line(commission_account, commission),
            ],
        )


def per_row_baseline(sample: int, until) -> dict:
    """Settle `sample` settled-size gift rows one at a time: per row, in its own
    transaction, UPDATE the host's balance row and INSERT an entry."""
    from django.db import connection, transaction

    from gifting.models import GiftSend

    rows = list(
        GiftSend.objects.filter(created_at__lt=until)
        .order_by("pk")
        .values_list("pk", "creator_id", "creator_minor")[:sample]
    )
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_TABLES)
        cursor.execute(
            "INSERT INTO bench_balance (id, balance) SELECT DISTINCT creator_id, 0 "
            "FROM gifting_giftsend ON CONFLICT (id) DO NOTHING"
        )
    start = time.monotonic()
    for pk, creator_id, amount in rows:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE bench_balance SET balance = balance + %s WHERE id = %s",
                [amount, creator_id],
            )
            cursor.execute(
                "INSERT INTO bench_entry (gift_id, creator_id, amount) VALUES (%s, %s, %s)",
                [pk, creator_id, amount],
            )
    seconds = time.monotonic() - start
    return {"rows": len(rows), "seconds": seconds, "per_second": len(rows) / seconds}


def level_2(args) -> None:
    from django.utils import timezone

    from accounts.models import User
    from gifting.models import Gift, GiftSend
    from gifting.settlement import earnings_settle
    from streams import services as streams_services

    tag = uuid.uuid4().hex[:8]
    host = User.objects.create_user(
        f"settle_host_{tag}", f"settle_host_{tag}@example.com", is_business=True
    )
    stream, _ = streams_services.stream_schedule(
        host=host, title="Settlement bench", scheduled_at=timezone.now()
    )
    stream_services_live = streams_services.stream_go_live(
        stream=stream, actor=host, playback_url="https://cdn.example/bench.m3u8"
    )
    sender = User.objects.create_user(f"settle_sender_{tag}", f"settle_sender_{tag}@example.com")
    gift = Gift.objects.create(name="Heart", slug=f"heart-{tag}", coins=GIFT_COINS)
    print(f"settlement of gift rows for {args.creators:,} hosts (earnings_settle, default batch)")
    results = []
    for size in args.rows:
        creators = User.objects.bulk_create(
            [
                User(handle=f"s{tag}_{size // 1000}k_{n}", email=f"s{tag}_{size}_{n}@example.com")
                for n in range(args.creators)
            ]
        )
        made = time.monotonic()
        make_rows(size, creators, sender, stream_services_live, gift, f"{tag}-{size}")
        made = time.monotonic() - made
        until = timezone.now()
        start = time.monotonic()
        settled = earnings_settle(until=until)
        seconds = time.monotonic() - start
        left = GiftSend.objects.filter(statement__isnull=True, created_at__lt=until).count()
        results.append((size, settled, seconds))
        print(
            f"  {size:,} rows (written in {made:.1f} s): settled {settled:,} in {seconds:.2f} s, "
            f"{settled / seconds:,.0f} rows/s; left unsettled {left:,}"
        )
    base = per_row_baseline(args.sample, timezone.now())
    print(
        f"  per-row baseline (UPDATE + INSERT per row, a transaction each) on {base['rows']:,} "
        f"rows: {base['seconds']:.2f} s, {base['per_second']:,.0f} rows/s"
    )
    print()
    print("| rows | settled | seconds | rows/s | time / first size's | vs per-row |")
    print("|---:|---:|---:|---:|---:|---:|")
    first = results[0]
    for size, settled, seconds in results:
        print(
            f"| {size:,} | {settled:,} | {seconds:.2f} | {settled / seconds:,.0f} "
            f"| {seconds / first[2]:.1f}× for {size / first[0]:g}× rows "
            f"| {settled / seconds / base['per_second']:.0f}× |"
        )
    print(
        f"| per-row baseline, {base['rows']:,} | – | {base['seconds']:.2f} "
        f"| {base['per_second']:,.0f} | – | 1× |"
    )


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", type=int, choices=(1, 2), default=1)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=25, help="senders per process")
    parser.add_argument("--seconds", type=float, default=10.0, help="level 1: per flow")
    parser.add_argument("--repeat", type=int, default=1, help="level 1: rounds of the flows")
    parser.add_argument(
        "--flows",
        nargs="+",
        choices=sorted(FLOW_NAMES),
        default=sorted(FLOW_NAMES),
        help="level 1: which flows (gift_send, the locking design, plain SQL)",
    )
    parser.add_argument("--creators", type=int, default=1000, help="level 2: hosts")
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="level 2: sizes"
    )
    parser.add_argument("--sample", type=int, default=20_000, help="level 2: per-row baseline")
    args = parser.parse_args()
    args.flows = {FLOW_NAMES[flow] for flow in args.flows}

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("the gifts bench needs PostgreSQL: set DATABASE_URL")
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        # Gifts post to the append-only ledger, which keeps their users: the script leaves
        # its data behind, so only in a database meant for it.
        sys.exit(
            f"the gifts bench leaves its data behind: use a database named *bench*, not {name!r}"
        )
    call_command("migrate", verbosity=0)
    if args.level == 1:
        level_1(args)
    else:
        level_2(args)


if __name__ == "__main__":
    main()
