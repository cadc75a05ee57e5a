"""Chaos: Celery's worker processes SIGKILLed during settlement and during payout execution.

    .venv/bin/python bench/chaos/celery_kill.py [--hosts 400] [--per-host 2500] [--every 1.5]

Two phases on the production topology (scripts/serve: uvicorn, one Celery worker with two
pool processes, beat), each with a fault thread killing one of the worker's pool processes
(taken in turn) with SIGKILL every `--every` seconds (jittered); Celery starts a new one and,
the tasks being acknowledged late and rejected when their worker is lost, hands the killed
task to it again:

1. Settlement: `--hosts` hosts with `--per-host` gift earnings each, sent two hours ago,
   and two `gifting.settle_earnings` tasks at once, in batches of two hosts
   (GIFTING_SETTLEMENT_BATCH=2) so that each run commits many times. Killing goes on until
   every earning is attached to a statement.
2. Payouts: every host asks for two payouts (one to an account the simulated provider
   fails), staff approve them all (each approval enqueues `gifting.payout_execute` through
   the outbox), and killing goes on until every payout has an outcome.

Then the checks: no earning left unsettled (lost) or counted twice (duplicated): every
statement's totals are the sums of its gifts, the settled postings credit each host
exactly its shares; no payout left without an outcome (lost) or sent twice (duplicated):
one provider operation and one transfer per payout, one `paid` or `release` posting, the
payout holds empty and each settled balance its shares less what was paid; the ledger
balanced. The verdict is printed and written to bench/README.md ("Chaos").
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from harness import DEFAULT_DATABASE, ROOT, Run, _fill, kill, machine, write_section

SETUP_CODE = """
import json
from django.db.models import Sum
from gifting.models import GiftSend
from tests.factories import UserFactory
from tests.gifting.test_settlement_workers import many_earnings

sender = UserFactory(handle="chaossender")
creators, _ = many_earnings(sender, UserFactory(handle="chaoshost"), count=HOSTS,
                            per_creator=PER_HOST)
staff = UserFactory(handle="chaosstaff", is_staff=True, is_superuser=True)
made = GiftSend.objects.filter(creator__in=creators)
shares = dict(made.values("creator_id").annotate(s=Sum("creator_minor"))
              .values_list("creator_id", "s"))
print("CHAOS-DATA " + json.dumps({"shares": {str(k): v for k, v in shares.items()},
                                  "staff": staff.pk, "gifts": made.count()}))
"""


class Killer:
    """SIGKILLs one of the Celery worker's pool processes (in turn) every `every` seconds,
    jittered by a third either way, while switched on."""

    def __init__(self, run: Run, every: float, rng: random.Random):
        self.run, self.every, self.rng = run, every, rng
        self.on = threading.Event()
        self.stop = threading.Event()
        self.kills: Counter = Counter()
        self.phase = ""
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        turn = itertools.count()
        while not self.stop.wait(self.every * self.rng.uniform(0.67, 1.33)):
            if not self.on.is_set():
                continue
            pool = self.run.processes()["celery_pool"]
            if pool and kill(pool[next(turn) % len(pool)]):
                self.kills[self.phase] += 1

    def during(self, phase: str) -> None:
        self.phase = phase
        self.on.set()

    def pause(self) -> None:
        self.on.clear()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def django_for(run: Run) -> None:
    """This process talks to the run's database and broker as the topology does."""
    os.environ.update(
        {
            "REDIS_URL": run.redis.url,
            "CACHE_PREFIX": run.env["CACHE_PREFIX"],
            "CHANNEL_PREFIX": run.env["CHANNEL_PREFIX"],
            **{k: v for k, v in run.env.items() if k.startswith("GIFTING_")},
        }
    )
    from bench.chaos.checker import setup_django

    setup_django(run.database_url)


