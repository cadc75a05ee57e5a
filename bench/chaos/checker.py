"""A history checker in the style of Jepsen's bank test, for gifts and checkouts.

    .venv/bin/python bench/chaos/checker.py HISTORY.jsonl --database-url postgres://…/tapbuy_chaos

Clients record every operation they invoke and how it ended (`Recorder`): ok (the server
acknowledged it: a paid order, a sent gift), fail (the server refused it and nothing was
done), unknown (a timeout, a dropped connection, a 5xx: it may or may not have happened).
Retries of one operation share its idempotency key, so the key names the operation.

The checker reads the history and the database and proves that:

- every ok operation is in the database exactly once, with the amount acknowledged;
- every failed one is absent;
- each unknown one is there once or not at all;
- nothing is in the database that no client invoked;
- the ledger sums to zero per unit, each transaction balances, and every cached balance is
  the sum of its entries, none negative where none may be;
- for every variant, stock + sold = received.

`check()` is pure (the history and what the database holds, as plain values) so that it is
tested on made-up histories; `read_database()` gathers those values with Django.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"
OUTCOMES = (OK, FAIL, UNKNOWN)
CHECKOUT, GIFT = "checkout", "gift"


@dataclass(slots=True)
class Op:
    """One attempt at an operation, as its client saw it."""

    process: str  # which client
    op: str  # CHECKOUT or GIFT
    user: int  # the buyer or the sender
    key: str  # the Idempotency-Key: the same for every retry of one operation
    amount: int  # minor units for a checkout, coins for a gift
    invoke: float  # time.time() when sent
    complete: float | None  # when the answer came (None: none came)
    outcome: str  # OK, FAIL or UNKNOWN
    response: dict = field(default_factory=dict)  # status and the body's gist

    @property
    def name(self) -> tuple[str, int, str]:
        return (self.op, self.user, self.key)


class Recorder:
    """Appends each attempt to a JSON-lines file as it completes; thread-safe. The first
    line holds the run's facts the checker needs (`meta`: what stock was received)."""

    def __init__(self, path: Path, meta: dict):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.write_text(json.dumps({"meta": meta}) + "\n")

    def record(self, op: Op) -> None:
        line = json.dumps(asdict(op)) + "\n"
        with self._lock, self.path.open("a") as out:
            out.write(line)

    @staticmethod
    def now() -> float:
        return time.time()


def load_history(path: Path) -> tuple[dict, list[Op]]:
    meta, ops = {}, []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if "meta" in row:
            meta = row["meta"]
        else:
            ops.append(Op(**row))
    return meta, ops


def combined(attempts: list[Op]) -> str:
    """One operation's outcome over its attempts: acknowledged once is acknowledged; else
    refused once is refused. A refusal of a retry is the server's word that the key did
    nothing (a first attempt that did something makes a retry find and return it), so the
    operation must then be absent even if an earlier attempt went unanswered: the stricter
    claim, which check() verifies."""
    outcomes = {a.outcome for a in attempts}
    if OK in outcomes:
        return OK
    if FAIL in outcomes:
        return FAIL
    return UNKNOWN


@dataclass
class Verdict:
    operations: Counter = field(default_factory=Counter)  # ok / fail / unknown, by operation
    attempts: Counter = field(default_factory=Counter)  # the same, by attempt
    unknown_present: int = 0
    unknown_absent: int = 0
    lost: list = field(default_factory=list)  # ok, absent
    duplicated: list = field(default_factory=list)  # in the database more than once
    failed_present: list = field(default_factory=list)  # refused, yet done
    wrong_amount: list = field(default_factory=list)  # done, with another amount than acknowledged
    unexpected: list = field(default_factory=list)  # done, never invoked
    problems: list = field(default_factory=list)  # ledger and stock invariants

    @property
    def sound(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.failed_present
            or self.wrong_amount
            or self.unexpected
            or self.problems
        )

    def summary(self) -> str:
        ops = ", ".join(f"{k} {self.operations[k]}" for k in OUTCOMES)
        line = (
            f"operations: {ops} (unknown: {self.unknown_present} done, "
            f"{self.unknown_absent} not done); lost: {len(self.lost)}, "
            f"duplicated: {len(self.duplicated)}"
        )
        extra = [
            f"{label}: {len(items)}"
            for label, items in (
                ("failed yet done", self.failed_present),
                ("wrong amount", self.wrong_amount),
                ("never invoked", self.unexpected),
                ("invariant problems", self.problems),
            )
            if items
        ]
        return line + ("; " + ", ".join(extra) if extra else "")

    def details(self, limit: int = 10) -> list[str]:
        lines = []
        for label, items in (
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("failed yet done", self.failed_present),
            ("wrong amount", self.wrong_amount),
            ("never invoked", self.unexpected),
            ("problem", self.problems),
        ):
            lines += [f"{label}: {item}" for item in items[:limit]]
        return lines


