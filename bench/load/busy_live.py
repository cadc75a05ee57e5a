"""A busy live under load for a long while: requests per second, errors, latency per route
and the memory of every process of the production topology.

    .venv/bin/python bench/load/busy_live.py [--minutes 30] [--users 200] [--spawn-rate 2]

(or `make bench-load`, which installs locust first). It waits while another benchmark's
flag file (`tapbuy-bench-running` in the temporary directory) exists, starts a
redis-server of its own on a free port, drops and creates the database (default
tapbuy_load_bench; its name must contain "bench"), prepares a shop whose host is live with
a carousel and one account per user (token, session, address, card, coins), starts
`scripts/serve` (WORKERS uvicorn processes, a Celery worker and beat) on a free port and
runs bench/load/locustfile.py headless in one locust process on the same machine. Every 30
s it samples the memory (RSS) and CPU of each process of the topology, of PostgreSQL's
backends for the database and of locust. At the end it stops everything (also on an error
or Ctrl-C), checks the database against what the clients were told, scans the server's
output and writes the figures to the console and to bench/README.md (--no-readme to
skip). Logs, locust's CSV files and the samples stay in the temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from live_pin import (  # noqa: E402
    RedisServer,
    Server,
    bullet,
    cmdline,
    free_port,
    machine,
    reset_database,
    scan_log,
    server_env,
    wait_for_quiet_machine,
    write_readme,
)

README = ROOT / "bench" / "README.md"
SECTION = "## Busy live load (bench/load/busy_live.py)"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/tapbuy_load_bench"
SAMPLE_SECONDS = 30
SETUP_TIMEOUT = 600
STARTUP_SECONDS = 5  # after /healthz: Celery finishes starting before the crowd comes
STOP_TIMEOUT = 15  # seconds locust gives the users' running tasks when the time is up
TICKS = os.sysconf("SC_CLK_TCK")
PACKAGES = (
    "django",
    "channels",
    "channels-redis",
    "redis",
    "uvicorn",
    "celery",
    "psycopg",
    "locust",
    "websocket-client",
)
# Locust entries that are not requests: what a viewer's socket received, and checks.
NOT_REQUESTS = {"ws event delivery", "ws closed", "ws error", "same key, same order"}

SETUP_CODE = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.utils import timezone
from rest_framework.authtoken.models import Token
from gifting.models import CoinPack, Gift
from gifting.services import coins_buy
from orders.services import address_add
from payments.provider_services import payment_method_add
from streams import services
from tests.factories import ShopFactory, UserFactory, make_product

TITLES = ["Linen shirt", "Canvas tote bag", "Wrap dress", "Running sneakers", "Ceramic mug",
          "Desk lamp", "Silk scarf", "Denim jacket", "Wool beanie", "Leather belt",
          "Linen trousers", "Straw hat"]
SessionStore = import_module(settings.SESSION_ENGINE).SessionStore


def live(host, title, products, on_air=True, minutes=0):
    at = timezone.now() + timezone.timedelta(minutes=minutes)
    stream, _ = services.stream_schedule(host=host, title=title, scheduled_at=at)
    if on_air:
        services.stream_go_live(stream=stream, actor=host,
                                playback_url="https://cdn.example/live.m3u8")
        services.carousel_set(stream=stream, actor=host, product_ids=products)
    return stream


shop = ShopFactory(handle="busyshop", name="Busy shop", owner__handle="busyhost",
                   owner__password=None)
host = shop.owner
products = [make_product(shop, title, sku=f"B{i}", price_minor=1500 + i * 250, stock=STOCK)
            for i, title in enumerate(TITLES)]
stream = live(host, "Friday drop: linen and summer bags", [p.pk for p in products])
services.carousel_pin(stream=stream, actor=host, product_id=products[0].pk)
others = []
for i in range(3):
    other = ShopFactory(handle=f"othershop{i}", owner__password=None)
    items = [make_product(other, f"{TITLES[(i + j) % 12]} {i}", sku=f"O{i}-{j}", stock=100).pk
             for j in range(3)]
    others.append(live(other.owner, f"Studio session {i}", items).pk)
    live(other.owner, f"Next week {i}", [], on_air=False, minutes=60 * 24 * (i + 1))
gift = Gift.objects.create(name="Busy rose", slug="busy-rose", coins=5)
pack = CoinPack.objects.create(coins=COINS, price_minor=COINS, currency="USD")
accounts = []
for i in range(ACCOUNTS):
    # No password (a hash costs a second at production strength): the session and the
    # token stand for a log-in.
    user = UserFactory(handle=f"viewer{i}", password=None)
    address_add(user=user, data={"name": f"Viewer {i}", "line1": f"{i} Main St",
                                 "city": "Springfield", "postal_code": "12345", "country": "US"})
    payment_method_add(user=user, number="4242424242424242", exp_month=12, exp_year=2040,
                       cvc="123")
    coins_buy(buyer=user, pack_id=pack.pk, checkout_key="load-coins", payment_method="pm_card_ok")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    accounts.append({"handle": user.handle, "token": Token.objects.create(user=user).key,
                     "session": session.session_key})
print("LOAD-DATA " + json.dumps({
    "live": stream.pk, "other_lives": others, "shop": shop.handle,
    "host": {"handle": host.handle, "token": Token.objects.create(user=host).key},
    "gift": gift.pk, "accounts": accounts,
    "products": [{"id": p.pk, "variant": p.variants.get().pk} for p in products],
}))
"""

