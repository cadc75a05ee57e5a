"""What the chaos scripts share: their own Redis server, the production topology
(scripts/serve, through bench/live_pin's Server and server_env) on a database whose name
contains "chaos", the shop, live and buyers they act on, the clients that record every
checkout and gift (bench/chaos/checker.py's history), and the write-up in bench/README.md.

A chaos script builds a `Run`, starts the clients with a fault injector beside them,
retries every operation whose outcome is unknown until it is settled (or gives up), then
asks the checker for the verdict and records it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import live_pin  # noqa: E402
from live_pin import (  # noqa: E402
    RedisServer,
    Server,
    cmdline,
    flush_redis,
    free_port,
    reset_database,
    server_env,
    wait_for_quiet_machine,
)

from bench.chaos.checker import (  # noqa: E402
    CHECKOUT,
    FAIL,
    GIFT,
    OK,
    UNKNOWN,
    Op,
    Recorder,
    setup_django,
    verdict_for,
)

README = ROOT / "bench" / "README.md"
SECTION = "## Chaos (bench/chaos/)"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/tapbuy_chaos_bench"
REQUEST_TIMEOUT = 15  # seconds: longer than a checkout waits for a busy idempotency key

SETUP_CODE = """
import json
from django.utils import timezone
from rest_framework.authtoken.models import Token
from gifting.models import CoinPack, Gift
from gifting.services import coins_buy
from orders.services import address_add
from payments.provider_services import payment_method_add
from streams import services
from tests.factories import ShopFactory, UserFactory, make_product

shop = ShopFactory(handle="chaosshop", name="Chaos shop")
host = shop.owner
products = [make_product(shop, f"Chaos item {i}", sku=f"C{i}", price_minor=1000 + i * 100,
                         stock=STOCK) for i in range(PRODUCTS)]
stream, _ = services.stream_schedule(host=host, title="Chaos live", scheduled_at=timezone.now())
services.stream_go_live(stream=stream, actor=host, playback_url="https://cdn.example/c.m3u8")
services.carousel_set(stream=stream, actor=host, product_ids=[p.pk for p in products])
gift = Gift.objects.create(name="Chaos heart", slug="chaos-heart", coins=5)
pack = CoinPack.objects.create(coins=COINS, price_minor=COINS, currency="USD")
buyers = []
for i in range(BUYERS):
    user = UserFactory(handle=f"chaosbuyer{i}")
    address_add(user=user, data={"name": "C", "line1": "1 St", "city": "X",
                                 "postal_code": "1", "country": "US"})
    payment_method_add(user=user, number="4242424242424242", exp_month=12, exp_year=2040,
                       cvc="123")
    coins_buy(buyer=user, pack_id=pack.pk, checkout_key="chaos-coins", payment_method="pm_card_ok")
    buyers.append({"id": user.pk, "token": Token.objects.create(user=user).key})
variants = [{"id": p.variants.get().pk, "price": p.variants.get().price_minor} for p in products]
print("CHAOS-DATA " + json.dumps({"live": stream.pk, "host": host.pk, "gift": gift.pk,
      "gift_coins": gift.coins, "variants": variants, "buyers": buyers}))
"""


def arguments(doc: str, *, every: float, every_help: str) -> argparse.ArgumentParser:
    """The options every client-driven chaos script takes; a script adds its own."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--operations", type=int, default=12, help="per client")
    parser.add_argument("--every", type=float, default=every, help=every_help)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--no-readme", action="store_true")
    return parser


