"""Time a pin's trip to every viewer of one live on the production topology.

    .venv/bin/python bench/live_pin.py --viewers 100 1000 5000 [--workers 2] [--pins 20]

For each N: flush the bench's Redis DB, start `scripts/serve` (WORKERS uvicorn processes, a
Celery worker and beat) against the bench's own PostgreSQL database and Redis DB, open N
anonymous viewer sockets on /ws/live/<id>/ from a separate load-generator process, then
have the host pin the live's products in turn (one POST /api/v1/streams/<id>/pin/ a
second) and record when each viewer receives the matching `carousel.updated` event.
Latency is the arrival at the viewer minus the moment just before the host's POST, both
read from time.monotonic() (CLOCK_MONOTONIC: one clock for every process of the machine).

It never touches real data: the database (default tapbuy_bench) is dropped and created
again, and its name must contain "bench"; the Redis DB (default 9) is flushed and must not
be DB 0. Every wait is bounded, and the whole server process group is stopped at the end,
also on an error or Ctrl-C. Figures go to the console and to bench/README.md
(--no-readme to skip).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
SECTION = "## Live pin latency (bench/live_pin.py)"
CAROUSEL_PREFIX = '{"type":"carousel.updated"'  # events.envelope writes "type" first
SNAPSHOT_PREFIX = '{"type":"snapshot"'

HEALTH_TIMEOUT = 120  # seconds for migrate, collectstatic and the workers to answer /healthz
SETUP_TIMEOUT = 300
PIN_TIMEOUT = 30  # seconds for one POST
CLOSE_TIMEOUT = 20
STOP_TIMEOUT = 20  # seconds between SIGTERM and SIGKILL for the server's process group
STARTUP_SECONDS = 3  # after /healthz answers: Celery finishes starting before the viewers come
SETTLE_TIMEOUT = 30  # after the viewers leave: the workers run the disconnects until idle


# --- the load generator (its own process) -----------------------------------------------------


@dataclass(slots=True)
class Viewer:
    joined_at: float | None = None
    arrivals: list = field(default_factory=list)
    seqs: list = field(default_factory=list)
    next_pin: int = 0
    frames: int = 0
    unmatched: int = 0
    error: str | None = None
    ws: object = None


async def _watch(viewer, url, origin, gate, joined, schedule, queue):
    """One viewer: connect (at most `gate` handshakes in flight), read the snapshot, then
    read every frame and stamp the carousel.updated events."""
    import websockets

    try:
        async with gate:
            viewer.ws = await websockets.connect(
                url,
                origin=origin,
                compression=None,
                proxy=None,
                max_queue=queue,
                ping_interval=None,  # no client pings: nothing but the server's own traffic
                open_timeout=60,
                close_timeout=2,
            )
            first = await asyncio.wait_for(viewer.ws.recv(), 60)
            viewer.frames += 1
            if not first.startswith(SNAPSHOT_PREFIX):
                viewer.error = f"first frame is not a snapshot: {first[:80]}"
                joined.set_result(False)
                return
            viewer.joined_at = time.monotonic()
        joined.set_result(True)
        async for text in viewer.ws:
            now = time.monotonic()
            viewer.frames += 1
            if not text.startswith(CAROUSEL_PREFIX):
                continue
            event = json.loads(text)
            pinned = next((i["product"] for i in event["data"]["items"] if i["pinned"]), None)
            # The k-th pin is the next one in the schedule pinning this product: products
            # repeat, so match in order (a viewer that misses a whole round would be
            # misattributed; the seq check in the report catches that).
            for k in range(viewer.next_pin, len(schedule)):
                if schedule[k] == pinned:
                    viewer.arrivals[k], viewer.seqs[k] = now, event["seq"]
                    viewer.next_pin = k + 1
                    break
            else:
                viewer.unmatched += 1
        code = viewer.ws.close_code
        viewer.error = f"closed by the server (code {code})"
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        viewer.error = f"{type(exc).__name__}: {exc}"[:160]
    finally:
        if not joined.done():
            joined.set_result(False)


async def _load(conn, url, origin, count, batch, join_timeout, schedule, queue):
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(batch)
    pins = len(schedule)
    viewers = [Viewer(arrivals=[None] * pins, seqs=[None] * pins) for _ in range(count)]
    joins = [loop.create_future() for _ in viewers]
    started = time.monotonic()
    tasks = [
        asyncio.create_task(_watch(v, url, origin, gate, j, schedule, queue))
        for v, j in zip(viewers, joins, strict=True)
    ]
    await asyncio.wait(joins, timeout=join_timeout)
    # Give up on the viewers still waiting for their snapshot, so that the pins go to a
    # fixed set of viewers that all joined before the first one.
    late = [(v, t) for v, t, j in zip(viewers, tasks, joins, strict=True) if not j.done()]
    for viewer, task in late:
        task.cancel()
        if viewer.ws is not None:
            viewer.ws.transport.abort()
    await asyncio.gather(*(t for _, t in late), return_exceptions=True)
    joined = [v.joined_at for v in viewers if v.joined_at is not None]
    errors = Counter(v.error for v in viewers if v.error)
    conn.send(
        {
            "started": started,
            "joined": len(joined),
            "last_join": max(joined, default=None),
            "offsets": sorted(t - started for t in joined),
            "pending": len(late),
            "errors": dict(errors.most_common(8)),
        }
    )

    command, pins, drain = await loop.run_in_executor(None, conn.recv)
    assert command == "collect"
    deadline = time.monotonic() + drain
    while time.monotonic() < deadline:
        waiting = [
            v
            for v, t in zip(viewers, tasks, strict=True)
            if v.joined_at is not None and not t.done() and any(v.arrivals[k] is None for k in pins)
        ]
        if not waiting:
            break
        await asyncio.sleep(0.1)
    conn.send(
        {
            "viewers": [
                (v.joined_at, v.arrivals, v.seqs, v.frames, v.unmatched, v.error)
                for v in viewers
                if v.joined_at is not None
            ],
            "errors": dict(Counter(v.error for v in viewers if v.error).most_common(8)),
        }
    )

    await loop.run_in_executor(None, conn.recv)  # "close"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    sockets = [v.ws for v in viewers if v.ws is not None]
    closing = asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closing, CLOSE_TIMEOUT - 5)
    conn.send("closed")


def load_generator(conn, *args) -> None:
    """The entry point of the load-generator process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator decides when to stop
    try:
        import uvloop

        uvloop.run(_load(conn, *args))
    except ImportError:
        asyncio.run(_load(conn, *args))