CHECK_CODE = """
import json
from django.db.models import Sum
from gifting.models import GiftSend
from orders.models import Order, OrderLine
from payments.ledger import ledger_problems
from shops.models import Variant
orders = Order.objects.filter(stream_id=LIVE)
variants = Variant.objects.filter(product__shop__handle="busyshop")
print("LOAD-CHECK " + json.dumps({
    "orders": orders.count(),
    "paid": orders.filter(status="paid").count(),
    "gifts": GiftSend.objects.filter(stream_id=LIVE).count(),
    "stock": variants.aggregate(n=Sum("stock"))["n"],
    "sold": OrderLine.objects.filter(variant__in=variants).aggregate(n=Sum("quantity"))["n"] or 0,
    "ledger": ledger_problems(),
}))
"""


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT,
    )


def shell_json(env: dict, code: str, marker: str) -> dict:
    done = manage(env, "shell", "-c", code)
    for line in done.stdout.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line.removeprefix(marker + " "))
    raise RuntimeError(f"manage.py shell failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def prepare_data(env: dict, accounts: int, stock: int, coins: int) -> dict:
    done = manage(env, "migrate", "--noinput", "-v0")
    if done.returncode:
        raise RuntimeError(f"migrate failed:\n{done.stdout}\n{done.stderr}")
    code = (
        SETUP_CODE.replace("ACCOUNTS", str(accounts))
        .replace("STOCK", str(stock))
        .replace("COINS", str(coins))
    )
    return shell_json(env, code, "LOAD-DATA")


# --- the processes and their memory -------------------------------------------------------------


def _read(path: str) -> str:
    with contextlib.suppress(OSError):
        return Path(path).read_text()
    return ""


def parent(pid: int) -> int:
    raw = _read(f"/proc/{pid}/stat")
    return int(raw[raw.rindex(")") + 2 :].split()[1]) if raw else 0


def cpu_ticks(pid: int) -> int:
    raw = _read(f"/proc/{pid}/stat")
    if not raw:
        return 0
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def memory_kb(pid: int, field: str) -> int:
    """A field of /proc/<pid>/smaps_rollup (Rss, Pss) in kB; 0 for a process gone."""
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) over every core since boot, from /proc/stat."""
    values = [int(v) for v in _read("/proc/stat").splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Topology:
    """Names the processes to watch: uvicorn's main process and its workers, the Celery
    worker, its pool and beat, the run's redis-server, PostgreSQL's backends for the
    database and locust."""

    def __init__(self, server: Server, redis_pid: int, database: str):
        self.server, self.redis_pid, self.database = server, redis_pid, database
        self.locust_pid: int | None = None
        self.worker_names: dict[int, str] = {}

    def roles(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        group = sorted(self.server.pids())
        parents = {pid: parent(pid) for pid in group}

        def children(pid: int) -> list[int]:
            return [child for child in group if parents[child] == pid]

        celery: set[int] = set()  # the worker's main process (its pool has the same command)
        for pid in group:
            command = cmdline(pid)
            if "/uvicorn config.asgi" in command:
                found["uvicorn main"] = [pid]
                for child in sorted(children(pid)):
                    if "spawn_main" not in cmdline(child):
                        continue  # multiprocessing's resource tracker
                    if child not in self.worker_names:
                        self.worker_names[child] = f"uvicorn worker {len(self.worker_names) + 1}"
                    found[self.worker_names[child]] = [child]
            elif "/celery -A config worker" in command and parents[pid] not in celery:
                celery.add(pid)
                found["celery worker"] = [pid]
                found["celery pool (2 processes)"] = children(pid)
            elif "/celery -A config beat" in command:
                found["celery beat"] = [pid]
        found["redis-server"] = [self.redis_pid]
        backends = [
            int(entry.name)
            for entry in os.scandir("/proc")
            if entry.name.isdigit() and f" {self.database} " in cmdline(int(entry.name))
        ]
        found["PostgreSQL backends"] = backends
        if self.locust_pid:
            found["locust (load generator)"] = [self.locust_pid]
        return found


class Sampler(threading.Thread):
    """Every SAMPLE_SECONDS: memory per role (RSS; PSS for PostgreSQL, whose backends
    share their buffers) and CPU ticks per role, with the machine's busy time."""

    def __init__(self, topology: Topology, started: float):
        super().__init__(daemon=True)
        self.topology, self.started = topology, started
        self.samples: list[dict] = []
        self.halt = threading.Event()

    def sample(self) -> dict:
        mb, ticks, counts = {}, {}, {}
        for role, pids in self.topology.roles().items():
            field = "Pss" if role == "PostgreSQL backends" else "Rss"
            mb[role] = sum(memory_kb(pid, field) for pid in pids) / 1024
            ticks[role] = sum(cpu_ticks(pid) for pid in pids)
            counts[role] = len(pids)
        busy, total = machine_jiffies()
        entry = {
            "t": time.monotonic() - self.started,
            "mb": mb,
            "ticks": ticks,
            "counts": counts,
            "busy": busy,
            "total": total,
        }
        self.samples.append(entry)
        return entry

    def run(self) -> None:
        while not self.halt.wait(SAMPLE_SECONDS):
            self.sample()


