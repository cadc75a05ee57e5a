"""Fan-out of one popular live: Tapbuy's hub against stock Channels and a bare floor.

    .venv/bin/python bench/fanout.py                      # the acceptance run (~25 min)
    .venv/bin/python bench/fanout.py --viewers 1000 --paths tapbuy floor --no-stall --idle 0

Three servers take the same load from the same load generator, one after the other:

- tapbuy: the production topology (`scripts/serve`: WORKERS uvicorn workers, Celery
  worker and beat, PostgreSQL, Redis); the driver publishes with
  `streams.events.send_now(live, type, data)`, which stamps a seq, serializes the envelope
  once and PUBLISHes it to every worker's hub (streams.fanout).
- stock: bench/fanout_stock.py under uvicorn (WORKERS workers), a plain
  AsyncWebsocketConsumer in one group of channels_redis's RedisChannelLayer (the options
  of config/settings.py); the driver calls `group_send`.
- floor: bench/fanout_floor.py, one process, no Django: a bare `websockets` server that
  subscribes to the live's Redis channel and hands each message to websockets.broadcast().

For each path and N, a load-generator process opens N sockets on /ws/live/<id>/ (at most
--batch handshakes in flight) while the driver already publishes one event a second
(--rate), rotating chat.message, gift.sent, order.placed and stock.changed of about 300
bytes; once every viewer has its snapshot (or --join-timeout has passed) it measures
--seconds of events. Each event carries its publish moment (time.monotonic(): one clock
for every process of the machine) and each viewer stamps every frame it reads.

Scenarios beside the steady runs: a stalled viewer among --stall-viewers (it reads its
snapshot, then nothing, on a small receive buffer) at --stall-rate events a second, with
a run without it at the same rate to compare; and --idle seconds without events, then
one event that every viewer must receive.

It never touches real data (the database name must contain "bench", the Redis DB is not
0; bench/live_pin.py's helpers enforce both), every wait is bounded, and every process it
started is stopped at the end, also on an error or Ctrl-C. Figures go to the console, to
/tmp/tapbuy-bench/fanout-results.json and to bench/README.md (--no-readme to skip).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import live_pin  # noqa: E402 (the sibling bench whose helpers this one reuses)

ROOT = live_pin.ROOT
SECTION = "## Live fan-out (bench/fanout.py)"
PATHS = ("floor", "tapbuy", "stock")
TYPES = ("chat.message", "gift.sent", "order.placed", "stock.changed")
SNAPSHOT_PREFIX = '{"type":"snapshot"'
STOCK_PREFIX = "tapbuy-bench-stock"
STARTUP_SECONDS = 3
CLOSE_TIMEOUT = 20
RSS_EVERY = 5.0  # seconds between RSS samples during a run


# --- events ------------------------------------------------------------------------------------


def event_data(kind: str, k: int, t0: float) -> dict:
    """The payload shapes of docs/realtime-events.md, plus the bench's own stamp."""
    if kind == "chat.message":
        data = {
            "id": 90_000 + k,
            "user": {"handle": "zoe_martin", "name": "Zoe Martin"},
            "text": "love the linen shirt! does it come in a darker blue, and is the M "
            "true to size? asking before the deal ends",
            "ts": "2026-11-22T04:19:10Z",
        }
    elif kind == "gift.sent":
        data = {
            "id": 41_000 + k,
            "sender": {"handle": "noa", "name": "Noa"},
            "gift": {"id": 3, "name": "Rose", "image": "/media/gifts/rose.webp", "level": "small"},
            "quantity": 1,
            "coins": 1,
            "combo": 3,
            "leaderboard": [
                {"handle": "noa", "name": "Noa", "coins": 1200},
                {"handle": "zoe", "name": "Zoe Martin", "coins": 500},
            ],
        }
    elif kind == "order.placed":
        data = {
            "buyer": "Mia",
            "product": {"id": 12, "title": "Linen shirt, relaxed fit, sand, organic flax"},
            "quantity": 1,
        }
    else:
        data = {
            "product": 12,
            "stock": 6,
            "deal": {
                "id": 3,
                "product": 12,
                "price": 2240,
                "quantity": 25,
                "remaining": 19,
                "ends_at": "2026-11-22T05:00:00Z",
                "status": "active",
                "ended_reason": "",
            },
        }
    data["bench"] = {"k": k, "t0": t0}
    return data


class Publisher(threading.Thread):
    """Publish event k at begin + k / rate from a thread of the driver, until stopped."""

    def __init__(self, send, rate: float, *, limit: int | None = None):
        super().__init__(name="publisher", daemon=True)
        self.send, self.rate, self.limit = send, rate, limit
        self.t0s: dict[int, float] = {}
        self.kinds: dict[int, str] = {}
        self.sizes: Counter = Counter()
        self.next_k = 0
        self.failures: Counter = Counter()
        self.late = 0  # events published more than 100 ms after their slot
        self.halt = threading.Event()

    def run(self) -> None:
        begin = time.monotonic()
        k = 0
        while not self.halt.is_set() and (self.limit is None or k < self.limit):
            due = begin + k / self.rate
            if self.halt.wait(max(0.0, due - time.monotonic())):
                break
            kind = TYPES[k % len(TYPES)]
            t0 = time.monotonic()
            if t0 - due > 0.1:
                self.late += 1
            self.t0s[k], self.kinds[k] = t0, kind
            try:
                self.sizes[kind] = self.send(k, kind, event_data(kind, k, t0))
            except Exception as exc:  # counted, reported; the run goes on
                self.failures[f"{type(exc).__name__}: {exc}"[:120]] += 1
            self.next_k = k = k + 1

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)