def wait_until(done, *, timeout: float, every: float = 1.0, say=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        if say:
            print(f"  {say()}", flush=True)
        time.sleep(every)
    return done()


def settle_phase(args, killer: Killer) -> dict:
    from django.db import close_old_connections

    from gifting import tasks
    from gifting.models import GiftSend

    def left() -> int:
        close_old_connections()
        return GiftSend.objects.filter(statement__isnull=True).count()

    started = time.monotonic()
    for _ in range(2):
        tasks.settle_earnings.delay()
    killer.during("settlement")
    done = wait_until(
        lambda: left() == 0, timeout=args.timeout, every=2, say=lambda: f"{left()} unsettled"
    )
    killer.pause()
    return {"seconds": time.monotonic() - started, "done": done, "left": left()}


def payout_phase(args, data: dict, killer: Killer) -> dict:
    from django.db import close_old_connections

    from accounts.models import User
    from gifting import payouts
    from gifting.models import Payout

    staff = User.objects.get(pk=data["staff"])
    requested = []
    for creator_id, share in data["shares"].items():
        creator = User(pk=int(creator_id))
        # Two payouts each: 40 % to an account that is paid, 20 % to one that fails.
        for n, (part, destination) in enumerate(((0.4, "acct_ok"), (0.2, "acct_fail"))):
            payout = payouts.payout_request(
                creator=creator,
                amount_minor=int(share * part),
                destination=destination,
                idempotency_key=f"chaos-payout-{creator_id}-{n}",
            )
            requested.append(payout.pk)
    started = time.monotonic()
    killer.during("payouts")
    for payout_id in requested:
        payouts.payout_approve(payout_id=payout_id, actor=staff, reason="chaos run")

    def open_() -> int:
        close_old_connections()
        return Payout.objects.filter(
            status__in=[Payout.Status.APPROVED, Payout.Status.SENDING]
        ).count()

    done = wait_until(
        lambda: open_() == 0, timeout=args.timeout, every=2, say=lambda: f"{open_()} unsent"
    )
    killer.pause()
    return {
        "seconds": time.monotonic() - started,
        "done": done,
        "payouts": len(requested),
        "open": open_(),
    }


def redelivered(log: Path) -> Counter:
    """Per task name, how many times a task was handed to a pool process again after the
    one running it was killed: the worker's log says `received` once per delivery and
    `succeeded` once per task."""
    received, succeeded = Counter(), Counter()
    pattern = re.compile(r"Task (\S+)\[([0-9a-f-]+)\] (received|succeeded)")
    for match in pattern.finditer(log.read_text(errors="replace")):
        name, _, what = match.groups()
        (received if what == "received" else succeeded)[name] += 1
    return Counter({name: received[name] - succeeded[name] for name in received})


def check(data: dict) -> dict:
    """Lost and duplicated, per phase, and the ledger's problems."""
    from django.db.models import Count, Q, Sum

    from gifting.models import EarningsStatement, GiftSend, Payout
    from gifting.payouts import hold_account
    from gifting.settlement import SETTLED_KIND, settled_account
    from payments.ledger import ledger_problems
    from payments.ledger_models import LedgerEntry, LedgerTransaction
    from payments.provider_models import SimulatedCharge, SimulatedOperation

    shares = {int(k): v for k, v in data["shares"].items()}
    result = {"settlement": {"lost": [], "duplicated": []}, "payouts": {"lost": [], "dup": []}}
    settlement, paying = result["settlement"], result["payouts"]

    # Settlement: every earning attached; each statement's totals its gifts' sums; each
    # host's settled postings exactly their shares.
    unsettled = GiftSend.objects.filter(statement__isnull=True).count()
    if unsettled:
        settlement["lost"].append(f"{unsettled} earnings unsettled")
    sums = dict(
        GiftSend.objects.filter(statement__isnull=False)
        .values("statement_id")
        .annotate(n=Count("pk"), s=Sum("creator_minor"))
        .values_list("statement_id", "s")
    )
    counts = dict(
        GiftSend.objects.filter(statement__isnull=False)
        .values("statement_id")
        .annotate(n=Count("pk"))
        .values_list("statement_id", "n")
    )
    for statement in EarningsStatement.objects.all():
        if statement.gift_count != counts.get(
            statement.pk, 0
        ) or statement.creator_minor != sums.get(statement.pk, 0):
            settlement["duplicated"].append(
                f"statement {statement.pk}: {statement.gift_count} gifts / "
                f"{statement.creator_minor} stored, {counts.get(statement.pk, 0)} / "
                f"{sums.get(statement.pk, 0)} attached"
            )
    credited = Counter()
    for creator_id in shares:
        account = settled_account(creator_id=creator_id, currency="USD")
        credited[creator_id] = (
            LedgerEntry.objects.filter(
                account=account, transaction__kind=SETTLED_KIND, amount__gt=0
            ).aggregate(s=Sum("amount"))["s"]
            or 0
        )
    for creator_id, share in shares.items():
        if credited[creator_id] > share:
            settlement["duplicated"].append(f"host {creator_id}: {credited[creator_id]} > {share}")
        elif credited[creator_id] < share:
            settlement["lost"].append(f"host {creator_id}: {credited[creator_id]} < {share}")

    # Payouts: an outcome for each; one provider operation, one transfer and one final
    # posting each; holds empty; settled = shares - paid.
    payouts = list(Payout.objects.all())
    for payout in payouts:
        if payout.status not in (Payout.Status.PAID, Payout.Status.FAILED):
            paying["lost"].append(f"payout {payout.pk} still {payout.status}")
    operations = Counter(
        SimulatedOperation.objects.filter(idempotency_key__startswith="payout:").values_list(
            "idempotency_key", flat=True
        )
    )
    transfers = SimulatedCharge.objects.filter(ref__startswith="po_sim_").count()
    finals = Counter(
        LedgerTransaction.objects.filter(kind__in=["payout.paid", "payout.failed"]).values_list(
            "key", flat=True
        )
    )
    for payout in payouts:
        if operations[f"payout:{payout.pk}"] > 1:
            paying["dup"].append(f"payout {payout.pk}: {operations[f'payout:{payout.pk}']} sends")
        step = "paid" if payout.status == Payout.Status.PAID else "release"
        if finals[f"payout:{payout.pk}:{step}"] > 1:
            paying["dup"].append(f"payout {payout.pk}: posted twice")
    if transfers > len(payouts):
        paying["dup"].append(f"{transfers} transfers for {len(payouts)} payouts")
    paid = Counter()
    for payout in payouts:
        if payout.status == Payout.Status.PAID:
            paid[payout.creator_id] += payout.amount_minor
    for creator_id, share in shares.items():
        hold = hold_account(creator_id=creator_id, currency="USD")
        settled = settled_account(creator_id=creator_id, currency="USD")
        hold.refresh_from_db()
        settled.refresh_from_db()
        if hold.balance:
            paying["lost"].append(f"host {creator_id}: {hold.balance} still held")
        if settled.balance != share - paid[creator_id]:
            paying["dup" if settled.balance < share - paid[creator_id] else "lost"].append(
                f"host {creator_id}: settled {settled.balance}, expected {share - paid[creator_id]}"
            )
    units = dict(
        LedgerEntry.objects.values("unit").annotate(t=Sum("amount")).values_list("unit", "t")
    )
    problems = [f"the ledger's {u} entries sum to {t}" for u, t in units.items() if t]
    problems += ledger_problems()
    result["problems"] = problems
    result["paid"] = sum(1 for p in payouts if p.status == Payout.Status.PAID)
    result["failed"] = sum(1 for p in payouts if p.status == Payout.Status.FAILED)
    result["statements"] = EarningsStatement.objects.filter(~Q(gift_count=0)).count()
    result["operations"] = sum(operations.values())
    result["transfers"] = transfers
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=400)
    parser.add_argument("--per-host", type=int, default=2500, help="gift earnings per host")
    parser.add_argument("--every", type=float, default=1.5, help="seconds between kills")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per phase")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()

    run = Run(
        "celery_kill",
        database_url=args.database_url,
        workers=1,
        # Many small batches, so that each settlement run commits many times; payouts of a
        # fifth of a host's earnings above the minimum.
        env={"GIFTING_SETTLEMENT_BATCH": "2", "GIFTING_PAYOUT_MINIMUM_MINOR": "100"},
    )
    rng = random.Random(11)
    killer = None
    try:
        migrate = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=run.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if migrate.returncode:
            sys.exit(f"migrate failed:\n{migrate.stderr}")
        code = SETUP_CODE.replace("HOSTS", str(args.hosts)).replace("PER_HOST", str(args.per_host))
        done = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=run.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith("CHAOS-DATA ")]
        if not lines:
            sys.exit(f"preparing data failed:\n{done.stdout}\n{done.stderr}")
        data = json.loads(lines[0].removeprefix("CHAOS-DATA "))
        run.start()
        print(f"serving on {run.port}; {data['gifts']} earnings of {args.hosts} hosts", flush=True)
        django_for(run)
        killer = Killer(run, args.every, rng)
        settlement = settle_phase(args, killer)
        print(f"settlement: {settlement}", flush=True)
        paying = payout_phase(args, data, killer)
        print(f"payouts: {paying}", flush=True)
        killer.close()
        time.sleep(5)  # whatever a last redelivery still does
        result = check(data)
        result["redelivered"] = redelivered(run.log_path)
    finally:
        if killer is not None:
            killer.close()
        run.stop()
    lost = len(result["settlement"]["lost"]) + len(result["payouts"]["lost"])
    duplicated = len(result["settlement"]["duplicated"]) + len(result["payouts"]["dup"])
    sound = not (lost or duplicated or result["problems"])
    print(f"lost: {lost}, duplicated: {duplicated}, ledger problems: {len(result['problems'])}")
    for label, items in (
        ("settlement lost", result["settlement"]["lost"]),
        ("settlement duplicated", result["settlement"]["duplicated"]),
        ("payout lost", result["payouts"]["lost"]),
        ("payout duplicated", result["payouts"]["dup"]),
        ("problem", result["problems"]),
    ):
        for item in items[:10]:
            print(f"  {label}: {item}")
    if not args.no_readme:
        write_up(run, args, data, settlement, paying, killer, result, lost, duplicated)
    raise SystemExit(0 if sound else 1)