# --- locust's results ---------------------------------------------------------------------------


def read_results(path: Path) -> dict:
    """What the locustfile wrote when locust quit: every entry and every error."""
    if not path.exists():
        raise RuntimeError(f"locust wrote no results (see its output); expected {path}")
    return json.loads(path.read_text())


def steady_rate(prefix: Path, users: int) -> tuple[float, float, float] | None:
    """Requests per second between the moment every user is in and the end, from the
    per-name history (entries that are not requests left out): (rate, from, to) with the
    times in seconds since the first row."""
    rows: dict[int, int] = {}
    user_count: dict[int, int] = {}
    with contextlib.suppress(OSError), open(f"{prefix}_stats_history.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            stamp = int(row["Timestamp"])
            if row["Name"] == "Aggregated":
                user_count[stamp] = int(row["User Count"])
            elif row["Name"] not in NOT_REQUESTS and row["Type"] != "CHECK":
                rows[stamp] = rows.get(stamp, 0) + int(row["Total Request Count"])
    stamps = sorted(s for s in rows if s in user_count)
    if not stamps:
        return None
    full = [s for s in stamps if user_count[s] >= users]
    if len(full) < 2:
        return None
    first, last = full[0], full[-1]
    return (rows[last] - rows[first]) / (last - first), first - stamps[0], last - stamps[0]


def percent(share: float) -> str:
    """A share as a percentage; a small one that is not zero keeps two significant figures
    (one failure in 70,000 requests is 0.0014 %, not 0.00 %)."""
    if share == 0 or share >= 0.0001:
        return f"{share:.2%}"
    return f"{share * 100:.2g}%"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


# --- the run --------------------------------------------------------------------------------------


def run(args) -> dict:
    wait_for_quiet_machine()
    var_dir = Path(tempfile.gettempdir()) / "tapbuy-load"
    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_path = var_dir / "logs" / f"serve-{stamp}.log"
    locust_log = var_dir / "logs" / f"locust-{stamp}.log"
    prefix = var_dir / f"locust-{stamp}"
    result: dict = {"log": log_path, "locust_log": locust_log, "prefix": prefix}

    database = urlsplit(args.database_url).path.lstrip("/")
    if "bench" not in database:
        sys.exit(f"refusing to use database {database!r}: its name must contain 'bench'")
    redis = RedisServer()
    server = None
    locust = None
    sampler = None
    try:
        env = server_env(args.database_url, redis.url, var_dir)
        port = free_port()
        env.update(
            {
                "PORT": str(port),
                "WORKERS": str(args.workers),
                "SITE_URL": f"http://127.0.0.1:{port}",
                "CACHE_PREFIX": "tapbuy-load",
                "CHANNEL_PREFIX": "tapbuy-load",
                # Order emails are rendered by the worker and dropped: no mail server here,
                # and the console backend would fill the log with them.
                "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            }
        )
        print(f"database {database}: dropping and creating it again", flush=True)
        result["postgres"] = reset_database(args.database_url)
        started = time.monotonic()
        data = prepare_data(env, args.users, args.stock, args.coins)
        result["setup_s"] = time.monotonic() - started
        result["data"] = {"products": len(data["products"]), "accounts": len(data["accounts"])}
        data_path = var_dir / f"data-{stamp}.json"
        data_path.write_text(json.dumps(data))
        print(
            f"prepared live {data['live']}, {len(data['products'])} products, "
            f"{len(data['accounts'])} accounts in {result['setup_s']:.0f} s; "
            f"server output in {log_path}",
            flush=True,
        )

        server = Server(env, port, log_path)
        server.wait_healthy()
        time.sleep(STARTUP_SECONDS)
        topology = Topology(server, redis.process.pid, database)
        started = time.monotonic()
        sampler = Sampler(topology, started)
        sampler.sample()  # before the load

        locust_env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL") and not key.lower().endswith("_proxy")
        }
        locust_env["TAPBUY_LOAD_DATA"] = str(data_path)
        locust_env["TAPBUY_LOAD_RESULTS"] = f"{prefix}-results.json"
        command = [
            str(Path(sys.executable).parent / "locust"),
            "-f",
            str(HERE / "locustfile.py"),
            "--headless",
            "--host",
            f"http://127.0.0.1:{port}",
            "-u",
            str(args.users),
            "-r",
            str(args.spawn_rate),
            "--run-time",
            f"{round(args.minutes * 60)}s",
            "--stop-timeout",
            str(STOP_TIMEOUT),
            "--csv",
            str(prefix),
            "--csv-full-history",
            "--only-summary",
        ]
        print(
            f"locust: {args.users} users, {args.spawn_rate}/s, {args.minutes:g} min "
            f"(output in {locust_log})",
            flush=True,
        )
        with locust_log.open("wb") as output:
            locust = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=locust_env, stdout=output, stderr=subprocess.STDOUT
            )
            topology.locust_pid = locust.pid
            sampler.start()
            deadline = time.monotonic() + args.minutes * 60 + STOP_TIMEOUT + 120
            while locust.poll() is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("locust did not stop by itself")
                time.sleep(5)
                elapsed = time.monotonic() - started
                if int(elapsed) % 300 < 5:
                    _progress(sampler, elapsed)
            sampler.halt.set()
            sampler.join()
        result["locust_exit"] = locust.returncode
        result["samples"] = sampler.samples
        write_samples(var_dir / f"samples-{stamp}.csv", sampler.samples)
        result["check"] = shell_json(
            env, CHECK_CODE.replace("LIVE", str(data["live"])), "LOAD-CHECK"
        )
        result["data"]["live"] = data["live"]
    finally:
        if sampler is not None:
            sampler.halt.set()
        if locust is not None and locust.poll() is None:
            locust.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                locust.wait(timeout=30)
            if locust.poll() is None:
                locust.kill()
        if server is not None:
            server.stop()
            result["left_over"] = server.pids()
        redis.stop()
    stopped_at = getattr(server, "stopped_at", None)
    result["scan"] = scan_log(log_path, 0, stopped_at)
    result["statuses"] = access_statuses(log_path, stopped_at)
    results = read_results(Path(f"{prefix}-results.json"))
    result["stats"], result["failures"] = results["entries"], results["errors"]
    result["steady"] = steady_rate(prefix, args.users)
    result["locust_warnings"] = locust_warnings(locust_log)
    return result