# --- the server and its data ------------------------------------------------------------------


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def reset_database(url: str) -> str:
    """Drop and create the bench database; return the server's version."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    parts = urlsplit(url)
    conninfo = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "dbname": "postgres",
    }
    if parts.password:
        conninfo["password"] = parts.password
    with psycopg.connect(**conninfo, autocommit=True, connect_timeout=10) as conn:
        quoted = psycopg.sql.Identifier(name)
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(quoted))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(quoted))
        version = conn.info.server_version
    return f"{version // 10000}.{version % 10000}"


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    if int(client.connection_pool.connection_kwargs.get("db", 0)) == 0:
        sys.exit("refusing to flush Redis DB 0: give the bench its own DB (e.g. /9)")
    client.flushdb()
    client.close()


SETUP_CODE = """
import json
from django.utils import timezone
from rest_framework.authtoken.models import Token
from streams import services
from tests.factories import ShopFactory, make_product

shop = ShopFactory(handle="benchshop", name="Bench shop")
host = shop.owner
products = [make_product(shop, f"Bench item {i + 1}").pk for i in range(PRODUCTS)]
lives = []
for n in COUNTS:
    stream, _ = services.stream_schedule(
        host=host, title=f"Bench live for {n} viewers", scheduled_at=timezone.now()
    )
    services.stream_go_live(stream=stream, actor=host)
    services.carousel_set(stream=stream, actor=host, product_ids=products)
    lives.append(stream.pk)