def check(
    ops: list[Op],
    found: dict[tuple[str, int, str], list[int]],
    *,
    unit_totals: dict[str, int] | None = None,
    ledger_problems: list[str] | None = None,
    stock: dict[int, tuple[int, int]] | None = None,
    received: dict[int, int] | None = None,
) -> Verdict:
    """found: (op, user, key) → the amount of each time the database holds it (a paid
    order, a sent gift). unit_totals: the sum of every ledger entry per unit. stock:
    variant → (stock now, units sold); received: variant → units received."""
    verdict = Verdict()
    by_name: dict[tuple, list[Op]] = defaultdict(list)
    for op in ops:
        if op.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {op.outcome!r}")
        verdict.attempts[op.outcome] += 1
        by_name[op.name].append(op)
    for name, attempts in sorted(by_name.items()):
        outcome = combined(attempts)
        verdict.operations[outcome] += 1
        amounts = found.get(name, [])
        if len(amounts) > 1:
            verdict.duplicated.append((name, amounts))
        if outcome == OK:
            if not amounts:
                verdict.lost.append(name)
            acknowledged = {a.amount for a in attempts if a.outcome == OK}
            if amounts and set(amounts) - acknowledged:
                verdict.wrong_amount.append((name, amounts, sorted(acknowledged)))
        elif outcome == FAIL and amounts:
            verdict.failed_present.append((name, amounts))
        elif outcome == UNKNOWN:
            if amounts:
                verdict.unknown_present += 1
            else:
                verdict.unknown_absent += 1
    verdict.unexpected = sorted(name for name in found if name not in by_name)
    for unit, total in sorted((unit_totals or {}).items()):
        if total:
            verdict.problems.append(f"the ledger's {unit} entries sum to {total}, not 0")
    verdict.problems += list(ledger_problems or [])
    for variant, units in sorted((received or {}).items()):
        now, sold = (stock or {}).get(variant, (None, None))
        if now is None:
            verdict.problems.append(f"variant {variant} is missing")
        elif now < 0 or now + sold != units:
            verdict.problems.append(
                f"variant {variant}: stock {now} + sold {sold} != received {units}"
            )
    return verdict


def read_database(*, users: list[int] | None = None, variants: list[int] | None = None) -> dict:
    """What the database holds, as check()'s keyword arguments. Django must be set up.
    Checkouts are the API's (checkout key `api:<Idempotency-Key>`), counted once per paid
    order that has its `order.paid` posting; gifts the API's (`api:<key>`)."""
    from django.db.models import Sum

    from gifting.models import GiftSend
    from orders.models import Order, OrderLine
    from payments.ledger import ledger_problems
    from payments.ledger_models import LedgerEntry, LedgerTransaction
    from shops.models import Variant

    found: dict[tuple, list[int]] = defaultdict(list)
    paid_keys = Counter(
        LedgerTransaction.objects.filter(kind="order.paid").values_list("key", flat=True)
    )
    orders = Order.objects.filter(checkout_key__startswith="api:")
    if users is not None:
        orders = orders.filter(buyer_id__in=users)
    for pk, buyer, checkout_key, total in orders.values_list(
        "pk", "buyer_id", "checkout_key", "total_minor"
    ):
        # A paid order is one whose payment was posted; cancelled later or not, the money
        # moved (and a cancellation posts its own reversal).
        for _ in range(paid_keys.get(f"order:{pk}:paid", 0)):
            found[(CHECKOUT, buyer, checkout_key.removeprefix("api:"))].append(total)
    sends = GiftSend.objects.filter(idempotency_key__startswith="api:")
    if users is not None:
        sends = sends.filter(sender_id__in=users)
    for sender, key, coins in sends.values_list("sender_id", "idempotency_key", "coins"):
        found[(GIFT, sender, key.removeprefix("api:"))].append(coins)
    unit_totals = dict(
        LedgerEntry.objects.values("unit").annotate(t=Sum("amount")).values_list("unit", "t")
    )
    stock = {}
    if variants:
        sold = dict(
            OrderLine.objects.filter(variant_id__in=variants)
            .exclude(order__status=Order.Status.CANCELLED)
            .values("variant_id")
            .annotate(n=Sum("quantity"))
            .values_list("variant_id", "n")
        )
        for pk, now in Variant.objects.filter(pk__in=variants).values_list("pk", "stock"):
            stock[pk] = (now, sold.get(pk, 0))
    return {
        "found": dict(found),
        "unit_totals": unit_totals,
        "ledger_problems": ledger_problems(),
        "stock": stock,
    }