def _progress(sampler: Sampler, elapsed: float) -> None:
    if not sampler.samples:
        return
    last = sampler.samples[-1]
    memory = ", ".join(f"{role} {mb:.0f} MB" for role, mb in last["mb"].items())
    print(f"  {elapsed / 60:.0f} min: {memory}", flush=True)


ACCESS = re.compile(r'"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) [^"]*" (\d{3})')


def access_statuses(path: Path, end: int | None) -> dict[str, int]:
    """Answers by status class in uvicorn's access log (a cross-check of locust's count)."""
    counts: dict[str, int] = {}
    text = path.read_bytes()[:end].decode(errors="replace")
    for found in ACCESS.finditer(text):
        key = found[1][0] + "xx"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def locust_warnings(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    found = [line for line in lines if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)]
    return [re.sub(r"^\[[^\]]+\] \S+/", "", line)[:200] for line in found][:8]


# --- the write-up -------------------------------------------------------------------------------


def summarize(result: dict, args) -> dict:
    stats = result["stats"]
    requests = [r for r in stats if r["name"] not in NOT_REQUESTS and r["type"] != "CHECK"]
    total = sum(r["count"] for r in requests)
    # Every failure counts, also those of entries that are not requests (a socket the
    # server closed, an error event, an idempotency check).
    failures = sum(r["failures"] for r in stats)
    http = sum(r["count"] for r in requests if r["type"] != "WS")
    ws = total - http
    samples = result["samples"]
    duration = args.minutes * 60  # locust's --run-time, the ramp-up included
    ramp = args.users / args.spawn_rate
    marks = pick_samples(samples, ramp)
    return {
        "total": total,
        "http": http,
        "ws": ws,
        "failures": failures,
        "error_rate": failures / total if total else 0.0,
        "rate": total / duration if duration else 0.0,
        "duration": duration,
        "marks": marks,
        "cpu": cpu_share(samples, marks),
        "routes": sorted(stats, key=lambda r: (r["type"] == "WS", r["type"], r["name"])),
    }