token = Token.objects.create(user=host).key
print("BENCH-DATA " + json.dumps({"products": products, "lives": lives, "token": token}))
"""


def prepare_data(env: dict, products: int, counts: list[int]) -> dict:
    """Migrate the bench database and create a host, its shop, products and one live on
    air per N, each with all the products in its carousel; return ids and the token."""
    python = sys.executable
    run = {"cwd": ROOT, "env": env, "capture_output": True, "text": True}
    done = subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [python, "manage.py", "migrate", "--noinput", "-v0"], timeout=SETUP_TIMEOUT, **run
    )
    if done.returncode:
        sys.exit(f"migrate failed:\n{done.stdout}\n{done.stderr}")
    code = SETUP_CODE.replace("PRODUCTS", str(products)).replace("COUNTS", repr(counts))
    done = subprocess.run(  # noqa: S603
        [python, "manage.py", "shell", "-c", code], timeout=SETUP_TIMEOUT, **run
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-DATA "):
            return json.loads(line.removeprefix("BENCH-DATA "))
    sys.exit(f"preparing data failed:\n{done.stdout}\n{done.stderr}")


def server_env(database_url: str, redis_url: str, var_dir: Path) -> dict:
    """The environment of a bench's server: its own database and Redis DB, DEBUG off."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # Static files, uploads and beat's schedule of the bench stay out of the tree.
        "TAPBUY_VAR_DIR": str(var_dir),
        # Fresh secrets: scripts/serve would otherwise write its own into var/.
        "SECRET_KEY": secrets.token_urlsafe(64),
        "PAYMENTS_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(32),
        "DEBUG": "0",
        "HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CACHE_PREFIX": "tapbuy-bench",
        "CHANNEL_PREFIX": "tapbuy-bench",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """scripts/serve in its own session, so that its whole process group can be stopped."""

    def __init__(self, env: dict, port: int, log_path: Path):
        self.port, self.log_path = port, log_path
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [str(ROOT / "scripts" / "serve")],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.process.pid

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.log_path.read_text(errors="replace").strip().splitlines()
                last = output[-1][:200] if output else "no output"
                raise RuntimeError(f"scripts/serve exited early ({last}); see {self.log_path}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            time.sleep(0.5)
        raise RuntimeError(f"/healthz did not answer 200 in {HEALTH_TIMEOUT} s")

    def pids(self) -> list[int]:
        return [pid for pid, stat in _proc_stats().items() if stat[1] == self.pgid]

    def stop(self) -> None:
        """SIGTERM to scripts/serve, whose trap stops its processes as an operator's would;
        what is left after STOP_TIMEOUT gets SIGKILL, the whole process group."""
        self.stopped_at = self.log_path.stat().st_size
        steps = ((self.process.send_signal, signal.SIGTERM, STOP_TIMEOUT),)
        steps += ((lambda sig: os.killpg(self.pgid, sig), signal.SIGKILL, 5),)
        for send, sig, wait in steps:
            with contextlib.suppress(ProcessLookupError):
                send(sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.pids():
                time.sleep(0.2)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)
            if not self.pids():
                break
        self.log.close()


# --- CPU and the server log -------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> dict[int, tuple[int, int, int, str]]:
    """pid -> (ppid, pgrp, cpu ticks, command name) for every process we can read."""
    stats = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            raw = Path(entry.path, "stat").read_text()
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2 :].split()
            ppid, pgrp = int(fields[1]), int(fields[2])
            stats[int(entry.name)] = (ppid, pgrp, int(fields[11]) + int(fields[12]), name)
    return stats