def make_sender(path: str, live: int, redis_url: str):
    """send(k, kind, data) -> bytes of the envelope, for the path's own publishing API."""
    from streams import events, fanout

    if path == "tapbuy":

        def send(k, kind, data):
            events.send_now(live, kind, data)
            return len(events.envelope(live, kind, data, seq=10**15))

        return send
    if path == "floor":
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=10)
        name = fanout.channel(live)

        def send(k, kind, data):
            text = events.envelope(live, kind, data, seq=k + 1)
            client.publish(name, text)
            return len(text)

        return send

    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(
        hosts=[{"address": redis_url, "socket_timeout": None, "max_connections": 1000}],
        prefix=STOCK_PREFIX,
        capacity=1000,
        expiry=60,
    )
    loop = asyncio.new_event_loop()  # the publisher thread's own loop for the layer

    def send(k, kind, data):
        text = events.envelope(live, kind, data, seq=k + 1)
        message = {"type": "live.event", "text": text}
        loop.run_until_complete(layer.group_send(f"live.{live}", message))
        return len(text)

    def close():
        loop.run_until_complete(layer.flush())
        loop.close()

    send.close = close
    return send


# --- the load generator (its own process) ------------------------------------------------------


class Sock:
    __slots__ = (
        "ws",
        "joined_at",
        "ks",
        "lats",
        "frames",
        "last_k",
        "error",
        "stalled",
        "code",
        "early",
    )

    def __init__(self, stalled: bool = False):
        self.ws = None
        self.joined_at = None
        self.ks = array("i")
        self.lats = array("d")
        self.frames = 0
        self.last_k = -1
        self.error = None
        self.stalled = stalled
        self.code = None
        self.early = 0  # frames read before the snapshot


async def _open(url: str, origin: str, stalled: bool, queue: int):
    import websockets

    options = {
        "origin": origin,
        "compression": None,
        "proxy": None,
        "ping_interval": None,  # the server's pings only
        "open_timeout": 60,
        "close_timeout": 2,
        "max_queue": 2 if stalled else queue,
    }
    if stalled:
        # A small receive buffer, so that the server's side fills in seconds, not minutes.
        parts = url.split("/")[2].split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((parts[0], int(parts[1])))
        sock.setblocking(False)
        options["sock"] = sock
    return await websockets.connect(url, **options)


def _read(sock: Sock, text: str, now: float) -> None:
    sock.frames += 1
    if text.startswith(SNAPSHOT_PREFIX):
        return
    stamp = json.loads(text).get("data", {}).get("bench")
    if stamp:
        sock.ks.append(stamp["k"])
        sock.lats.append(now - stamp["t0"])
        sock.last_k = stamp["k"]


async def _viewer(sock, url, origin, gate, joined, queue, resume):
    try:
        async with gate:
            sock.ws = await _open(url, origin, sock.stalled, queue)
            # The snapshot comes first, as docs/realtime-events.md says; events that come
            # before it are counted (and reported), and still read.
            while True:
                text = await asyncio.wait_for(sock.ws.recv(), 60)
                _read(sock, text, time.monotonic())
                if text.startswith(SNAPSHOT_PREFIX):
                    break
                sock.early += 1
            sock.joined_at = time.monotonic()
        joined.set_result(True)
        if sock.stalled:
            await resume.wait()
        async for text in sock.ws:
            _read(sock, text, time.monotonic())
        sock.code = sock.ws.close_code
        sock.error = f"closed by the server ({sock.code})"
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        sock.error = f"{type(exc).__name__}: {exc}"[:120]
        if sock.ws is not None:
            sock.code = sock.ws.close_code
    finally:
        if not joined.done():
            joined.set_result(False)


def _alive(socks) -> list[Sock]:
    return [s for s in socks if s.joined_at is not None and s.error is None and not s.stalled]


def _collect(socks, t0s: dict[int, float]) -> dict:
    """Latencies per event for the viewers that had joined before it was published."""
    wanted = set(t0s)
    lats: dict[int, list[float]] = {k: [] for k in wanted}
    for sock in socks:
        if sock.stalled:
            continue
        for k, lat in zip(sock.ks, sock.lats, strict=True):
            if k in wanted:
                lats[k].append(lat)
    viewers = [s.joined_at for s in socks if s.joined_at is not None and not s.stalled]
    expected = {k: sum(j < t0 for j in viewers) for k, t0 in t0s.items()}
    return {"lats": lats, "expected": expected}


async def _load(conn, url, origin, count, stalled, batch, join_timeout, queue):
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(batch)
    resume = asyncio.Event()
    socks = [Sock(stalled=True) for _ in range(stalled)] + [Sock() for _ in range(count)]
    joins = [loop.create_future() for _ in socks]
    started = time.monotonic()
    tasks = [
        asyncio.create_task(_viewer(s, url, origin, gate, j, queue, resume))
        for s, j in zip(socks, joins, strict=True)
    ]
    await asyncio.wait(joins, timeout=join_timeout)
    late = [(s, t) for s, t, j in zip(socks, tasks, joins, strict=True) if not j.done()]
    for sock, task in late:
        task.cancel()
        if sock.ws is not None:
            sock.ws.transport.abort()
    await asyncio.gather(*(t for _, t in late), return_exceptions=True)
    offsets = sorted(s.joined_at - started for s in socks if s.joined_at and not s.stalled)
    conn.send(
        {
            "joined": len(offsets),
            "stalled_ports": [
                s.ws.transport.get_extra_info("sockname")[1] for s in socks if s.stalled and s.ws
            ],
            "offsets": offsets,
            "pending": len(late),
            "early": Counter(s.early for s in socks if s.joined_at and s.early),
            "errors": dict(Counter(s.error for s in socks if s.error).most_common(6)),
        }
    )

    while True:
        command, *rest = await loop.run_in_executor(None, conn.recv)
        if command == "count":
            alive = _alive(socks)
            conn.send(
                {"frames": sum(s.frames for s in socks if not s.stalled), "alive": len(alive)}
            )
        elif command == "collect":
            t0s, drain = rest
            last = max(t0s) if t0s else -1
            deadline = time.monotonic() + drain
            while time.monotonic() < deadline:
                if all(s.last_k >= last for s in _alive(socks)):
                    break
                await asyncio.sleep(0.1)
            out = _collect(socks, t0s)
            out["frames"] = sum(s.frames for s in socks if not s.stalled)
            out["alive"] = len(_alive(socks))
            out["errors"] = dict(
                Counter(s.error for s in socks if s.error and not s.stalled).most_common(6)
            )
            conn.send(out)
        elif command == "resume":
            conn.send(await _resume(socks, tasks, resume, url, origin, queue))
        elif command == "close":
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    opened = [s.ws for s in socks if s.ws is not None]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True),
            CLOSE_TIMEOUT - 10,
        )
    for ws in opened:
        ws.transport.abort()
    conn.send("closed")