def pick_samples(samples: list[dict], ramp: float) -> list[tuple[str, dict]]:
    """Before the load, once every user is in, the middle of the steady part, the end."""
    if len(samples) < 2:
        return [("before the load", s) for s in samples]
    steady = [s for s in samples[1:] if s["t"] >= ramp] or samples[1:]
    first, last = steady[0], steady[-1]
    middle = min(steady, key=lambda s: abs(s["t"] - (first["t"] + last["t"]) / 2))
    return [
        ("before the load", samples[0]),
        (f"all users in ({first['t'] / 60:.0f} min)", first),
        (f"middle ({middle['t'] / 60:.0f} min)", middle),
        (f"end ({last['t'] / 60:.0f} min)", last),
    ]


def cpu_share(samples: list[dict], marks: list[tuple[str, dict]]) -> dict:
    """CPU per role (100 % is one core) and the machine's busy share, over the steady part."""
    if len(marks) < 4:
        return {}
    first, last = marks[1][1], marks[3][1]
    elapsed = last["t"] - first["t"]
    if elapsed <= 0:
        return {}
    roles = {
        role: 100 * (last["ticks"][role] - first["ticks"].get(role, 0)) / TICKS / elapsed
        for role in last["ticks"]
    }
    machine_busy = 100 * (last["busy"] - first["busy"]) / max(1, last["total"] - first["total"])
    return {"roles": roles, "machine": machine_busy}


def succeeded(routes: list[dict], name: str) -> int:
    return sum(r["count"] - r["failures"] for r in routes if r["name"] == name)