class Run:
    """One chaos run: the database, Redis and topology, the data and the history."""

    def __init__(
        self,
        name: str,
        *,
        database_url: str,
        workers: int,
        env: dict | None = None,
        persistent_redis: bool = False,
    ):
        if "chaos" not in urlsplit(database_url).path:
            sys.exit("the chaos database's name must contain 'chaos'")
        wait_for_quiet_machine()
        self.name = name
        self.database_url = database_url
        self.var_dir = Path(tempfile.gettempdir()) / "tapbuy-chaos"
        (self.var_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(
            db=1, persist_dir=self.var_dir / f"{name}-redis" if persistent_redis else None
        )
        self.env = server_env(database_url, self.redis.url, self.var_dir)
        self.env.update(
            {
                "WORKERS": str(workers),
                "CACHE_PREFIX": "tapbuy-chaos",
                "CHANNEL_PREFIX": "tapbuy-chaos",
                # Throttles are not under test: every client's operations must reach the
                # services.
                "API_CHECKOUT_RATE": "100000/min",
                "API_USER_RATE": "100000/min",
                "GIFTING_GIFTS_RATE": "100000/min",
                **(env or {}),
            }
        )
        self.postgres = reset_database(database_url)
        flush_redis(self.redis.url)
        self.server = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.log_path = self.var_dir / "logs" / f"{name}-{stamp}.log"
        self.history_path = self.var_dir / f"{name}-{stamp}.jsonl"
        self.injected: list[str] = []

    # --- set-up ---------------------------------------------------------------------------

    def prepare(self, *, buyers=12, products=3, stock=25, coins=100_000) -> dict:
        run = {"cwd": ROOT, "env": self.env, "capture_output": True, "text": True}
        python = sys.executable
        done = subprocess.run(  # noqa: S603
            [python, "manage.py", "migrate", "--noinput", "-v0"], timeout=300, **run
        )
        if done.returncode:
            sys.exit(f"migrate failed:\n{done.stdout}\n{done.stderr}")
        code = (
            SETUP_CODE.replace("BUYERS", str(buyers))
            .replace("PRODUCTS", str(products))
            .replace("STOCK", str(stock))
            .replace("COINS", str(coins))
        )
        done = subprocess.run(  # noqa: S603
            [python, "manage.py", "shell", "-c", code], timeout=300, **run
        )
        for line in done.stdout.splitlines():
            if line.startswith("CHAOS-DATA "):
                self.data = json.loads(line.removeprefix("CHAOS-DATA "))
                break
        else:
            sys.exit(f"preparing data failed:\n{done.stdout}\n{done.stderr}")
        self.stock = stock
        self.recorder = Recorder(
            self.history_path,
            meta={
                "received": {str(v["id"]): stock for v in self.data["variants"]},
                "users": [b["id"] for b in self.data["buyers"]],
            },
        )
        return self.data

    def start(self) -> None:
        self.port = free_port()
        self.env["PORT"] = str(self.port)
        self.env["SITE_URL"] = f"http://127.0.0.1:{self.port}"
        self.server = Server(self.env, self.port, self.log_path)
        self.server.wait_healthy()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.redis.stop(signal.SIGTERM)

    # --- the topology's processes ---------------------------------------------------------

    def processes(self) -> dict[str, list[int]]:
        """The topology's processes by role: uvicorn's worker processes, Celery's worker
        pool processes, and the parents (which the faults leave alone)."""
        found = {"asgi": [], "celery_pool": [], "celery_main": [], "beat": []}
        for pid in self.server.pids():
            command = cmdline(pid)
            if "uvicorn" in command and "config.asgi" in command:
                found["asgi"] += children(pid)
            elif "celery" in command and " worker" in command:
                found["celery_main"].append(pid)
                found["celery_pool"] += children(pid)
            elif "celery" in command and " beat" in command:
                found["beat"].append(pid)
        return found

    # --- clients ---------------------------------------------------------------------------

    def attempt(self, process: str, buyer: dict, kind: str, key: str, body: dict, amount: int):
        """One POST with its Idempotency-Key, recorded; returns the outcome."""
        path = (
            "/api/v1/orders/" if kind == CHECKOUT else f"/api/v1/streams/{self.data['live']}/gifts/"
        )
        invoke = Recorder.now()
        outcome, response = UNKNOWN, {}
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            conn.request(
                "POST",
                path,
                body=json.dumps(body),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Token {buyer['token']}",
                    "Idempotency-Key": key,
                },
            )
            answer = conn.getresponse()
            raw = answer.read()
            conn.close()
            payload = json.loads(raw) if raw.startswith(b"{") else {}
            response = {"status": answer.status}
            if answer.status == 201:
                state = payload.get("status", "sent") if kind == CHECKOUT else "sent"
                response["state"] = state
                # Acknowledged: a paid order, a sent gift. An order still waiting for its
                # payment has not happened yet as far as the buyer knows.
                outcome = OK if state in ("paid", "sent") else UNKNOWN
            elif 400 <= answer.status < 500:
                code = payload.get("error", {}).get("code", "")
                response["code"] = code
                # Another attempt with this key is still running: not an answer.
                outcome = UNKNOWN if code == "idempotency_in_progress" else FAIL
            elif answer.status >= 500 and isinstance(payload.get("error"), dict):
                response["code"] = payload["error"].get("code", "")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            response = {"error": f"{type(exc).__name__}: {exc}"[:120]}
        self.recorder.record(
            Op(process, kind, buyer["id"], key, amount, invoke, Recorder.now(), outcome, response)
        )
        return outcome

    def client(
        self, index: int, operations: int, rng: random.Random, pending: list, pause: float = 0
    ) -> None:
        """One buyer: checkouts and gifts one after another, each retried with its key a
        few times while its outcome is unknown; what is still unknown goes to `pending`.
        With `pause`, the client waits about that long (0 to twice as long) between two
        operations, so that a fault with a period of seconds meets the load several times."""
        buyer = self.data["buyers"][index % len(self.data["buyers"])]
        process = f"client-{index}"
        pacing = random.Random(index)  # its own: the operations stay those of the seed
        for n in range(operations):
            if pause and n:
                time.sleep(pacing.uniform(0, 2 * pause))
            if rng.random() < 0.5:
                variant = rng.choice(self.data["variants"])
                kind, amount = CHECKOUT, variant["price"]
                body = {
                    "items": [{"variant": variant["id"], "quantity": 1}],
                    "stream": self.data["live"],
                    "payment_method": "pm_card_ok",
                }
            else:
                quantity = rng.randint(1, 3)
                kind, amount = GIFT, self.data["gift_coins"] * quantity
                body = {"gift": self.data["gift"], "quantity": quantity}
            key = f"{process}-{uuid.uuid4().hex[:12]}"
            for retry in range(3):
                if self.attempt(process, buyer, kind, key, body, amount) != UNKNOWN:
                    break
                time.sleep(0.5 * (retry + 1))
            else:
                pending.append((process, buyer, kind, key, body, amount))

    def load(
        self, *, clients: int, operations: int, fault, seed: int = 7, pause: float = 0
    ) -> None:
        """Run the clients with `fault(stop_event)` in a thread beside them, then settle
        what is unknown by retrying it with the same key until it is answered. `pause`:
        seconds between a client's operations, on average (see client)."""
        pending: list = []
        stop = threading.Event()
        injector = threading.Thread(target=fault, args=(stop,), daemon=True)
        threads = [
            threading.Thread(
                target=self.client,
                args=(i, operations, random.Random(seed + i), pending, pause),
            )
            for i in range(clients)
        ]
        injector.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        injector.join()
        self.settle(pending)

    def settle(self, pending: list, *, give_up_after: float = 240) -> None:
        """Retry every operation still unknown, with its key, until it is answered: a
        claim left by a killed request is taken over after the idempotency key's stale
        time (payments.idempotency.STALE_AFTER, 2 minutes)."""
        deadline = time.monotonic() + give_up_after
        while pending and time.monotonic() < deadline:
            print(f"  settling {len(pending)} unknown operations", flush=True)
            pending[:] = [p for p in pending if self.attempt(*p) == UNKNOWN]
            if pending:
                time.sleep(5)
        self.unsettled = len(pending)

    # --- verdict and write-up --------------------------------------------------------------

    def verdict(self, *, quiet_seconds: float = 0):
        """Let background work finish, then check the history against the database."""
        time.sleep(quiet_seconds)
        setup_django(self.database_url)
        return verdict_for(self.history_path)

    def finish(self, verdict, *, readme: bool, **write_up) -> None:
        """Print the verdict, write it up in bench/README.md (readme) and exit: 0 when
        sound, 1 when not."""
        print(verdict.summary())
        for line in verdict.details():
            print(f"  {line}")
        if readme:
            self.write_up(verdict=verdict, **write_up)
        raise SystemExit(0 if verdict.sound else 1)

    def write_up(self, *, title: str, injected: str, command: str, verdict, notes=()) -> None:
        info = machine()
        body = [
            f"### {title}",
            "",
            "```sh",
            command,
            "```",
            "",
            f"- Date: {info['date']}; machine: {info['machine']}; PostgreSQL {self.postgres}, "
            f"Redis {info['redis']} (the run's own redis-server), Python {info['python']}",
            f"- Topology: `scripts/serve` with WORKERS={self.env['WORKERS']} (uvicorn), one "
            "Celery worker and beat, on the database `"
            + urlsplit(self.database_url).path.lstrip("/")
            + "`",
            f"- Injected: {injected}",
            f"- Operations: {verdict.operations[OK]} ok, {verdict.operations[FAIL]} fail, "
            f"{verdict.operations[UNKNOWN]} unknown ({verdict.unknown_present} of them done, "
            f"{verdict.unknown_absent} not) over {sum(verdict.attempts.values())} attempts "
            f"({verdict.attempts[UNKNOWN]} of which unanswered or 5xx)",
            f"- Result: **lost: {len(verdict.lost)}, duplicated: {len(verdict.duplicated)}**"
            + ("" if verdict.sound else f" — NOT SOUND: {verdict.summary()}"),
        ]
        body += [f"- {note}" for note in notes]
        text = "\n".join(_fill(line) for line in body) + "\n"
        write_section(title, text)