def verdict_for(path: Path) -> Verdict:
    """Check a recorded history against the database Django is set up with."""
    meta, ops = load_history(path)
    received = {int(k): v for k, v in meta.get("received", {}).items()}
    users = sorted({op.user for op in ops} | set(meta.get("users", [])))
    state = read_database(users=users, variants=sorted(received))
    found = state.pop("found")
    return check(ops, found, received=received, **state)


# --- follow-up work and live viewers (bench/chaos/redis_stop.py) -----------------------------


@dataclass
class FollowUp:
    """What became of the work an operation leaves to Celery through the outbox."""

    rows: int = 0  # outbox rows written
    sent: int = 0  # handed to the broker (sent_at set)
    relayed: int = 0  # sent after a failed attempt: by the relay, once the broker was back
    emails: int = 0  # emails sent, by the worker's output
    emails_twice: int = 0  # sent more often than queued (email, order) pairs call for
    emails_missing: int = 0  # called for and not sent
    repeated_runs: int = 0  # task runs that found their email claimed (a second delivery)
    problems: list = field(default_factory=list)


def check_follow_up(
    *,
    rows: list[dict],
    paid: list[int],
    claims: Counter,
    expected_emails: dict[tuple[int, str], list[str]],
    seen_emails: Counter | None = None,
    email_runs: Counter | None = None,
) -> FollowUp:
    """rows: every outbox row as {"id", "task", "kwargs", "sent", "attempts"}; paid: the paid
    orders' ids; claims: (order id, OrderEvent kind) → how many rows record that email as
    sent (orders.emails); expected_emails: (order id, what) → the subjects that one email
    event sends; seen_emails: subject → how many times the worker sent it; email_runs: the
    orders.emails task's runs by how many emails each sent (0: it found its claim taken).

    Every row must have been sent; every paid order must have its "paid" emails queued;
    each queued (order, what) claimed exactly once and each of its subjects sent exactly
    once; no email claimed or sent that nothing queued."""
    result = FollowUp(rows=len(rows))
    queued: Counter = Counter()
    for row in rows:
        if row["sent"]:
            result.sent += 1
            result.relayed += row["attempts"] > 1
        else:
            result.problems.append(f"outbox row {row['id']} ({row['task']}) was never sent")
        if row["task"] == "orders.emails":
            queued[(row["kwargs"]["order_id"], row["kwargs"]["what"])] += 1
    for order_id in sorted(paid):
        if not queued[(order_id, "paid")]:
            result.problems.append(f"order {order_id} was paid without its emails queued")
    for (order_id, what), times in sorted(queued.items()):
        if times > 1:
            result.problems.append(f"order {order_id}: the {what} emails were queued {times} times")
    for order_id, what in sorted(queued):
        if what == "refunded":
            continue  # claimed per refund (email.refunded.<n>): not made by these clients
        claimed = claims.get((order_id, f"email.{what}"), 0)
        if claimed != 1:
            result.problems.append(f"order {order_id}: the {what} emails claimed {claimed} times")
    for (order_id, kind), claimed in sorted(claims.items()):
        what = kind.removeprefix("email.").split(".")[0]
        if claimed and not queued[(order_id, what)]:
            result.problems.append(f"order {order_id}: {kind} recorded, yet never queued")
    if seen_emails is not None:
        expected: Counter = Counter()
        for name in queued:
            expected.update(expected_emails.get(name, []))
        result.emails = sum(seen_emails.values())
        for subject in sorted(set(expected) | set(seen_emails)):
            result.emails_twice += max(0, seen_emails[subject] - expected[subject])
            result.emails_missing += max(0, expected[subject] - seen_emails[subject])
            if seen_emails[subject] != expected[subject]:
                result.problems.append(
                    f"email {subject!r} sent {seen_emails[subject]} times, "
                    f"expected {expected[subject]}"
                )
    if email_runs is not None:
        result.repeated_runs = email_runs.get(0, 0)
    return result


