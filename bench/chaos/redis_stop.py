"""Chaos: Redis stopped during a live and during checkout.

    .venv/bin/python bench/chaos/redis_stop.py [--clients 12] [--operations 12] [--pause 4]
        [--every 15] [--down 5] [--viewers 4]

In this topology Redis is the cache, the live events' pub/sub and the Celery broker. While
the clients check out and send gifts (as in the other chaos scripts), a few anonymous
viewers stay on the live's socket (/ws/live/<id>/), and the run's own redis-server is
stopped (SIGKILL and SIGTERM in turn) for `--down` seconds every `--every` seconds, and
started again on the same port with its append-only file (`appendfsync everysec`, as
docs/operations.md asks of the broker's Redis; `--empty`: no persistence, it comes back
empty and loses the tasks it held); the clients pause about `--pause` seconds between
operations so that the load meets several outages. Checkout and gifting must go on without
it; the orders' emails must wait in the outbox (outbox.OutboxTask) and be sent once Redis
is back, once each; the viewers' sockets must stay open, get a fresh snapshot after each
outage and end with the stock the database holds.

After the load, every operation still unknown is retried until answered, background work
is let drain (the outbox relayed, the broker's queue empty, every queued email sent), then
the checker's verdict, the follow-up work and the viewers are checked, printed and written
to bench/README.md ("Chaos"). Exit 1 if anything is unsound.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import websockets
from harness import Run, arguments

from bench.chaos.checker import (
    LiveView,
    Outage,
    check_follow_up,
    check_viewers,
    load_history,
    setup_django,
)

# Answers that are the service shedding load, not failing: the client retries them.
BUSY = {"checkout_busy", "gifts_busy"}
# Refusals the clients' operations may get whatever Redis does.
EXPECTED_REFUSALS = {"out_of_stock"}
# The orders.emails task's result in the worker's log: how many emails that run sent.
EMAIL_RUN = re.compile(r"Task orders\.emails\[[^\]]+\] succeeded in [^:]+: (\d+)")


class Viewers:
    """Anonymous viewers of the live, each on its own socket, on an event loop of their own
    in a thread; what each one knows is a checker.LiveView. A viewer whose socket closes
    connects again with backoff, as the live page does; one that sees a gap in seq asks for
    a snapshot on its socket ({"type": "resync"}), again after `retry_after` when the server
    answers that it asks too often."""

    def __init__(self, run: Run, count: int):
        self.url = f"ws://127.0.0.1:{run.port}/ws/live/{run.data['live']}/"
        self.origin = run.env["SITE_URL"]
        self.views = [LiveView(f"viewer-{i}") for i in range(count)]
        self.next_ask: dict[str, float | None] = {}
        self.sockets: dict[str, object] = {}
        self.stopping = False
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.watchers: list = []

    def start(self, timeout: float = 30) -> None:
        self.thread.start()
        self.watchers = [
            asyncio.run_coroutine_threadsafe(self._watch(view), self.loop) for view in self.views
        ]
        deadline = time.monotonic() + timeout
        while not all(view.snapshots for view in self.views):
            if time.monotonic() > deadline:
                raise RuntimeError("the viewers got no snapshot")
            time.sleep(0.2)

    def settled(self) -> bool:
        return all(view.open and not view.wants_snapshot for view in self.views)

    def stop(self) -> None:
        self.stopping = True
        closing = asyncio.run_coroutine_threadsafe(self._close_all(), self.loop)
        with contextlib.suppress(Exception):
            closing.result(timeout=15)
        for watcher in self.watchers:
            with contextlib.suppress(Exception):
                watcher.result(timeout=15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    async def _close_all(self) -> None:
        for socket in list(self.sockets.values()):
            with contextlib.suppress(Exception):
                await socket.close()

    async def _watch(self, view: LiveView) -> None:
        delay = 0.5
        while not self.stopping:
            why = "closed"
            try:
                async with websockets.connect(self.url, origin=self.origin, open_timeout=10) as ws:
                    view.open = True
                    view.opens.append(time.time())
                    self.sockets[view.name] = ws
                    delay = 0.5
                    asker = asyncio.create_task(self._ask(ws, view))
                    try:
                        async for raw in ws:
                            if self._receive(view, raw):
                                # A gap: ask at once, as the live page does (it fetches).
                                await self._resync(ws, view)
                    finally:
                        asker.cancel()
                    why = f"closed with {ws.close_code}"
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                why = f"{type(exc).__name__}: {exc}"[:120]
            view.open = False
            self.sockets.pop(view.name, None)
            if self.stopping:
                return
            view.drops.append((time.time(), why))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _receive(self, view: LiveView, raw) -> bool:
        """Apply a message to the view; True when it opened a gap."""
        at = time.time()
        message = json.loads(raw)
        if view.apply(message, at):
            return True
        if message.get("type") == "error" and message["data"].get("code") == "rate_limited":
            self.next_ask[view.name] = at + float(message["data"].get("retry_after") or 5)
        return False

    async def _resync(self, ws, view: LiveView) -> None:
        self.next_ask[view.name] = time.time() + 10  # unanswered: ask again then
        view.asking += 1
        await ws.send('{"type":"resync"}')

    async def _ask(self, ws, view: LiveView) -> None:
        """Ask again for a snapshot still wanted: the last resync was refused for asking
        too often (after its retry_after), or went unanswered (after 10 s)."""
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(0.2)
                due = self.next_ask.get(view.name)
                if view.wants_snapshot and due is not None and time.time() >= due:
                    await self._resync(ws, view)


def attempts_in_outages(ops, outages: list[Outage]) -> dict:
    """The attempts in flight while Redis was down: their outcomes and how long they took."""
    during = [
        op
        for op in ops
        if any(
            op.invoke < o.up_at and (op.complete if op.complete else float("inf")) > o.down_at
            for o in outages
        )
    ]
    took = [op.complete - op.invoke for op in during if op.complete]
    return {
        "count": len(during),
        "outcomes": Counter(op.outcome for op in during),
        "statuses": Counter(op.response.get("status", "none") for op in during),
        "median": statistics.median(took) if took else 0.0,
        "max": max(took, default=0.0),
    }


def bad_answers(ops) -> list[str]:
    """Answers that should not be with only Redis failing: a 5xx other than the services'
    load shedding, no answer at all, or a refusal that is not for want of stock."""
    found = []
    for op in ops:
        status, code = op.response.get("status"), op.response.get("code", "")
        if "error" in op.response:
            found.append(f"{op.op} {op.key}: no answer ({op.response['error']})")
        elif status and status >= 500 and code not in BUSY:
            found.append(f"{op.op} {op.key}: {status} {code}".rstrip())
        elif (
            status
            and 400 <= status < 500
            and code not in EXPECTED_REFUSALS | {"idempotency_in_progress"}
        ):
            found.append(f"{op.op} {op.key}: refused {status} {code}")
    return found


def outbox_rows() -> list[dict]:
    from outbox.models import OutboxTask

    return [
        {"id": pk, "task": task, "kwargs": kwargs, "sent": sent is not None, "attempts": tries}
        for pk, task, kwargs, sent, tries in OutboxTask.objects.order_by("pk").values_list(
            "pk", "task", "kwargs", "sent_at", "attempts"
        )
    ]


def email_claims() -> Counter:
    from orders.models import OrderEvent

    return Counter(
        OrderEvent.objects.filter(kind__startswith="email.").values_list("order_id", "kind")
    )


def broker_holds(run: Run) -> tuple[int, int]:
    """(messages queued, messages delivered and not acknowledged yet) in the broker now:
    what a Redis that comes back empty no longer has."""
    import redis

    queue = run.env.get("CELERY_QUEUE") or "celery"
    try:
        broker = redis.Redis.from_url(run.redis.url, socket_timeout=2)
        with broker:
            return broker.llen(queue), broker.hlen("unacked")
    except redis.exceptions.RedisError:
        return -1, -1


def drain(run: Run, *, timeout: float) -> dict:
    """Wait until background work is done: every outbox row sent, the broker's queue and
    its unacknowledged messages empty, every queued email claimed as sent; twice in a row,
    two seconds apart. Returns what was still left at the end (all zero when drained)."""
    import redis

    broker = redis.Redis.from_url(run.redis.url, socket_timeout=5)
    queue = run.env.get("CELERY_QUEUE") or "celery"  # the list the worker reads
    deadline = time.monotonic() + timeout
    calm, left = 0, {}
    started = time.monotonic()
    while True:
        rows = outbox_rows()
        claims = email_claims()
        emails = {
            (r["kwargs"]["order_id"], r["kwargs"]["what"])
            for r in rows
            if r["task"] == "orders.emails"
        }
        try:
            queued = broker.llen(queue) + broker.hlen("unacked")
        except redis.exceptions.RedisError:
            queued = -1
        left = {
            "unsent rows": sum(not r["sent"] for r in rows),
            "broker messages": queued,
            "emails not sent": sum(not claims.get((o, f"email.{w}")) for o, w in emails),
        }
        calm = calm + 1 if not any(left.values()) else 0
        if calm >= 2 or time.monotonic() > deadline:
            left["seconds"] = round(time.monotonic() - started, 1)
            return left
        time.sleep(2)


def emails_in(folder: Path) -> Counter:
    """The subjects of the emails the worker sent (Django's file backend: one file per
    batch of messages)."""
    seen: Counter = Counter()
    if folder.is_dir():
        for path in folder.iterdir():
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Subject: "):
                    seen[line.removeprefix("Subject: ").strip()] += 1
    return seen


def expected_emails() -> dict[tuple[int, str], list[str]]:
    from orders.emails import MERCHANT_SUBJECT, SUBJECTS
    from orders.models import Order

    expected = {}
    for order in Order.objects.select_related("shop"):
        for what, subject in SUBJECTS.items():
            expected[(order.pk, what)] = [subject.format(ref=order.reference)]
        expected[(order.pk, "paid")].append(
            MERCHANT_SUBJECT.format(ref=order.reference, shop=order.shop.name)
        )
    return expected


def paid_orders() -> list[int]:
    from payments.ledger_models import LedgerTransaction

    keys = LedgerTransaction.objects.filter(kind="order.paid").values_list("key", flat=True)
    return sorted(int(key.split(":")[1]) for key in keys)


def carousel_stock(live: int) -> dict[int, int]:
    from django.db.models import Sum

    from streams.models import CarouselItem

    return dict(
        CarouselItem.objects.filter(stream_id=live)
        .annotate(units=Sum("product__variants__stock"))
        .values_list("product_id", "units")
    )


def main() -> None:
    parser = arguments(__doc__, every=15, every_help="seconds between outages")
    parser.add_argument("--down", type=float, default=5, help="seconds Redis stays down")
    parser.add_argument("--first", type=float, default=2, help="seconds before the first")
    parser.add_argument(
        "--pause", type=float, default=4, help="seconds between a client's operations, about"
    )
    parser.add_argument("--viewers", type=int, default=4)
    parser.add_argument("--drain", type=float, default=240, help="seconds to wait, at most")
    parser.add_argument(
        "--empty",
        action="store_true",
        help="Redis without persistence: it comes back empty, and the tasks it held are lost",
    )
    args = parser.parse_args()
    if not 0 < args.down < args.every:
        parser.error("--down must be above 0 and below --every")

    run = Run(
        "redis_stop",
        database_url=args.database_url,
        workers=args.workers,
        persistent_redis=not args.empty,
    )
    stem = run.history_path.with_suffix("")
    mail = Path(f"{stem}-mail")
    # Each batch of emails the worker sends is a file there, to be counted (the URL's path
    # after "filemail://" is taken as relative unless it starts with another slash).
    run.env["EMAIL_URL"] = f"filemail:///{mail.resolve()}"
    port = run.redis.port
    outages: list[Outage] = []
    exposed: list[tuple[int, int]] = []  # the broker's messages when each outage began
    ports: set[int] = set()
    viewers = None
    try:
        run.prepare(buyers=args.clients)
        run.start()
        print(f"serving on {run.port}; history {run.history_path}", flush=True)
        viewers = Viewers(run, args.viewers)
        viewers.start()

        def fault(stop):
            signals = itertools.cycle((signal.SIGKILL, signal.SIGTERM))
            wait = args.first
            while not stop.wait(wait):
                exposed.append(broker_holds(run))
                down_at = time.time()
                run.redis.stop(next(signals))
                # Down for the whole time even if the clients finish meanwhile: Redis is
                # always started again.
                time.sleep(args.down)
                restarted_at = time.time()
                run.redis.start()
                outages.append(Outage(down_at, restarted_at, time.time()))
                ports.add(run.redis.port)
                print(f"  outage {len(outages)}: {time.time() - down_at:.1f} s", flush=True)
                wait = max(0.0, args.every - (time.time() - down_at))

        run.load(clients=args.clients, operations=args.operations, fault=fault, pause=args.pause)
        load_ended = time.time()
        # This process only reads the database; its Django points at the run's Redis all
        # the same, never at another one named in the environment.
        os.environ["REDIS_URL"] = run.redis.url
        setup_django(run.database_url)
        left = drain(run, timeout=args.drain)
        print(f"  drained: {left}", flush=True)
        # A viewer that saw a gap late may wait for its resync's rate limit (a minute).
        deadline = time.monotonic() + 75
        while not viewers.settled() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # the last events on their way
        until = time.time()
        report = check_viewers(
            viewers.views, outages, carousel_stock(run.data["live"]), until=until
        )
        verdict = run.verdict(quiet_seconds=0)
        rows, claims, paid = outbox_rows(), email_claims(), paid_orders()
        expected = expected_emails()
        viewers.stop()
    finally:
        if viewers is not None and not viewers.stopping:
            viewers.stop()
        run.stop()
    log = run.log_path.read_text(errors="replace")
    runs = Counter(int(n) for n in EMAIL_RUN.findall(log))
    follow = check_follow_up(
        rows=rows,
        paid=paid,
        claims=claims,
        expected_emails=expected,
        seen_emails=emails_in(mail),
        email_runs=runs,
    )
    _, ops = load_history(run.history_path)
    during = attempts_in_outages(ops, outages)
    answers = bad_answers(ops)
    views_path = Path(f"{stem}-viewers.json")
    views_path.write_text(json.dumps([vars(v) for v in viewers.views]) + "\n")

    problems = list(follow.problems) + list(report.problems) + answers
    if ports != {port}:
        problems.append(f"Redis came back on ports {sorted(ports)}, not {port}")
    if any(v for k, v in left.items() if k != "seconds"):
        problems.append(f"background work not drained after {left['seconds']} s: {left}")
    if run.unsettled:
        problems.append(f"{run.unsettled} operations still unknown after settling")
    sound = verdict.sound and not problems

    down = sum(o.up_at - o.down_at for o in outages)
    events = sum((v.events for v in viewers.views), Counter())
    gaps = sum(len(v.gaps) for v in viewers.views)
    # A gap within 10 s of Redis coming back is the outage's; the others are not.
    near = sum(
        1
        for v in viewers.views
        for at, _, _ in v.gaps
        if any(o.down_at <= at <= o.up_at + 10 for o in outages)
    )
    rewinds = sum(v.rewinds for v in viewers.views)
    drops = sum(len(v.drops) for v in viewers.views)
    asked = sum(sum(1 for s in v.snapshots if s[2]) for v in viewers.views)
    per_outage = ", ".join(
        f"{n}/{len(viewers.views)} ({u} unasked)"
        for n, u in zip(report.snapshots_after, report.unasked_after, strict=True)
    )
    equal = "yes" if len(report.equal) == len(viewers.views) else "no"
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(during["statuses"].items(), key=str))
    latest = ", ".join("-" if x is None else f"{x:.1f}" for x in report.latest)
    emailed = sum(1 for (_, kind), n in claims.items() if kind == "email.paid" and n)
    waiting = sum(v.wants_snapshot for v in viewers.views)
    notes = [
        f"Outages: {len(outages)} (SIGKILL and SIGTERM in turn), {down:.1f} s down in all "
        "(each from the stop until the restarted Redis answered); Redis came back "
        f"{'empty' if args.empty else 'with its append-only file'}, on the same port every "
        f"time: {'yes' if ports == {port} else 'no'}; the broker held "
        f"{sum(q for q, _ in exposed)} queued and {sum(u for _, u in exposed)} unacknowledged "
        "messages at the moments it was stopped; the clients' load lasted "
        f"{load_ended - run_started(ops):.0f} s",
        f"Attempts in flight during an outage: {during['count']} ({statuses}); they took "
        f"{during['median']:.2f} s (median), {during['max']:.2f} s at most; answers that "
        f"should not be (a 5xx other than load shedding, none, an odd refusal): {len(answers)}",
        f"Viewers: {len(viewers.views)} anonymous sockets on the live; dropped {drops} times, "
        f"reconnected {sum(len(v.opens) - 1 for v in viewers.views)} times; viewers with a "
        f"snapshot after each outage: {per_outage}, the last one {latest} s after Redis "
        f"answered; {gaps} gaps in seq ({near} within 10 s of an outage), {asked} snapshots "
        f"asked for on the socket, {rewinds} snapshots behind an event received before them, "
        f"{waiting} viewers still waiting for one at the end; events applied: "
        + ", ".join(f"{k} {v}" for k, v in sorted(events.items()))
        + f"; final stock per carousel product equal to the database's: {equal}",
        f"Outbox: {follow.rows} rows written, {follow.sent} sent "
        f"({follow.relayed} after a failed attempt: by the relay once Redis was back), "
        f"{follow.rows - follow.sent} unsent; {len(paid)} paid orders, {emailed} of them with "
        f"their emails sent; {follow.emails} emails in all, {follow.emails_missing} missing, "
        f"{follow.emails_twice} sent twice; orders.emails ran {sum(runs.values())} times, "
        f"{follow.repeated_runs} of them a second delivery that found its emails sent "
        f"already; background work drained {left['seconds']} s after the load",
        "Verdict for this fault: "
        + ("sound" if not problems else "NOT SOUND: " + "; ".join(problems[:10])),
    ]
    print(verdict.summary())
    for line in verdict.details() + notes:
        print(f"  {line}")
    for line in problems[10:]:
        print(f"  {line}")
    print(f"viewers: {views_path}")
    if not args.no_readme:
        run.write_up(
            title="Redis stopped during a live and during checkout (bench/chaos/redis_stop.py)",
            injected=f"the run's redis-server (cache, live pub/sub and Celery broker) stopped "
            f"for {args.down:g} s every {args.every:g} s (the first after {args.first:g} s) while "
            f"{args.clients} clients made {args.operations} operations each (checkouts and "
            f"gifts, half and half, about {args.pause:g} s apart) and {args.viewers} viewers "
            "watched the live; every request without an answer retried with its "
            "Idempotency-Key until answered",
            command=f".venv/bin/python bench/chaos/redis_stop.py --clients {args.clients} "
            f"--operations {args.operations} --pause {args.pause:g} --every {args.every:g} "
            f"--down {args.down:g} --viewers {args.viewers}",
            verdict=verdict,
            notes=notes,
        )
    raise SystemExit(0 if sound else 1)


def run_started(ops) -> float:
    return min((op.invoke for op in ops), default=time.time())


if __name__ == "__main__":
    main()