async def _resume(socks, tasks, resume, url, origin, queue) -> dict:
    """The stalled viewers read again: what reached them, how the server ended them, and
    whether a new socket gets a snapshot (the resync a cut-off client does)."""
    stalled = [(s, t) for s, t in zip(socks, tasks, strict=True) if s.stalled]
    resume.set()
    await asyncio.wait([t for _, t in stalled], timeout=15)
    out = []
    for sock, task in stalled:
        ended = task.done()
        if not ended:
            sock.error = "still open 15 s after it read again"
        out.append(
            {
                "frames": sock.frames,
                "last_k": sock.last_k,
                "code": sock.code,
                "ended": sock.error,
            }
        )
    resync = None
    with contextlib.suppress(Exception):
        ws = await _open(url, origin, False, queue)
        first = await asyncio.wait_for(ws.recv(), 10)
        resync = first.startswith(SNAPSHOT_PREFIX)
        await ws.close()
    return {"stalled": out, "resync": resync}


def load_generator(conn, *args) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when to stop
    try:
        import uvloop

        uvloop.run(_load(conn, *args))
    except ImportError:
        asyncio.run(_load(conn, *args))


def generator_count(args, count: int) -> int:
    """Load-generator processes for N viewers: --generators, else one up to 2,500 viewers
    and two from there (one process's reading, not the server, had set the p99 at 10,000)."""
    return args.generators or (1 if count < 2500 else 2)