def cmdline(pid: int) -> str:
    """A process's command line, its arguments joined by spaces ("" once it is gone)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def roles(server: Server, client_pid: int | None) -> dict[int, str]:
    """Name the processes worth watching: each uvicorn worker, Celery, Redis, PostgreSQL
    and the load generator."""
    stats = _proc_stats()
    named = {}
    mine = {pid: cmdline(pid) for pid, s in stats.items() if s[1] == server.pgid}
    masters = {pid for pid, line in mine.items() if "/uvicorn config.asgi" in line}
    workers = sorted(
        pid for pid, line in mine.items() if stats[pid][0] in masters and "spawn_main" in line
    )
    for i, pid in enumerate(workers, 1):
        named[pid] = f"worker {i}"
    for pid, (_ppid, _pgrp, _ticks, name) in stats.items():
        if pid in named:
            continue
        if "/celery -A config" in mine.get(pid, ""):
            named[pid] = "celery"
        elif name == "redis-server":
            named[pid] = "redis"
        elif name.startswith("postgres"):
            named[pid] = "postgres"
    if client_pid:
        named[client_pid] = "load generator"
    return named


class CpuMeter:
    def __init__(self, named: dict[int, str]):
        self.named = named
        self.start = time.monotonic()
        self.ticks = {pid: s[2] for pid, s in _proc_stats().items() if pid in named}

    def percent(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.start
        now = {pid: s[2] for pid, s in _proc_stats().items() if pid in self.named}
        used: Counter = Counter()
        for pid, ticks in now.items():
            used[self.named[pid]] += ticks - self.ticks.get(pid, ticks)
        return {role: 100 * t / TICKS / elapsed for role, t in sorted(used.items())}


def rss_mb(pids: dict[int, str]) -> dict[str, int]:
    sizes = {}
    for pid, role in pids.items():
        if role.startswith("worker"):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[role] = int(line.split()[1]) // 1024
    return sizes


def scan_log(path: Path, start: int = 0, end: int | None = None) -> dict:
    """Warnings, errors and the last line of every traceback in the server's output
    (from byte `start` to `end`)."""
    problems: Counter = Counter()
    tracebacks: Counter = Counter()
    first_traceback: list[str] = []
    lines = path.read_bytes()[start:end].decode(errors="replace").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Traceback (most recent call last):"):
            block = [line]
            i += 1
            while i < len(lines) and (lines[i].startswith((" ", "\t")) or not lines[i]):
                block.append(lines[i])
                i += 1
            if i < len(lines):
                block.append(lines[i])
                tracebacks[lines[i][:200]] += 1
            if not first_traceback:
                first_traceback = block
        elif re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line):
            message = re.sub(r"^[\d\-: ,.]+", "", line)
            message = re.sub(r"\b(specific\.\S+|\d+)\b", "#", message)
            problems[message[:200]] += 1
        i += 1
    return {
        "problems": problems.most_common(6),
        "tracebacks": tracebacks.most_common(6),
        "first_traceback": first_traceback[-40:],
    }


# --- one run ----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def pin(conn_box: list, port: int, token: str, live: int, product: int) -> tuple[int, str]:
    body = json.dumps({"product": product})
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    for attempt in (1, 2):  # a keep-alive connection the server closed is reopened once
        if conn_box[0] is None:
            conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=PIN_TIMEOUT)
        try:
            conn_box[0].request("POST", f"/api/v1/streams/{live}/pin/", body, headers)
            response = conn_box[0].getresponse()
            return response.status, response.read()[:200].decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            conn_box[0].close()
            conn_box[0] = None
            if attempt == 2:
                return 0, f"{type(exc).__name__}: {exc}"
    return 0, "unreachable"


def run_one(args, env: dict, data: dict, count: int, live: int, log: Path) -> dict:
    result: dict = {"n": count, "workers": args.workers}
    flush_redis(args.redis_url)
    port = args.port or free_port()
    server = Server(
        {**env, "PORT": str(port), "WORKERS": str(args.workers)},
        port,
        log,
    )
    result["log"] = str(log)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    client = None
    products = data["products"]
    schedule = [products[i % len(products)] for i in range(args.pins)]
    try:
        server.wait_healthy()
        time.sleep(STARTUP_SECONDS)
        url = f"ws://127.0.0.1:{port}/ws/live/{live}/"
        client = context.Process(
            target=load_generator,
            args=(child, url, f"http://127.0.0.1:{port}", count, args.batch, args.join_timeout)
            + (schedule, args.max_queue),
            daemon=True,
        )
        client.start()
        named = roles(server, client.pid)

        meter = CpuMeter(named)
        if not parent.poll(args.join_timeout + 30):
            raise RuntimeError("the load generator did not report its joins")
        joins = parent.recv()
        result["join_cpu"] = meter.percent()
        result["joined"] = joins["joined"]
        result["join_errors"] = joins["errors"]
        result["join_pending"] = joins["pending"]
        if joins["joined"] == count:
            result["join_s"] = joins["last_join"] - joins["started"]
        offsets = joins["offsets"]
        result["join_marks"] = [
            (share, offsets[math.ceil(share / 100 * count) - 1])
            for share in (10, 50, 90)
            if math.ceil(share / 100 * count) <= len(offsets)
        ]
        print(
            f"  N={count}: {joins['joined']}/{count} joined"
            + (f" in {result['join_s']:.1f} s" if "join_s" in result else "")
            + (f"; errors {joins['errors']}" if joins["errors"] else ""),
            flush=True,
        )

        meter = CpuMeter(roles(server, client.pid))
        t0s, statuses, posts = [], [], []
        box: list = [None]
        # When viewers were dropped at the join deadline, let the server see them leave first.
        begin = time.monotonic() + (0.5 if not joins["pending"] else 5)
        if joins["joined"]:
            for k, product in enumerate(schedule):
                time.sleep(max(0.0, begin + k * args.interval - time.monotonic()))
                t0 = time.monotonic()
                status, text = pin(box, port, data["token"], live, product)
                posts.append(time.monotonic() - t0)
                t0s.append(t0)
                statuses.append((status, text))
        if box[0] is not None:
            box[0].close()
        ok = [k for k, (status, _) in enumerate(statuses) if status == 200]
        result["pins_ok"] = len(ok)
        result["pin_failures"] = Counter(
            f"{s} {t[:80]}" for s, t in statuses if s != 200
        ).most_common(4)
        result["post_p50"] = statistics.median(posts) if posts else None
        result["pin_span"] = t0s[-1] - t0s[0] + posts[-1] if posts else None

        parent.send(("collect", ok, args.drain))
        if not parent.poll(args.drain + 60):
            raise RuntimeError("the load generator did not hand over its arrivals")
        report = parent.recv()
        result["pin_cpu"] = meter.percent()
        result["rss_mb"] = rss_mb(named)
        result.update(summarize(report, t0s, ok))

        parent.send("close")
        if not parent.poll(CLOSE_TIMEOUT):
            result["close_note"] = "the viewers did not close in time"
        else:
            parent.recv()
        result["settle_s"] = settle([pid for pid, role in named.items() if "worker" in role])
        result["group_left"] = group_size(args.redis_url, env["CHANNEL_PREFIX"], live)
    finally:
        if client is not None:
            client.join(timeout=5)
            if client.is_alive():
                client.terminate()
                client.join(timeout=5)
        server.stop()
        result["left_over"] = server.pids()
    # The run, then the shutdown apart: a stop's noise is not a load problem.
    stopped_at = getattr(server, "stopped_at", None)
    result.update(scan_log(log, 0, stopped_at))
    if stopped_at is not None:
        result["shutdown"] = scan_log(log, stopped_at)["tracebacks"]
    return result


def settle(workers: list[int]) -> float:
    """Wait until the uvicorn workers are idle (under 10 % of a core together for half a
    second), at most SETTLE_TIMEOUT seconds; return how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_TIMEOUT:
        meter = CpuMeter(dict.fromkeys(workers, "workers"))
        time.sleep(0.5)
        if meter.percent().get("workers", 0) < 10:
            break
    return time.monotonic() - started