@dataclass
class LiveView:
    """What one viewer of a live knows, built from what its socket received as the live
    page builds it (static/streams/live.js, docs/realtime-events.md): a snapshot sets the
    state and its seq; an event with the next seq is applied; one at or below the seq held
    is skipped; any other jump is a gap, after which the viewer wants a fresh snapshot.
    Pure: the socket client feeds it each message with the time it arrived."""

    name: str
    seq: int | None = None
    stock: dict[int, int] = field(default_factory=dict)  # product → units, as shown
    snapshots: list = field(default_factory=list)  # (at, seq, asked for)
    events: Counter = field(default_factory=Counter)  # applied, by type
    first_seq: dict = field(default_factory=dict)  # type → seq of the first applied
    last_seq: dict = field(default_factory=dict)  # type → seq of the last applied
    skipped: int = 0  # at or below the seq held
    gaps: list = field(default_factory=list)  # (at, seq held, seq received)
    errors: Counter = field(default_factory=Counter)  # error events by code
    opens: list = field(default_factory=list)  # when the socket (re)opened
    drops: list = field(default_factory=list)  # (at, why): closed, not by the viewer
    open: bool = False
    wants_snapshot: bool = False  # a gap was seen and no snapshot came since
    asking: int = 0  # resyncs sent and not answered yet (the client counts them up)
    received: list = field(default_factory=list)  # (at, type, seq) of every message
    highest: int | None = None  # the highest seq received so far
    rewinds: int = 0  # snapshots behind an event already received (their seq below it)

    def apply(self, message: dict, at: float) -> bool:
        """Take one message; True when it opens a gap (ask for a snapshot)."""
        kind = message.get("type")
        seq = message.get("seq")
        self.received.append((at, kind, seq))
        if kind == "snapshot":
            data = message["data"]
            if self.highest is not None and data["seq"] < self.highest:
                self.rewinds += 1
            self.highest = max(self.highest or 0, data["seq"])
            self.snapshots.append((at, data["seq"], self.asking > 0))
            self.asking = max(0, self.asking - 1)
            self.seq = data["seq"]
            self.stock = {item["product"]: item["stock"] for item in data["carousel"]}
            self.wants_snapshot = False
            return False
        if kind == "error":
            code = message.get("data", {}).get("code", "?")
            self.errors[code] += 1
            if code == "rate_limited":
                self.asking = max(0, self.asking - 1)  # the answer to a resync: ask later
            return False
        if not isinstance(seq, int):
            return False
        self.highest = max(self.highest or 0, seq)
        if self.seq is not None and seq <= self.seq:
            self.skipped += 1
            return False
        if self.seq is None or seq != self.seq + 1:
            self.gaps.append((at, self.seq, seq))
            self.seq = seq
            self.wants_snapshot = True
            return True
        self.seq = seq
        self.events[kind] += 1
        self.first_seq.setdefault(kind, seq)
        self.last_seq[kind] = seq
        data = message.get("data") or {}
        if kind == "stock.changed":
            self.stock[data["product"]] = data["stock"]
        elif kind == "carousel.updated":
            self.stock = {item["product"]: item["stock"] for item in data["items"]}
        return False


@dataclass
class Outage:
    down_at: float  # Redis stopped
    restarted_at: float  # its process started again
    up_at: float  # answering again


@dataclass
class ViewerReport:
    snapshots_after: list = field(default_factory=list)  # per outage: viewers with one
    unasked_after: list = field(default_factory=list)  # per outage: of them, not asked for
    # per outage: seconds from Redis answering to the last viewer's first snapshot after it
    latest: list = field(default_factory=list)
    equal: list = field(default_factory=list)  # viewers whose final state is the database's
    problems: list = field(default_factory=list)


def check_viewers(
    views: list[LiveView], outages: list[Outage], stock: dict[int, int], *, until: float
) -> ViewerReport:
    """Each viewer's socket must be open at the end; after each outage (from Redis's
    restart until the next outage, or `until`) it must have received a snapshot; it must
    not be left waiting for one; and its stock per carousel product must be the
    database's (`stock`)."""
    report = ViewerReport()
    for index, outage in enumerate(outages):
        ends = outages[index + 1].down_at if index + 1 < len(outages) else until
        got = [[s for s in view.snapshots if outage.restarted_at <= s[0] < ends] for view in views]
        report.snapshots_after.append(sum(1 for found in got if found))
        report.unasked_after.append(sum(1 for found in got if any(not s[2] for s in found)))
        firsts = [found[0][0] - outage.up_at for found in got if found]
        report.latest.append(max(0.0, *firsts) if firsts else None)
        for view, found in zip(views, got, strict=True):
            if not found:
                report.problems.append(
                    f"{view.name}: no snapshot after outage {index + 1} (Redis back at "
                    f"{outage.up_at:.1f})"
                )
    for view in views:
        if not view.opens:
            report.problems.append(f"{view.name}: never connected")
        elif not view.open:
            report.problems.append(f"{view.name}: its socket was closed at the end")
        if view.wants_snapshot:
            report.problems.append(f"{view.name}: still waiting for a snapshot after a gap")
        wrong = {
            product: (view.stock.get(product), units)
            for product, units in sorted(stock.items())
            if view.stock.get(product) != units
        }
        if wrong:
            shown = (f"product {p}: {a} shown, {b} in stock" for p, (a, b) in wrong.items())
            report.problems.append(f"{view.name}: " + ", ".join(shown))
        else:
            report.equal.append(view.name)
    return report


def setup_django(database_url: str) -> None:
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("history", type=Path)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    setup_django(args.database_url)
    verdict = verdict_for(args.history)
    print(verdict.summary())
    for line in verdict.details():
        print(f"  {line}")
    sys.exit(0 if verdict.sound else 1)


if __name__ == "__main__":
    main()