class Generators:
    """The load spread over several generator processes, driven as one: a command goes to
    each, and their answers are merged into one (counts added, lists joined, latencies
    by event put together). The stalled viewer, if any, is in the first."""

    def __init__(self, context, url: str, origin: str, count: int, stalled: int, args):
        n = generator_count(args, count)
        self.pipes, self.processes = [], []
        for i in range(n):
            share = count // n + (1 if i < count % n else 0)
            parent, child = context.Pipe()
            process = context.Process(
                target=load_generator,
                args=(child, url, origin, share, stalled if i == 0 else 0)
                + (max(1, args.batch // n), args.join_timeout, args.max_queue),
                daemon=True,
            )
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def send(self, message) -> None:
        for pipe in self.pipes:
            pipe.send(message)

    def poll(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(pipe.poll(max(0.0, deadline - time.monotonic())) for pipe in self.pipes)

    def recv(self):
        return merge([pipe.recv() for pipe in self.pipes])

    def stop(self) -> None:
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def merge(answers: list):
    """One answer from several generators' answers to the same command."""
    first = answers[0]
    if len(answers) == 1:
        return first
    if isinstance(first, bool) or first is None or isinstance(first, str):
        return first
    if isinstance(first, int | float):
        return sum(answers)
    if isinstance(first, list):
        joined = [item for answer in answers for item in answer]
        return sorted(joined) if all(isinstance(x, int | float) for x in joined) else joined
    if isinstance(first, Counter):
        return sum(answers, Counter())
    if isinstance(first, dict):
        keys = {key for answer in answers for key in answer}
        return {key: merge([answer[key] for answer in answers if key in answer]) for key in keys}
    return first


# --- servers -------------------------------------------------------------------------------------


class Reference(live_pin.Server):
    """A reference server (stock or floor) in its own session: live_pin.Server's health
    check, process listing and stop, with another command."""

    def __init__(self, command: list[str], env: dict, port: int, log_path: Path):
        self.port, self.log_path = port, log_path
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and scripts)
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.process.pid


def start_server(path: str, env: dict, port: int, log: Path, live: int, workers: int):
    env = {**env, "PORT": str(port), "WORKERS": str(workers)}
    if path == "tapbuy":
        return live_pin.Server(env, port, log)
    bin_dir = Path(sys.executable).parent
    if path == "stock":
        command = [str(bin_dir / "uvicorn"), "bench.fanout_stock:application"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        command += ["--lifespan", "off", "--no-server-header", "--no-access-log"]
        return Reference(command, {**env, "CHANNEL_PREFIX": STOCK_PREFIX}, port, log)
    from streams import fanout

    command = [sys.executable, str(ROOT / "bench" / "fanout_floor.py"), str(port)]
    command += [env["REDIS_URL"], fanout.channel(live)]
    return Reference(command, env, port, log)


def server_roles(server, path: str) -> dict[int, str]:
    """live_pin.roles(), which knows Tapbuy's workers, plus the references' processes."""
    named = live_pin.roles(server, None)
    if path == "tapbuy":
        return named
    stats = live_pin._proc_stats()
    mine = {pid: live_pin.cmdline(pid) for pid, s in stats.items() if s[1] == server.pgid}
    if path == "floor":
        workers = [pid for pid, line in mine.items() if "fanout_floor.py" in line]
    else:
        masters = {pid for pid, line in mine.items() if "bench.fanout_stock" in line}
        workers = sorted(
            pid for pid, line in mine.items() if stats[pid][0] in masters and "spawn_main" in line
        )
    for i, pid in enumerate(sorted(workers), 1):
        named[pid] = f"worker {i}"
    return named


def cpu_seconds(meter: live_pin.CpuMeter) -> dict[str, float]:
    """CPU seconds by role since the meter started (live_pin's CpuMeter gives percent)."""
    elapsed = time.monotonic() - meter.start
    used = Counter()
    for role, percent in meter.percent().items():
        used["workers" if role.startswith("worker") else role] += percent / 100 * elapsed
    return dict(used)


def workers_rss(named: dict[int, str]) -> int:
    return sum(live_pin.rss_mb(named).values())


def send_queue(port: int, peer: int) -> int | None:
    """Bytes the kernel holds in the server's send queue towards the client port `peer`."""
    query = ["ss", "-tnH", "state", "all", "sport", "=", f":{port}", "dport", "=", f":{peer}"]
    found = subprocess.run(query, capture_output=True, text=True, check=False)  # noqa: S603
    for line in found.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            return int(fields[2])
    return None


async def warm_up(port: int, live: int, sockets: int = 20) -> None:
    """Open and close a few sockets, so that "RSS before" is of warm workers (code
    imported, pools open): what the N viewers add is then theirs."""
    url, origin = f"ws://127.0.0.1:{port}/ws/live/{live}/", f"http://127.0.0.1:{port}"
    opened = await asyncio.gather(
        *(_open(url, origin, False, 16) for _ in range(sockets)), return_exceptions=True
    )
    for ws in opened:
        if not isinstance(ws, Exception):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.recv(), 10)
                await ws.close()
    await asyncio.sleep(1)


def tests_running() -> bool:
    found = subprocess.run(["pgrep", "-f", "pytest"], capture_output=True, check=False)  # noqa: S607
    return found.returncode == 0


def wait_for_quiet(note: list[str]) -> None:
    """Wait (at most 10 minutes, polling every 30 s) for a test suite to finish."""
    deadline = time.monotonic() + 600
    waited = False
    while tests_running() and time.monotonic() < deadline:
        if not waited:
            print("  a pytest run is on the machine: waiting for it to end", flush=True)
        waited = True
        time.sleep(30)
    if tests_running():
        note.append("a pytest run was still on the machine after 10 minutes of waiting")


# --- one run -----------------------------------------------------------------------------------


def run_one(args, env: dict, path: str, count: int, live: int, scenario: str) -> dict:
    """One server, one load: join while events flow, then measure."""
    stalled = 1 if scenario == "stall" else 0
    rate = args.stall_rate if scenario in ("stall", "stall-base") else args.rate
    seconds = args.stall_seconds if scenario.startswith("stall") else args.seconds
    idle = scenario == "idle"
    result: dict = {"path": path, "n": count, "scenario": scenario, "rate": rate, "notes": []}
    if not args.no_wait:
        wait_for_quiet(result["notes"])
    live_pin.flush_redis(args.redis_url)
    port = live_pin.free_port()
    log = args.log_dir / f"fanout-{args.stamp}-{path}-{scenario}-n{count}.log"
    result["log"] = str(log)
    server = start_server(path, env, port, log, live, args.workers)
    context = multiprocessing.get_context("spawn")
    client = publisher = None
    overlap = False
    try:
        server.wait_healthy()
        time.sleep(STARTUP_SECONDS)
        asyncio.run(warm_up(port, live))
        named = server_roles(server, path)
        result["rss_before"] = workers_rss(named)
        publisher = Publisher(make_sender(path, live, args.redis_url), rate)
        if not idle:
            publisher.start()  # the viewers join while events flow
        client = Generators(
            context,
            f"ws://127.0.0.1:{port}/ws/live/{live}/",
            f"http://127.0.0.1:{port}",
            count,
            stalled,
            args,
        )
        parent = client
        for pid in client.pids():
            named[pid] = "load generator"
        meter = live_pin.CpuMeter(named)
        if not parent.poll(args.join_timeout + 60):
            raise RuntimeError("the load generator did not report its joins")
        joins = parent.recv()
        result["join_cpu"] = cpu_seconds(meter)
        result.update(joined=joins["joined"], join_errors=joins["errors"])
        result["early"] = sum(joins["early"].values())
        offsets = joins["offsets"]
        if joins["joined"] == count:
            result["join_s"] = offsets[-1] if offsets else 0.0
        result["join_marks"] = [
            (share, offsets[math.ceil(share / 100 * count) - 1])
            for share in (50, 90)
            if math.ceil(share / 100 * count) <= len(offsets)
        ]
        print(
            f"  {path} N={count} {scenario}: {joins['joined']}/{count} joined"
            + (f" in {result['join_s']:.1f} s" if "join_s" in result else "")
            + (f"; errors {joins['errors']}" if joins["errors"] else ""),
            flush=True,
        )
        if not joins["joined"]:
            raise RuntimeError(f"no viewer joined in {args.join_timeout} s")
        if joins["pending"]:
            time.sleep(3)  # the server sees the abandoned handshakes go first

        samples = []
        parent.send(("count",))
        frames0 = parent.recv()["frames"]
        meter = live_pin.CpuMeter(named)
        started = time.monotonic()
        if idle:
            # No events for args.idle seconds, then a few, one a second.
            while time.monotonic() - started < args.idle:
                time.sleep(max(0.0, min(RSS_EVERY * 6, args.idle - (time.monotonic() - started))))
                parent.send(("count",))
                samples.append((time.monotonic() - started, workers_rss(named), parent.recv()))
                overlap = overlap or tests_running()
            publisher.limit = 3
            publisher.start()
            publisher.join(timeout=10)
            k_first = 0
        else:
            k_first = publisher.next_k
            while time.monotonic() - started < seconds:
                time.sleep(min(RSS_EVERY, max(0.0, seconds - (time.monotonic() - started))))
                queued = [send_queue(port, p) for p in joins["stalled_ports"]]
                samples.append((time.monotonic() - started, workers_rss(named), queued))
                overlap = overlap or tests_running()
        publisher.stop()
        k_last = publisher.next_k - 1
        t0s = {k: publisher.t0s[k] for k in range(k_first, k_last + 1) if k in publisher.t0s}
        parent.send(("collect", t0s, args.drain))
        if not parent.poll(args.drain + 60):
            raise RuntimeError("the load generator did not hand over its arrivals")
        report = parent.recv()
        phase = time.monotonic() - started
        cpu = cpu_seconds(meter)
        result["rss_with"] = workers_rss(named)
        result["rss_samples"] = [(round(t), mb) for t, mb, _ in samples]
        if stalled:
            result["stalled_queue"] = [(round(t), q) for t, _, q in samples]
        if idle:
            result["idle_alive"] = [(round(t), c["alive"]) for t, _, c in samples]
        result.update(
            summarize(report, publisher, t0s, frames0, cpu, phase, count, result["rss_before"])
        )
        result["publish_failures"] = dict(publisher.failures)
        result["publish_late"] = publisher.late
        if stalled:
            parent.send(("resume",))
            if parent.poll(40):
                result["stall"] = parent.recv()
        parent.send(("close",))
        if parent.poll(CLOSE_TIMEOUT):
            parent.recv()
        _print_run(result)
    finally:
        if publisher is not None:
            if publisher.is_alive():
                publisher.stop()
            with contextlib.suppress(Exception):
                getattr(publisher.send, "close", lambda: None)()
        if client is not None:
            client.stop()
        server.stop()
        result["left_over"] = server.pids()
    stopped_at = getattr(server, "stopped_at", None)
    scan = live_pin.scan_log(log, 0, stopped_at)
    result["problems"], result["tracebacks"] = scan["problems"], scan["tracebacks"]
    if overlap or tests_running():
        result["notes"].append("a pytest run overlapped this run")
    return result


def summarize(report, publisher, t0s, frames0, cpu, phase, count, rss_before) -> dict:
    lats, expected = report["lats"], report["expected"]
    order = sorted(t0s)
    out: dict = {
        "events": len(order),
        "phase_s": phase,
        "frames": report["frames"] - frames0,
        "alive": report["alive"],
        "client_errors": report["errors"],
        "cpu": cpu,
        "sizes": dict(publisher.sizes),
    }
    out["fps"] = out["frames"] / phase if phase else 0
    for role in ("workers", "redis", "load generator"):
        if out["frames"]:
            out[f"us_{role}"] = cpu.get(role, 0) / out["frames"] * 1e6
    out["types"] = {}
    span = (max(t0s.values()) - min(t0s.values())) if len(t0s) > 1 else 1.0
    for kind in TYPES + ("all",):
        ks = [k for k in order if kind in ("all", publisher.kinds[k])]
        values = [v for k in ks for v in lats[k]]
        want = sum(expected[k] for k in ks)
        row = {"received": len(values), "expected": want, "fps": len(values) / max(span, 1.0)}
        if values:
            row.update(
                p50=live_pin.percentile(values, 50),
                p99=live_pin.percentile(values, 99),
                max=max(values),
            )
        out["types"][kind] = row
    fifth = max(1, len(order) // 5)
    heads = [v for k in order[:fifth] for v in lats[k]]
    tails = [v for k in order[-fifth:] for v in lats[k]]
    if heads and tails:
        out["trend"] = (live_pin.percentile(heads, 99), live_pin.percentile(tails, 99))
    return out


def _print_run(r: dict) -> None:
    total = r["types"]["all"]
    print(
        f"    delivered {total['received']:,}/{total['expected']:,}, p50 {ms(total.get('p50'))}"
        f" p99 {ms(total.get('p99'))} max {ms(total.get('max'))}, "
        f"{us(r.get('us_workers'))}/frame workers, {us(r.get('us_redis'))}/frame redis, "
        f"RSS {r['rss_before']} → {r['rss_with']} MB",
        flush=True,
    )
    if r.get("stall"):
        print(f"    stalled viewer: {r['stall']}", flush=True)


# --- output ------------------------------------------------------------------------------------


ms = live_pin.ms


def us(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} µs"


def ratio(row: dict) -> str:
    if not row.get("expected"):
        return "—"
    return f"{row['received'] / row['expected']:.4f}"


def joined_text(r: dict) -> str:
    if "join_s" in r:
        return f"{r['n']:,} in {r['join_s']:.1f} s"
    return f"{r.get('joined', 0):,} of {r['n']:,} in {r['join_timeout']} s (collapsed)"


def per_conn_kb(r: dict) -> float | None:
    if "rss_with" not in r or not r.get("joined"):
        return None
    return (r["rss_with"] - r["rss_before"]) * 1024 / r["joined"]


def steady_table(results: list[dict]) -> str:
    rows = [
        "| path | viewers | joined (events flowing) | frames/s | delivery | p50 | p99 | max "
        "| p99 first → last fifth | workers CPU / frame | Redis CPU / frame | memory / conn |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        if r["scenario"] != "steady":
            continue
        if "types" not in r:
            rows.append(
                f"| {r['path']} | {r['n']:,} | did not run: {r.get('failure')} |" + " |" * 9
            )
            continue
        t = r["types"]["all"]
        trend = f"{ms(r['trend'][0])} → {ms(r['trend'][1])}" if r.get("trend") else "—"
        kb = per_conn_kb(r)
        rows.append(
            f"| {r['path']} | {r['n']:,} | {joined_text(r)} | {r['fps']:,.0f} | {ratio(t)} "
            f"| {ms(t.get('p50'))} | {ms(t.get('p99'))} | {ms(t.get('max'))} | {trend} "
            f"| {us(r.get('us_workers'))} | {us(r.get('us_redis'))} "
            f"| {'—' if kb is None else f'{kb:.1f} KB'} |"
        )
    return "\n".join(rows)


def type_table(results: list[dict]) -> str:
    rows = [
        "| path | viewers | event | bytes | frames/s | delivery | p50 | p99 | max |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r["scenario"] != "steady" or "types" not in r:
            continue
        for kind in TYPES:
            t = r["types"][kind]
            rows.append(
                f"| {r['path']} | {r['n']:,} | `{kind}` | {r['sizes'].get(kind, '—')} "
                f"| {t['fps']:,.0f} | {ratio(t)} | {ms(t.get('p50'))} | {ms(t.get('p99'))} "
                f"| {ms(t.get('max'))} |"
            )
    return "\n".join(rows)


def stall_table(results: list[dict]) -> str:
    rows = [
        "| run | viewers | events/s | delivery (others) | p50 | p99 | max | workers RSS "
        "(MB, every 5 s) | stalled viewer |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        if not r["scenario"].startswith("stall") or "types" not in r:
            continue
        t = r["types"]["all"]
        samples = [mb for _, mb in r["rss_samples"]]
        rss = f"{r['rss_before']} before; {', '.join(str(mb) for mb in samples)}"
        stall = "—"
        if r.get("stall"):
            s = r["stall"]["stalled"][0]
            stall = (
                f"read {s['frames']} frames (last event #{s['last_k']}), then "
                f"{s['ended'] or 'open'}; resync snapshot: {r['stall']['resync']}"
            )
        if r.get("stalled_queue"):
            queue = ", ".join(
                f"{q[0] / 1024:.0f}" if q and q[0] is not None else "—"
                for _, q in r["stalled_queue"]
            )
            stall += f"; server's kernel send queue to it (KB, every 5 s): {queue}"
        label = "with 1 stalled viewer" if r["scenario"] == "stall" else "without"
        rows.append(
            f"| {label} | {r['n']:,} | {r['rate']:g} | {ratio(t)} | {ms(t.get('p50'))} "
            f"| {ms(t.get('p99'))} | {ms(t.get('max'))} | {rss} | {stall} |"
        )
    return "\n".join(rows)


def idle_table(results: list[dict]) -> str:
    rows = [
        "| path | viewers | joined | connected during the idle time | events after | delivery |"
        " p99 | connected at the end |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        if r["scenario"] != "idle" or "types" not in r:
            continue
        t = r["types"]["all"]
        alive = ", ".join(f"{c:,} at {s} s" for s, c in r.get("idle_alive", []))
        rows.append(
            f"| {r['path']} | {r['n']:,} | {joined_text(r)} | {alive} | {r['events']} "
            f"| {ratio(t)} | {ms(t.get('p99'))} | {r['alive']:,} |"
        )
    return "\n".join(rows)


def find(results, path, n, scenario="steady") -> dict | None:
    for r in results:
        if (r["path"], r["n"], r["scenario"]) == (path, n, scenario) and "types" in r:
            return r
    return None


def steady(r: dict) -> bool:
    """No growth: the last fifth's p99 within 20 % (or 20 ms) of the first fifth's."""
    first, last = r["trend"]
    return last <= max(first * 1.2, first + 0.020)


def verdict(ok: bool) -> str:
    return "**holds**" if ok else "**does not hold**"


def acceptance(results: list[dict]) -> list[str]:
    lines = []
    t, s, f = (find(results, p, 1000) for p in ("tapbuy", "stock", "floor"))
    if t:
        parts, ok = [], True
        if s and s.get("us_workers"):
            share = t["us_workers"] / s["us_workers"]
            parts.append(f"CPU/frame {share:.3f} × stock (target ≤ 0.1)")
            ok &= share <= 0.1
        if f and f.get("us_workers"):
            share = t["us_workers"] / f["us_workers"]
            parts.append(f"{share:.2f} × the floor (target ≤ 1.5)")
            ok &= share <= 1.5
        p99 = t["types"]["all"].get("p99", math.inf)
        parts.append(f"p99 {ms(p99)} (≤ 100 ms)")
        delivered = all(t["types"][k]["received"] == t["types"][k]["expected"] for k in TYPES)
        parts.append(f"delivery {ratio(t['types']['all'])}")
        ok &= p99 <= 0.1 and delivered
        lines.append(f"1,000 viewers: {verdict(ok)}: " + "; ".join(parts) + ".")
    t, f = find(results, "tapbuy", 5000), find(results, "floor", 5000)
    if t:
        parts, ok = [], True
        if t.get("trend"):
            parts.append(f"p99 first → last fifth {ms(t['trend'][0])} → {ms(t['trend'][1])}")
            ok &= steady(t)
        p99 = t["types"]["all"].get("p99", math.inf)
        if f and f["types"]["all"].get("p99"):
            share = p99 / f["types"]["all"]["p99"]
            parts.append(f"p99 {ms(p99)} = {share:.2f} × the floor's (≤ 1.5)")
            ok &= share <= 1.5
        join = t.get("join_s")
        parts.append(f"join {'—' if join is None else f'{join:.1f} s'} (≤ 10 s)")
        ok &= join is not None and join <= 10
        kb = per_conn_kb(t)
        parts.append(f"memory {kb:.1f} KB/connection (≤ 20 KB)")
        ok &= kb <= 20
        lines.append(f"5,000 viewers: {verdict(ok)}: " + "; ".join(parts) + ".")
    t = find(results, "tapbuy", 10000)
    if t:
        trio = ("chat.message", "gift.sent", "order.placed")
        delivered = all(t["types"][k]["received"] == t["types"][k]["expected"] for k in trio)
        p99 = t["types"]["all"].get("p99", math.inf)
        ok = delivered and p99 <= 1.0 and t.get("trend") and steady(t)
        lines.append(
            f"10,000 viewers: {verdict(ok)}: delivery "
            + ", ".join(f"{k} {ratio(t['types'][k])}" for k in trio)
            + f"; p99 {ms(p99)} (≤ 1 s); p99 first → last fifth "
            + (f"{ms(t['trend'][0])} → {ms(t['trend'][1])}." if t.get("trend") else "—.")
        )
    with_, without = (
        next((r for r in results if r["scenario"] == name and "types" in r), None)
        for name in ("stall", "stall-base")
    )
    if with_ and without:
        a, b = with_["types"]["all"].get("p99"), without["types"]["all"].get("p99")
        # Harm is the others' p99 growing; one lower than the run without the stalled
        # viewer is run-to-run variation.
        moved = a / b - 1 if a and b else math.inf
        samples = [mb for _, mb in with_["rss_samples"]]
        bounded = len(samples) > 2 and samples[-1] <= samples[1] + 5
        stall = (with_.get("stall") or {}).get("stalled", [{}])[0]
        # Cut off: the server ended the socket (what the client then reads says how).
        cut = bool(stall.get("ended")) and not stall["ended"].startswith("still open")
        resync = bool((with_.get("stall") or {}).get("resync"))
        ok = moved < 0.2 and bounded and cut and resync
        how = "the app's 4408" if stall.get("code") == 4408 else "not the app's 4408"
        lines.append(
            f"A stalled viewer among {with_['n']:,}: {verdict(ok)}: the others' p99 "
            f"{ms(b)} → {ms(a)} ({moved:+.0%}, growth < 20 %); workers RSS "
            f"{samples[1] if len(samples) > 1 else '—'} → {samples[-1] if samples else '—'} MB "
            f"from 10 s to the end; cut off: {cut} (close code {stall.get('code')}, {how}); "
            f"a new socket got a snapshot: {resync}."
        )
    for r in results:
        if r["scenario"] == "idle" and "types" in r:
            t = r["types"]["all"]
            ok = r["alive"] == r["n"] and t["received"] == t["expected"] and t["expected"] > 0
            lines.append(
                f"{r['n']:,} viewers after {r['idle_s']} s without events: {verdict(ok)}: "
                f"{r['alive']:,} connected, delivery {ratio(t)}."
            )
    return lines


def notes(results: list[dict]) -> list[str]:
    lines = []
    for r in results:
        head = f"{r['path']} N={r['n']:,} ({r['scenario']}):"
        if "types" not in r:
            lines.append(f"{head} did not complete: {r.get('failure')}.")
            continue
        cpu = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(r["cpu"].items()) if v >= 0.05)
        marks = ", ".join(f"{share} % after {t:.1f} s" for share, t in r.get("join_marks", []))
        extra = [
            f"joined {marks}" if marks else "",
            f"CPU over the {r['phase_s']:.0f} s event phase: {cpu}",
            f"{r['frames']:,} frames delivered in it",
        ]
        if r.get("us_load generator"):
            extra.append(f"load generator {us(r['us_load generator'])}/frame")
        if r.get("early"):
            extra.append(
                f"{r['early']:,} viewers read an event before their snapshot (the snapshot "
                "should be the first frame)"
            )
        if r.get("join_errors"):
            extra.append(f"connect errors: {live_pin._errors(r['join_errors'])}")
        if r.get("client_errors"):
            extra.append(f"sockets ended: {live_pin._errors(r['client_errors'])}")
        if r.get("publish_failures"):
            extra.append(f"publish failures: {r['publish_failures']}")
        if r.get("publish_late"):
            extra.append(f"{r['publish_late']} events published > 100 ms after their slot")
        if r.get("tracebacks"):
            extra.append(
                "server tracebacks: " + "; ".join(f"{n} × `{x}`" for x, n in r["tracebacks"][:2])
            )
        if r.get("problems"):
            extra.append(
                "server warnings: " + "; ".join(f"{n} × `{x[:120]}`" for x, n in r["problems"][:2])
            )
        if r.get("left_over"):
            extra.append(f"processes left after stopping: {r['left_over']}")
        extra += r.get("notes", [])
        lines.append(f"{head} " + "; ".join(x for x in extra if x) + ".")
    return lines


def section(results: list[dict], args, info: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    software = bullet(f"Software: Python {info['python']}, {versions}")
    blocks = [
        f"""{SECTION}

One popular live, three servers, one load generator: how many frames a second reach N
viewers, how late, at what CPU and memory cost. **tapbuy** is the production topology
(`scripts/serve`: {args.workers} uvicorn workers, Celery worker and beat, PostgreSQL,
Redis) with its own fan-out (`streams/fanout.py`: one Redis subscription per live per
worker, the envelope serialized once and framed once, the same bytes written to each socket
that keeps up; sockets served by `config.ws.LeanWebSocketProtocol`);
the driver publishes with `streams.events.send_now`. **stock** is Channels as the docs
show it (`bench/fanout_stock.py`: an `AsyncWebsocketConsumer` in one group of
`channels_redis.core.RedisChannelLayer`, {args.workers} uvicorn workers, the driver calls
`group_send`). **floor** is the least Python can do (`bench/fanout_floor.py`: one
process, a bare `websockets` server, one Redis subscription, `websockets.broadcast`).

```sh
.venv/bin/python bench/fanout.py            # everything below (~25 min)
.venv/bin/python bench/fanout.py --viewers 1000 5000 --paths tapbuy floor --no-stall --idle 0
.venv/bin/python bench/fanout.py --viewers --no-stall --idle 300   # idle only
```

For each path and N the driver starts the server, then load-generator processes (one
under 2,500 viewers, two from there, the same for every path; asyncio on uvloop,
`websockets` with compression off, at most `--batch` handshakes in flight) open N sockets
on `/ws/live/<id>/` while the driver already publishes `--rate` events a second,
rotating `chat.message`, `gift.sent`, `order.placed` and
`stock.changed` (the shapes of docs/realtime-events.md, about 300 bytes, each carrying
its publish moment); every viewer reads every frame. Once all have their snapshot (at
most `--join-timeout` s), it measures `--seconds` s of events and waits up to `--drain` s
for the last one. Database `tapbuy_bench` (dropped and created again) and Redis DB 9
(flushed), as bench/live_pin.py.

- **latency**: arrival at the viewer minus the publish moment, both `time.monotonic()`
  (one clock for every process of the machine), over every viewer and event of the
  measured phase; nearest-rank percentiles. **delivery**: frames received / (viewers
  joined × events). **p99 first → last fifth**: the p99 of the first fifth of the events
  against the last fifth (does the live fall behind?).
- **joined**: from the load generator's start to the last viewer's snapshot, while events
  flow; a path that cannot join N viewers in `--join-timeout` s is marked collapsed and
  measured with the viewers that did join.
- **CPU / frame**: CPU time (from /proc) of the server's workers (for the floor its one
  process), and of Redis, over the event phase (measured seconds and drain), divided by
  the frames the viewers received in it (the tapbuy path's own `viewers` events
  included). **memory / conn**: (the workers' RSS at the end of the phase − before the
  first viewer) / N.

Measured:

- Date: {info["date"]}
- Machine: {info["nproc"]} cores ({info["cpu"]}), {info["memory"]} of memory, kernel
  {info["kernel"]}; PostgreSQL {info["postgres"]} and Redis {info["redis_server"]} on the
  same machine
{software}
- Command: `{info["command"]}`
- The load generator shares the {info["nproc"]} cores with the server: its own time to read
  the frames is in the latencies.

Steady load, {args.rate:g} event/s:

{steady_table(results)}

Per event type:

{type_table(results)}
"""
    ]
    if any(r["scenario"].startswith("stall") for r in results):
        blocks.append(
            f"""A stalled viewer (tapbuy path): one socket, with a 4 KB receive buffer, reads its
snapshot and then nothing for {args.stall_seconds} s, among {args.stall_viewers:,} viewers
that read everything; the same run without it for comparison. Events at {args.stall_rate:g}
a second (faster than a live's usual pace, so that more piles up for the stalled socket);
the bytes the server's kernel holds for it (`ss`, Send-Q) are sampled every 5 s. After the
run the stalled socket reads again (what it gets tells when and how the server ended it),
and a new socket asks for a snapshot, as a cut-off client does.

{stall_table(results)}
"""
        )
    if any(r["scenario"] == "idle" for r in results):
        blocks.append(
            f"""Idle live (tapbuy path): N viewers join, no event for {args.idle} s (the
server's own WebSocket pings only), then 3 events, one a second:

{idle_table(results)}
"""
        )
    verdicts = acceptance(results)
    blocks.append("Acceptance (2 cores, same run):\n\n" + "\n".join(map(bullet, verdicts)) + "\n")
    blocks.append("Notes:\n\n" + "\n".join(map(bullet, notes(results) + args.extra_notes)) + "\n")
    return "\n".join(blocks)


bullet = live_pin.bullet


# --- main -----------------------------------------------------------------------------------


def setup_django(env: dict) -> None:
    """The driver publishes with Tapbuy's own code, against the bench's DB and Redis."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def plan(args) -> list[tuple[str, int, str]]:
    runs = [(path, n, "steady") for n in args.viewers for path in args.paths]
    if not args.no_stall:
        runs += [
            ("tapbuy", args.stall_viewers, "stall-base"),
            ("tapbuy", args.stall_viewers, "stall"),
        ]
    if args.idle:
        runs += [("tapbuy", args.idle_viewers, "idle")]
    return runs


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM, and SIGINT in the background: stop as on Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, nargs="*", default=[1000, 5000, 10000])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--rate", type=float, default=1.0, help="events a second")
    parser.add_argument("--seconds", type=int, default=60, help="measured seconds of events")
    parser.add_argument("--batch", type=int, default=100, help="handshakes in flight at most")
    parser.add_argument(
        "--generators",
        type=int,
        default=0,
        help="load-generator processes (default: 1 under 2,500 viewers, else 2)",
    )
    parser.add_argument("--join-timeout", type=int, default=60)
    parser.add_argument("--drain", type=int, default=15, help="seconds to wait for the last")
    parser.add_argument("--max-queue", type=int, default=4096, help="frames a socket buffers")
    parser.add_argument("--no-stall", action="store_true", help="skip the stalled viewer")
    parser.add_argument("--stall-viewers", type=int, default=1000)
    parser.add_argument("--stall-rate", type=float, default=20.0)
    parser.add_argument("--stall-seconds", type=int, default=60)
    parser.add_argument("--idle", type=int, default=300, help="seconds without events (0: skip)")
    parser.add_argument("--idle-viewers", type=int, default=1000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tapbuy_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--no-readme", action="store_true", help="do not update bench/README.md")
    parser.add_argument(
        "--no-wait", action="store_true", help="do not wait for a pytest run to end (trials)"
    )
    parser.add_argument("--note", dest="extra_notes", action="append", default=[])
    args = parser.parse_args()

    runs = plan(args)
    largest = max(n for _, n, _ in runs)
    limit_problem = live_pin.raise_fd_limit(largest + 100)
    if limit_problem:
        print(f"warning: {limit_problem}", file=sys.stderr)
        args.extra_notes.append(limit_problem)

    var_dir = Path(tempfile.gettempdir()) / "tapbuy-bench"
    args.log_dir = var_dir / "logs"
    args.log_dir.mkdir(parents=True, exist_ok=True)
    args.stamp = time.strftime("%Y%m%d-%H%M%S")
    env = live_pin.server_env(args.database_url, args.redis_url, var_dir)

    info = live_pin.machine()
    info["kernel"] = os.uname().release
    info["command"] = " ".join([".venv/bin/python", "bench/fanout.py", *sys.argv[1:]])
    print(
        f"{info['nproc']} cores ({info['cpu']}), {info['memory']}, Python {info['python']}, "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        flush=True,
    )
    info["postgres"] = live_pin.reset_database(args.database_url)
    live_pin.flush_redis(args.redis_url)
    data = live_pin.prepare_data(env, 2, list(range(len(runs))))
    setup_django(env)

    results: list[dict] = []
    dump = var_dir / "fanout-results.json"
    collapsed: set[str] = set()
    try:
        for (path, count, scenario), live in zip(runs, data["lives"], strict=True):
            if path in collapsed:
                results.append(
                    {
                        "path": path,
                        "n": count,
                        "scenario": scenario,
                        "failure": "collapsed at a smaller N in this run: not run",
                    }
                )
                continue
            print(f"{path} N={count} {scenario}: live {live}", flush=True)
            try:
                result = run_one(args, env, path, count, live, scenario)
            except RuntimeError as exc:
                result = {"path": path, "n": count, "scenario": scenario, "failure": str(exc)}
                print(f"  failed: {exc}", flush=True)
            result["join_timeout"] = args.join_timeout
            if scenario == "idle":
                result["idle_s"] = args.idle
            results.append(result)
            if path != "tapbuy" and "join_s" not in result:
                collapsed.add(path)
            dump.write_text(json.dumps(results, indent=1, default=str))
    except KeyboardInterrupt:
        print("interrupted: the servers were stopped", file=sys.stderr)
    if not results:
        return
    print()
    print(steady_table(results))
    print()
    print(type_table(results))
    for table in (stall_table(results), idle_table(results)):
        if table.count("\n") > 1:
            print()
            print(table)
    print()
    for line in acceptance(results) + notes(results):
        print(f"- {line}")
    if not args.no_readme:
        live_pin.write_readme(section(results, args, info), SECTION)
        print(f"\nwrote {live_pin.README.relative_to(ROOT)}; raw figures in {dump}")


if __name__ == "__main__":
    main()