def _fill(line: str) -> str:
    if not line.startswith("- "):
        return line
    return textwrap.fill(line, width=92, subsequent_indent="  ", break_on_hyphens=False)


def write_section(title: str, text: str) -> None:
    """Put this script's subsection under the Chaos section of bench/README.md, replacing
    its previous result; the other scripts' results stay."""
    current = README.read_text()
    if SECTION not in current:
        intro = textwrap.fill(INTRO, width=92, break_on_hyphens=False)
        current = current.rstrip("\n") + f"\n\n{SECTION}\n\n{intro}\n"
    start = current.index(SECTION)
    following = current.find("\n## ", start + len(SECTION))
    end = following + 1 if following != -1 else len(current)
    head, *parts = current[start:end].split("\n### ")
    parts = {part.split("\n", 1)[0]: "### " + part.strip("\n") for part in parts}
    parts[title] = text.strip("\n")
    section = "\n\n".join([head.strip("\n"), *parts.values()]) + "\n"
    rest = current[end:]
    README.write_text(current[:start] + section + ("\n" + rest if rest else ""))


INTRO = (
    "Faults injected into the production topology while clients gift and check out, each "
    "operation recorded (ok / fail / unknown) and the history checked against the database by "
    "`bench/chaos/checker.py`: every acknowledged operation there once, every refused one "
    "absent, each unknown one once or not at all; the ledger balanced per unit, balances the "
    "sums of their entries, stock + sold = received. Each script is run by hand with "
    "`.venv/bin/python bench/chaos/<name>.py`; it uses a database named `tapbuy_chaos_bench` "
    "(dropped and created again) and a redis-server of its own on a free port, and waits while "
    "another benchmark's flag file (`tapbuy-bench-running` in the temporary directory) exists."
)


def machine() -> dict:
    """The machine and versions, as the other benchmarks write them down (live_pin)."""
    info = live_pin.machine()
    return {
        "date": info["date"],
        "machine": f"{info['nproc']} cores ({info['cpu']})",
        "python": info["python"],
        "redis": info["redis_server"],
    }


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def kill(pid: int, sig=signal.SIGKILL) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True