def group_size(redis_url: str, prefix: str, live: int) -> int | None:
    """Channels still in the live's group (channels-redis keeps a group as a sorted set)."""
    import redis

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        size = client.zcard(f"{prefix}:group:{live_group(live)}")
        client.close()
        return size
    return None


def live_group(live: int) -> str:
    return f"live.{live}"  # streams.events.group_name


def summarize(report: dict, t0s: list[float], ok: list[int]) -> dict:
    latencies = []
    per_pin: dict[int, list[float]] = {k: [] for k in ok}
    seqs: dict[int, Counter] = {k: Counter() for k in ok}
    frames, unmatched = [], 0
    for _joined_at, arrivals, seq, count, missed, _error in report["viewers"]:
        frames.append(count)
        unmatched += missed
        for k in ok:
            if arrivals[k] is not None:
                latency = arrivals[k] - t0s[k]
                latencies.append(latency)
                per_pin[k].append(latency)
                seqs[k][seq[k]] += 1
    viewers = len(report["viewers"])
    expected = viewers * len(ok)
    out = {
        "received": len(latencies),
        "expected": expected,
        "unmatched": unmatched,
        "client_errors": report["errors"],
        "frames_p50": statistics.median(frames) if frames else 0,
        "seq_split": sum(len(c) > 1 for c in seqs.values()),
    }
    if latencies:
        out.update(
            p50=percentile(latencies, 50),
            p99=percentile(latencies, 99),
            max=max(latencies),
        )
        complete = [max(v) for k, v in per_pin.items() if len(v) == viewers]
        out["all_p50"] = statistics.median(complete) if complete else None
        medians = [statistics.median(per_pin[k]) for k in ok if per_pin[k]]
        tail = max(1, len(medians) // 4)
        out["trend"] = (statistics.median(medians[:tail]), statistics.median(medians[-tail:]))
        out["per_pin"] = [
            (k + 1, len(per_pin[k]), statistics.median(per_pin[k]), max(per_pin[k]))
            for k in ok
            if per_pin[k]
        ]
    return out


# --- output -----------------------------------------------------------------------------------


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"


def table(results: list[dict]) -> str:
    rows = [
        "| viewers | joined (time) | delivered | p50 | p99 | max | pin at every viewer (median) "
        "| first → last quarter p50 |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if "joined" not in r:
            rows.append(f"| {r['n']:,} | did not run: {r.get('failure', '?')} | | | | | | |")
            continue
        join = (
            f"{r['joined']:,} in {r['join_s']:.1f} s"
            if "join_s" in r
            else f"{r['joined']:,} of {r['n']:,} in {r['join_timeout']} s"
        )
        ratio = r["received"] / r["expected"] if r.get("expected") else 0
        delivered = (
            f"{ratio:.1%} ({r['received']:,}/{r['expected']:,})" if r.get("expected") else "—"
        )
        trend = f"{ms(r['trend'][0])} → {ms(r['trend'][1])}" if r.get("trend") else "—"
        rows.append(
            f"| {r['n']:,} | {join} | {delivered} | {ms(r.get('p50'))} | {ms(r.get('p99'))} "
            f"| {ms(r.get('max'))} | {ms(r.get('all_p50'))} | {trend} |"
        )
    return "\n".join(rows)


def cpu_line(cpu: dict[str, float]) -> str:
    """The busy processes, the uvicorn workers first (100 % is one core)."""
    ordered = sorted(cpu.items(), key=lambda item: (not item[0].startswith("worker"), item[0]))
    return ", ".join(f"{role} {value:.0f} %" for role, value in ordered if value >= 1)


def notes(results: list[dict], args) -> list[str]:
    lines = []
    for r in results:
        if "joined" not in r:
            lines.append(f"N={r['n']:,}: the run failed: {r.get('failure')}.")
            continue
        head = f"N={r['n']:,}:"
        if "join_s" not in r:
            lines.append(
                f"{head} only {r['joined']:,} of {r['n']:,} viewers had their snapshot after "
                f"{r['join_timeout']} s; the bench dropped the {r['join_pending']:,} still "
                "waiting (handshake or snapshot pending) and pinned for those that had joined."
                + (f" Connect errors: {_errors(r['join_errors'])}." if r["join_errors"] else "")
            )
        marks = ", ".join(f"{share} % after {t:.1f} s" for share, t in r.get("join_marks", []))
        lines.append(
            f"{head} viewers joined {marks or 'too slowly to reach 10 %'}; CPU while joining: "
            f"{cpu_line(r.get('join_cpu', {}))}."
        )
        if "pin_cpu" in r:
            lines.append(
                f"{head} CPU while pinning and draining: {cpu_line(r['pin_cpu'])}; RSS "
                f"{', '.join(f'{k} {v} MB' for k, v in r['rss_mb'].items())}."
            )
        extra = []
        if r.get("pins_ok", args.pins) < args.pins:
            extra.append(f"{args.pins - r['pins_ok']} pins failed: {r['pin_failures']}")
        if r.get("post_p50") is not None:
            extra.append(
                f"the pin POST took {ms(r['post_p50'])} (median), the {r['pins_ok']} pins "
                f"{r['pin_span']:.1f} s"
            )
        if r.get("per_pin"):
            k, _, p50, worst = max(r["per_pin"], key=lambda row: row[2])
            extra.append(f"the slowest pin was #{k} (p50 {ms(p50)}, max {ms(worst)})")
        if r.get("frames_p50"):
            extra.append(
                f"a viewer received {r['frames_p50']:,.0f} frames (median: the snapshot, the "
                "pins and the once-a-second likes/viewers events)"
            )
        if r.get("client_errors"):
            extra.append(f"viewer sockets ended: {_errors(r['client_errors'])}")
        if r.get("seq_split") or r.get("unmatched"):
            extra.append(
                f"{r['seq_split']} pins seen with differing seq, "
                f"{r['unmatched']} unmatched carousel events"
            )
        if r.get("tracebacks"):
            extra.append(
                "server tracebacks: "
                + "; ".join(f"{n} × `{line}`" for line, n in r["tracebacks"][:3])
            )
        if r.get("problems"):
            extra.append(
                "server warnings/errors: "
                + "; ".join(f"{n} × `{line[:140]}`" for line, n in r["problems"][:3])
            )
        if not r.get("tracebacks") and not r.get("problems"):
            extra.append("no warning, error or traceback in the server's output")
        if r.get("settle_s") is not None:
            extra.append(
                f"after the viewers left the workers were busy for {r['settle_s']:.1f} s"
                f" and {r.get('group_left')} channels stayed in the live's group"
            )
        if r.get("shutdown"):
            extra.append(
                "tracebacks while stopping: "
                + "; ".join(f"{n} × `{line}`" for line, n in r["shutdown"][:2])
            )
        if r.get("left_over"):
            extra.append(f"processes left after stopping: {r['left_over']}")
        if extra:
            lines.append(f"{head} " + "; ".join(extra) + ".")
    return lines


def _errors(errors: dict) -> str:
    return ", ".join(f"{n} × {kind}" for kind, n in errors.items())


PACKAGES = ("django", "channels", "channels-redis", "redis", "uvicorn", "websockets")
# While this file exists another benchmark is running on the machine: wait for it.
BENCH_FLAG = Path(tempfile.gettempdir()) / "tapbuy-bench-running"


def wait_for_quiet_machine() -> None:
    """Another benchmark runs on this machine while its flag file exists: wait for it."""
    while BENCH_FLAG.exists():
        print(f"{BENCH_FLAG} exists: waiting for the other benchmark to finish", flush=True)
        time.sleep(60)


def redis_server_version() -> str:
    """The redis-server binary's version, so that no shared Redis server is asked."""
    with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):
        out = subprocess.run(
            ["redis-server", "--version"],  # noqa: S607 (the system's, on the PATH)
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        return out.split("v=")[1].split()[0]
    return "?"


def machine(packages: tuple[str, ...] = PACKAGES) -> dict:
    """The machine and the versions that matter, as every benchmark writes them down."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 1024 / 1024
    versions = {}
    for package in packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{memory:.0f} GB",
        "python": platform.python_version(),
        "versions": versions,
        "redis_server": redis_server_version(),
        "date": datetime.date.today().isoformat(),
    }


class RedisServer:
    """A redis-server of a run's own, on a free port; a fault may stop it and `start`
    brings it back on the same port. Without persistence it comes back empty; with
    `persist_dir` it keeps an append-only file there (`appendfsync everysec`, as
    docs/operations.md asks of the broker's Redis) and comes back with what it held."""

    def __init__(self, db: int = 0, persist_dir: Path | None = None):
        self.port = free_port()
        self.db = db
        self.persist_dir = persist_dir
        if persist_dir is not None:  # a fresh start: nothing of an earlier run
            shutil.rmtree(persist_dir, ignore_errors=True)
            persist_dir.mkdir(parents=True)
        self.process = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.db}"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]  # noqa: S607
            + ["--save", ""]
            + (
                ["--appendonly", "no"]
                if self.persist_dir is None
                else ["--appendonly", "yes", "--appendfsync", "everysec"]
                + ["--dir", str(self.persist_dir)]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at once (port {self.port} taken?)")
            with contextlib.suppress(redis.exceptions.ConnectionError):
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


HEADER = """# Benchmarks

Benchmarks of Tapbuy live here, one script per benchmark, run by hand (never as a timed
test). Each script has a section below that says how to run it and what it measures, with
its figures and the machine and date they were measured on: figures from another machine,
another day or another commit are not comparable without running the script again.
"""


def section(results: list[dict], args, info: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    software = bullet(f"Software: Python {info['python']}, {versions}")
    counts = " ".join(str(r["n"]) for r in results)
    body = f"""{SECTION}

How long a pin takes to reach every viewer of one live on the production topology
(`scripts/serve`: uvicorn workers, a Celery worker and beat, PostgreSQL and Redis), with N
anonymous viewers on `/ws/live/<id>/`.

```sh
.venv/bin/python bench/live_pin.py --viewers 100 1000 5000 [--workers 2] [--pins 20]
```

It needs PostgreSQL and Redis on this machine and uses its own database and Redis DB
(`--database-url`, default `postgres://postgres@127.0.0.1:5432/tapbuy_bench`, dropped and
created again, its name must contain `bench`; `--redis-url`, default
`redis://127.0.0.1:6379/9`, flushed, never DB 0). For each N it flushes the Redis DB,
starts `scripts/serve` on a free port and waits for `/healthz`, opens the N sockets from a
separate load-generator process (asyncio on uvloop, `websockets`, at most `--batch`
handshakes in flight) and waits for every snapshot (at most `--join-timeout` seconds), then
the host pins the live's {args.products} carousel products in turn, `--pins` times, one
`POST /api/v1/streams/<id>/pin/` a second (token auth; a POST waits for the previous
answer, as the host's console does). Every viewer reads every frame and
stamps the `carousel.updated` event of each pin; it waits up to `--drain` seconds after the
last pin. It stops the server's whole process group at the end, also on an error or Ctrl-C;
the server's output is kept in `{args.log_hint}`.

- **latency**: the viewer's arrival time minus the time just before the host's POST, over
  every viewer and pin, both read from `time.monotonic()` (CLOCK_MONOTONIC, one clock for
  every process of the machine). p50 and p99 are nearest-rank.
- **delivered**: events received by `--drain` ({args.drain} s) after the last pin /
  (viewers that joined × pins that succeeded).
- **pin at every viewer**: for each pin delivered to all joined viewers, the latency of the
  last viewer; the median over those pins.
- **first → last quarter p50**: the per-pin median latency of the first quarter of the pins
  against the last quarter: whether the live falls behind during the run.

Measured:

- Date: {info["date"]}
- Machine: {info["nproc"]} cores ({info["cpu"]}), {info["memory"]} of memory; PostgreSQL
  {info["postgres"]} and Redis {info["redis_server"]} on the same machine
{software}
- Command: `.venv/bin/python bench/live_pin.py --viewers {counts} --workers {args.workers}
  --pins {args.pins} --interval {args.interval} --batch {args.batch}`
- The load generator shares the {info["nproc"]} cores with the server: its own time to
  read the frames is in the figures.

{table(results)}

Notes:

"""
    items = notes(results, args) + args.extra_notes
    return body + "\n".join(bullet(line) for line in items) + "\n"


def bullet(text: str) -> str:
    return textwrap.fill(
        text, width=92, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False
    )


def write_readme(text: str, section: str = SECTION) -> None:
    """Replace a benchmark's section of bench/README.md (or add it); the others stay."""
    if README.exists():
        current = README.read_text()
        start = current.find(section)
        if start == -1:
            updated = current.rstrip("\n") + "\n\n" + text
        else:
            following = current.find("\n## ", start + len(section))
            rest = current[following + 1 :] if following != -1 else ""
            updated = current[:start] + text + ("\n" + rest if rest else "")
    else:
        updated = HEADER + "\n" + text
    README.write_text(updated)


# --- main -------------------------------------------------------------------------------------


def raise_fd_limit(largest: int) -> str | None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < largest + 200:
        return (
            f"the open-file limit is {soft}: too low for {largest:,} sockets in one process "
            "(raise the hard limit, e.g. `ulimit -Hn 65536` as root)"
        )
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (WORKERS)")
    parser.add_argument("--pins", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between pins")
    parser.add_argument("--products", type=int, default=8, help="products in the carousel")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--batch", type=int, default=100, help="handshakes in flight at most")
    parser.add_argument("--join-timeout", type=int, default=120)
    parser.add_argument("--drain", type=int, default=30, help="seconds to wait after the pins")
    parser.add_argument("--max-queue", type=int, default=4096, help="frames a socket buffers")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tapbuy_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--no-readme", action="store_true", help="do not update bench/README.md")
    parser.add_argument(
        "--note", dest="extra_notes", action="append", default=[], help="add a note (README)"
    )
    args = parser.parse_args()
    if not 2 <= args.products <= 50:
        parser.error("--products is between 2 and 50 (the carousel's size)")

    limit_problem = raise_fd_limit(max(args.viewers))
    if limit_problem:
        print(f"warning: {limit_problem}", file=sys.stderr)

    var_dir = Path(tempfile.gettempdir()) / "tapbuy-bench"
    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    args.log_hint = f"{var_dir}/logs/"
    env = server_env(args.database_url, args.redis_url, var_dir)

    info = machine()
    print(
        f"{info['nproc']} cores ({info['cpu']}), {info['memory']}, Python {info['python']}, "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    )
    print(f"database {args.database_url}, Redis {args.redis_url}: resetting", flush=True)
    info["postgres"] = reset_database(args.database_url)
    flush_redis(args.redis_url)
    data = prepare_data(env, args.products, args.viewers)

    results = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        for count, live in zip(args.viewers, data["lives"], strict=True):
            log = var_dir / "logs" / f"serve-{stamp}-n{count}.log"
            print(f"N={count}: live {live}, server output in {log}", flush=True)
            try:
                result = run_one(args, env, data, count, live, log)
            except RuntimeError as exc:
                result = {"n": count, "failure": str(exc)}
                result.update(scan_log(log) if log.exists() else {})
                print(f"  N={count} failed: {exc}", flush=True)
            result["join_timeout"] = args.join_timeout
            results.append(result)
            _print_result(result)
    except KeyboardInterrupt:
        print("interrupted: the server was stopped", file=sys.stderr)
    if not results:
        return
    print()
    print(table(results))
    print()
    for line in notes(results, args):
        print(f"- {line}")
    if limit_problem:
        args.extra_notes.append(limit_problem)
    if not args.no_readme:
        write_readme(section(results, args, info))
        print(f"\nwrote {README.relative_to(ROOT)}")


def _print_result(r: dict) -> None:
    for k, received, p50, worst in r.get("per_pin", []):
        print(f"    pin {k:>2}: {received:>5} viewers, p50 {ms(p50)}, max {ms(worst)}")
    if r.get("first_traceback"):
        print("  first traceback in the server's output:")
        print("\n".join(f"    {line}" for line in r["first_traceback"]))


if __name__ == "__main__":
    main()