def write_up(run, args, data, settlement, paying, killer, result, lost, duplicated) -> None:
    info = machine()
    title = "Celery worker killed during settlement and payouts (bench/chaos/celery_kill.py)"
    body = [
        f"### {title}",
        "",
        "```sh",
        f".venv/bin/python bench/chaos/celery_kill.py --hosts {args.hosts} "
        f"--per-host {args.per_host} --every {args.every}",
        "```",
        "",
        f"- Date: {info['date']}; machine: {info['machine']}; PostgreSQL {run.postgres}, "
        f"Redis {info['redis']} (the run's own redis-server, the broker), Python {info['python']}",
        "- Topology: `scripts/serve` with WORKERS=1 (uvicorn), one Celery worker with 2 pool "
        "processes (tasks acknowledged late, rejected when their worker is lost) and beat, on "
        "the database `tapbuy_chaos_bench`",
        f"- Settlement: {data['gifts']:,} gift earnings of {args.hosts} hosts, two "
        "`gifting.settle_earnings` tasks at once in batches of 2 hosts; a pool process "
        f"SIGKILLed about every {args.every} s: {killer.kills['settlement']} kills, "
        f"{result['redelivered']['gifting.settle_earnings']} of them while a settlement "
        "ran (the worker's log: the task received again); every earning settled after "
        f"{settlement['seconds']:.0f} s into {result['statements']} statements",
        f"- Payouts: {paying['payouts']} payouts (2 per host, one to an account the provider "
        "fails) approved at once, each `gifting.payout_execute` enqueued through the outbox; "
        f"a pool process SIGKILLed about every {args.every} s: {killer.kills['payouts']} kills, "
        f"{result['redelivered']['gifting.payout_execute']} of them during a payout; "
        f"every payout had its outcome after {paying['seconds']:.0f} s: {result['paid']} paid, "
        f"{result['failed']} failed; {result['operations']} provider operations, "
        f"{result['transfers']} transfers",
        f"- Result: **lost: {lost}, duplicated: {duplicated}**; ledger problems: "
        f"{len(result['problems'])}",
        "- Checked: no earning without a statement, each statement's totals the sums of its "
        "gifts, each host's settled postings exactly their shares; each payout paid or failed, "
        "one provider operation and at most one transfer each, one final posting each, the "
        "holds empty, each settled balance its shares less what was paid; the ledger "
        "balanced per unit, balances the sums of their entries",
    ]
    write_section(title, "\n".join(_fill(line) for line in body) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