def routes_table(routes: list[dict]) -> str:
    rows = [
        "| route (locust name) | type | count | failures | p50 | p95 | p99 | max |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in routes:
        rows.append(
            f"| `{row['name']}` | {row['type']} | {row['count']:,} | {row['failures']:,} "
            f"| {ms(row['p50'])} | {ms(row['p95'])} | {ms(row['p99'])} | {ms(row['max'])} |"
        )
    return "\n".join(rows)


def memory_table(marks: list[tuple[str, dict]]) -> str:
    if not marks:
        return "(no samples)"
    roles = list(marks[-1][1]["mb"])
    head = " | ".join(label for label, _ in marks)
    head = f"| process | {head} | growth, users in → end | growth, middle → end |"
    rows = [head, "|---|" + "---:|" * (len(marks) + 2)]
    for role in roles:
        cells = []
        for _label, sample in marks:
            value = sample["mb"].get(role)
            count = sample["counts"].get(role, 0)
            many = f" ({count})" if role == "PostgreSQL backends" else ""
            cells.append("—" if value is None else f"{value:,.0f} MB{many}")
        growths = [growth(marks, role, 1), growth(marks, role, 2)]
        rows.append(f"| {role} | " + " | ".join(cells + growths) + " |")
    return "\n".join(rows)


def growth(marks: list[tuple[str, dict]], role: str, since: int) -> str:
    """The change of a role's memory from marks[since] to the end."""
    if len(marks) < 4 or role not in marks[since][1]["mb"] or role not in marks[3][1]["mb"]:
        return "—"
    before, after = marks[since][1]["mb"][role], marks[3][1]["mb"][role]
    share = f" ({(after - before) / before:+.0%})" if before else ""
    return f"{after - before:+,.0f} MB{share}"


def write_samples(path: Path, samples: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["seconds", "process", "MB", "processes", "cpu_ticks"])
        for sample in samples:
            for role, mb in sample["mb"].items():
                out.writerow(
                    [round(sample["t"]), role, round(mb, 1), sample["counts"][role]]
                    + [sample["ticks"][role]]
                )


def mix_lines() -> list[str]:
    return [
        "Users (locust classes, by weight): 40 % anonymous viewers, 30 % signed-in viewers who "
        "chat, 20 % buyers, 10 % gifters (buyers and gifters are signed in and chat too), and "
        "one host pinning the carousel's products in turn every 20–40 s.",
        "Every viewer opens the feed and the live page (with its top-gifters partial), holds "
        "the live's socket open and reads every frame, and between pauses of 3–9 s likes "
        "(bursts of 1–5 taps over the socket), looks at product pages and the products API, "
        "reads the live's snapshot and the live list through the API, searches, visits the "
        "shop, the host's profile and another live, and now and then leaves and opens the live "
        "again (a new page and socket). Signed-in viewers chat about once every 40 s; buyers "
        "open the buy sheet and buy one tap (`POST /api/v1/orders/`, a fresh Idempotency-Key, "
        "`pm_card_ok`) about once a minute, and one order in ten is sent again with the same "
        "key, as a client that lost the answer does (it must get the same order back); gifters "
        "send a gift about every 20 s. A POST whose connection dropped before any answer (a "
        "keep-alive connection that the server closed at its idle timeout just as the request "
        "went out; `scripts/serve` keeps idle connections 75 s, longer than any user's pause) "
        "is sent once more with the same Idempotency-Key, as a real client "
        "does (the HTTP client does so by itself for GETs); that attempt has a row of its own "
        "and is not a failure.",
        "Rate limits are the defaults: every user keeps below its own limits, and each "
        "simulated viewer sends its own address in `X-Forwarded-For` (from 198.18.0.0/15, "
        "the range set aside for benchmarks), as the proxy in front of a real deployment "
        "does, so that per-address limits apply per viewer. A 429 would count as an error.",
        "Signed-in users come with a session and a token made by the set-up (no log-in "
        "requests: a password hash at production strength would dominate the figures); "
        "static files are not requested (a browser caches them, a CDN serves them).",
    ]


def section(result: dict, summary: dict, args, info: dict) -> str:
    software = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    steady = result["steady"]
    cpu = summary["cpu"]
    check = result.get("check", {})
    orders = succeeded(summary["routes"], "POST /api/v1/orders/")
    gifts = succeeded(summary["routes"], "POST /api/v1/streams/[id]/gifts/")

    facts = [
        f"Date: {info['date']}",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']} of memory; "
        f"PostgreSQL {result['postgres']} and Redis {info['redis_server']} on the same machine, "
        "and locust too (one process, sharing the cores with the server)",
        f"Software: Python {info['python']}, {software}",
        f"Topology: `scripts/serve` with WORKERS={args.workers} (uvicorn), one Celery worker "
        "(2 pool processes) and beat, on the database `"
        + urlsplit(args.database_url).path.lstrip("/")
        + "` and a redis-server of the run's own",
        f"Command: `.venv/bin/python bench/load/busy_live.py --minutes {args.minutes:g} "
        f"--users {args.users} --spawn-rate {args.spawn_rate:g}`",
        f"Load: {args.users} users, {args.spawn_rate:g} new a second (all in after "
        f"{args.users / args.spawn_rate:.0f} s), for {args.minutes:g} minutes",
    ]
    totals = [
        f"Requests: {summary['total']:,} ({summary['http']:,} HTTP, {summary['ws']:,} WebSocket "
        f"actions: connects, chat lines, like bursts) in {summary['duration'] / 60:.1f} min: "
        f"**{summary['rate']:,.1f} requests/s** over the whole run"
        + (
            f", **{steady[0]:,.1f} requests/s** sustained once every user was in "
            f"({steady[1] / 60:.1f} → {steady[2] / 60:.1f} min)"
            if steady
            else ""
        ),
        f"Failures: **{summary['failures']:,}**, error rate **{percent(summary['error_rate'])}**"
        + (
            "; "
            + "; ".join(
                f"{f['occurrences']} × {f['name']}: {f['error'][:120]}"
                for f in result["failures"][:5]
            )
            if result["failures"]
            else ""
        ),
    ]
    if check:
        received = result["data"]["products"] * args.stock
        totals.append(
            f"In the database afterwards: {check['orders']:,} orders of the live, "
            f"{check['paid']:,} of them paid (the buyers were told of {orders:,} paid orders), "
            f"{check['gifts']:,} gifts (the gifters were told of {gifts:,}); stock left "
            f"{check['stock']:,} + units sold {check['sold']:,} = "
            f"{check['stock'] + check['sold']:,} of {received:,} received; the ledger "
            + ("balanced" if not check["ledger"] else f"BROKEN: {check['ledger'][:3]}")
        )
    if cpu:
        busy = ", ".join(
            f"{role} {value:.0f} %"
            for role, value in sorted(cpu["roles"].items(), key=lambda item: -item[1])
            if value >= 1
        )
        others = cpu["machine"] * info["nproc"] - sum(cpu["roles"].values())
        totals.append(
            f"CPU over the steady part (100 % is one core): {busy}; the machine was "
            f"{cpu['machine']:.0f} % busy ({info['nproc']} cores), {max(0.0, others):.0f} % "
            "of a core of it other processes (PostgreSQL's own, and whatever else ran)"
        )
    statuses = result["statuses"]
    scan = result["scan"]
    server_notes = [
        "uvicorn's access log: "
        + ", ".join(f"{n:,} × {status}" for status, n in statuses.items())
        + " (locust's requests and the start-up's health check; WebSocket handshakes are not "
        "in it)",
    ]
    if scan["tracebacks"] or scan["problems"]:
        server_notes.append(
            "server output: "
            + "; ".join(f"{n} × `{line[:140]}`" for line, n in scan["tracebacks"][:3])
            + ("; " if scan["tracebacks"] and scan["problems"] else "")
            + "; ".join(f"{n} × `{line[:140]}`" for line, n in scan["problems"][:3])
        )
    else:
        server_notes.append("no warning, error or traceback in the server's output")
    dropped = [r for r in result["stats"] if r["name"].endswith("(connection dropped, sent again)")]
    if dropped:
        server_notes.append(
            "POSTs whose connection dropped before any answer, sent again with the same key: "
            + ", ".join(f"{r['count']} × `{r['name'].split(' (')[0]}`" for r in dropped)
        )
    if result["locust_warnings"]:
        server_notes.append(
            "locust said: " + "; ".join(f"`{w}`" for w in result["locust_warnings"][:3])
        )
    if result.get("left_over"):
        server_notes.append(f"processes left after stopping: {result['left_over']}")

    intro = [
        "A busy live for a long while under locust (`bench/load/locustfile.py`): viewers "
        "browsing, watching over the live's WebSocket, chatting, liking, buying and gifting, "
        "against the production topology. It measures the sustained requests per second, the "
        "failures, the latency per route (locust's percentiles, rounded as locust keeps them) "
        f"and the memory of every process of the topology, sampled every {SAMPLE_SECONDS} s.",
        "It needs PostgreSQL and `redis-server` on this machine. It drops and creates the "
        "database (`--database-url`, default `tapbuy_load_bench`; the name must contain "
        "`bench`), starts a redis-server of its own on a free port, prepares the data (a shop "
        f"with {result['data']['products']} products of {args.stock:,} units each in the "
        "live's carousel, three other lives on air and three upcoming for the feed, one "
        "account per user with a token, a session, an address, a saved card and "
        f"{args.coins:,} coins), starts `scripts/serve` on a free port and runs locust "
        "headless in one process; it waits while another benchmark's flag file "
        "(`tapbuy-bench-running` in the temporary directory) exists. `make bench-load` "
        "installs locust (`requirements/bench.txt`) first.",
        "WebSocket actions are locust events of type WS: `ws connect` (handshake to "
        "snapshot), `ws chat` (a line sent to the same line back on the sender's socket), "
        "`ws like` (the write: likes have no answer, the server batches them into a "
        "once-a-second event) and `ws event delivery` (for each carousel.updated, order.placed "
        "and gift.sent a viewer receives, its arrival minus the event's `ts`), which is not "
        "counted as a request. Memory is RSS, except for PostgreSQL's backends of the "
        "database (their PSS summed, as they share their buffers; in brackets how many there "
        "were).",
    ]
    body = f"""{SECTION}

{_paragraph(intro[0])}

```sh
make bench-load [LOAD_MINUTES=30] [LOAD_USERS=200] [LOAD_SPAWN_RATE=2] [LOAD_ARGS=...]
.venv/bin/python bench/load/busy_live.py --minutes 30 --users 200 --spawn-rate 2
```

{_paragraph(intro[1])}

{_paragraph(intro[2])}

"""
    body += "\n".join(bullet(line) for line in mix_lines()) + "\n\nMeasured:\n\n"
    body += "\n".join(bullet(line) for line in facts + totals) + "\n\n"
    body += routes_table(summary["routes"]) + "\n\nMemory:\n\n"
    body += memory_table(summary["marks"]) + "\n\nNotes:\n\n"
    body += "\n".join(bullet(line) for line in server_notes + args.extra_notes) + "\n"
    return body


def _paragraph(text: str) -> str:
    return textwrap.fill(text, width=92, break_on_hyphens=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=2, help="new users a second")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (WORKERS)")
    parser.add_argument("--stock", type=int, default=1_000_000, help="units of each product")
    parser.add_argument("--coins", type=int, default=100_000, help="coins of each account")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--no-readme", action="store_true", help="do not update bench/README.md")
    parser.add_argument(
        "--note", dest="extra_notes", action="append", default=[], help="add a note (README)"
    )
    args = parser.parse_args()

    info = machine(PACKAGES)
    print(
        f"{info['nproc']} cores ({info['cpu']}), {info['memory']}, Python {info['python']}",
        flush=True,
    )
    try:
        result = run(args)
    except KeyboardInterrupt:
        sys.exit("interrupted: the server, locust and redis-server were stopped")
    summary = summarize(result, args)
    text = section(result, summary, args, info)
    print()
    print(text)
    print(f"server output: {result['log']}\nlocust output: {result['locust_log']}")
    print(f"locust CSV files: {result['prefix']}_*.csv")
    if result["scan"]["first_traceback"]:
        print("first traceback in the server's output:")
        print("\n".join(f"    {line}" for line in result["scan"]["first_traceback"]))
    if not args.no_readme:
        write_readme(text, SECTION)
        print(f"wrote {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
