"""Shared live counters: the per-live event sequence, likes and viewers across processes.

With Redis (REDIS_URL) every ASGI process shares them through Redis; in the embedded
default there is one process, and they live in its memory. Everything here is a counter
that may be lost with Redis: clients resync from a snapshot when seq jumps, and likes and
peak viewers are also written to the database.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
import weakref
from collections import defaultdict

from django.conf import settings

log = logging.getLogger(__name__)

# A process's identity in the shared viewer table: several uvicorn workers on one machine
# each count their own sockets.
PROCESS_ID = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
VIEWER_TTL = 5  # seconds a process's viewer count is trusted without a refresh


def _key(stream_id: int, name: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "tapbuy"
    return f"{prefix}:live:{stream_id}:{name}"


# Connections per client: a crowd joining at once used to exceed redis-py's default cap and
# fail its reads (MaxConnectionsError), which were then taken for a Redis outage.
POOL_SIZE = 200
_sync_client = None
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sync_redis():
    """A short-timeout client for publishers on the request path: if Redis is down, the
    page or checkout carries on after a second instead of hanging."""
    global _sync_client
    if _sync_client is None:
        import redis

        # A blocking pool: past its size a caller waits (up to `timeout`) for a free
        # connection instead of failing, which a burst would otherwise take for an outage.
        pool = redis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=POOL_SIZE,
            timeout=2,
            socket_connect_timeout=1,
            socket_timeout=2,
        )
        _sync_client = redis.Redis(connection_pool=pool)
    return _sync_client


def async_redis():
    """One asyncio client per event loop (each uvicorn worker has one loop)."""
    import asyncio

    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=POOL_SIZE,
            timeout=2,
            socket_connect_timeout=1,
            socket_timeout=2,
        )
        client = aioredis.Redis(connection_pool=pool)
        _async_clients[loop] = client
    return client


class _Local:
    """The embedded default's counters: one process, so its memory is the truth."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seq: dict[int, itertools.count] = defaultdict(lambda: itertools.count(1))
        self.current: dict[int, int] = defaultdict(int)
        self.likes: dict[int, int] = defaultdict(int)
        self.viewers: dict[int, dict[str, tuple[int, float]]] = defaultdict(dict)
        self.published: dict[tuple[int, str], int] = {}


_local = _Local()


def use_redis() -> bool:
    return bool(settings.REDIS_URL)


# --- seq ------------------------------------------------------------------------------------


# With Redis, a live's counter starts from the clock in microseconds when it is new or was
# lost (Redis restarted empty): always above every seq the live had before, so viewers
# that stayed connected never take new events for ones they have seen. It then grows by
# one per event (a million a second would be needed to outrun the clock).
_NEXT = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('INCRBY', KEYS[1], ARGV[2])
"""


_script = None


def _next_script():
    """The counter's script, sent once and run by its hash (loaded again by redis-py if
    a restarted Redis no longer has it)."""
    global _script
    if _script is None:
        _script = sync_redis().register_script(_NEXT)
    return _script


def _floor() -> int:
    return time.time_ns() // 1000


def next_seq(stream_id: int) -> int:
    """The next event number of a live, the same for every process."""
    return next_seqs(stream_id, 1)[0]


def next_seqs(stream_id: int, count: int) -> range:
    """The live's next `count` event numbers at once, in one round trip (a batch of gifts
    publishes one event each)."""
    if use_redis():
        last = int(_next_script()(keys=[_key(stream_id, "seq")], args=[_floor(), count]))
        return range(last - count + 1, last + 1)
    with _local.lock:
        numbers = [next(_local.seq[stream_id]) for _ in range(count)]
        _local.current[stream_id] = numbers[-1]
        return range(numbers[0], numbers[-1] + 1)


# Readers for pages and snapshots carry on without Redis: a page must render, a viewer
# must get a snapshot. After a failure they skip Redis for a moment instead of waiting
# for its connect timeout on every call.
OUTAGE_PAUSE = 2.0
_redis_failed_at = 0.0


def _redis_usable() -> bool:
    return time.monotonic() - _redis_failed_at > OUTAGE_PAUSE


def _redis_failed() -> None:
    global _redis_failed_at
    if _redis_usable():
        log.warning("Redis unreachable: live counters read as 0 for now", exc_info=True)
    _redis_failed_at = time.monotonic()


def current_seq(stream_id: int) -> int:
    """The live's last seq (0 when Redis cannot say: a snapshot at seq 0 makes its viewer
    take whatever comes next, and resync on the first gap)."""
    if use_redis():
        if not _redis_usable():
            return 0
        try:
            pipe = sync_redis().pipeline(transaction=False)
            pipe.set(_key(stream_id, "seq"), _floor(), nx=True)
            pipe.get(_key(stream_id, "seq"))
            value = pipe.execute()[1]
        except Exception:
            _redis_failed()
            return 0
        return int(value)
    return _local.current[stream_id]


async def acurrent_seq(stream_id: int) -> int:
    """current_seq for code on the event loop."""
    if use_redis():
        if not _redis_usable():
            return 0
        try:
            pipe = async_redis().pipeline(transaction=False)
            pipe.set(_key(stream_id, "seq"), _floor(), nx=True)
            pipe.get(_key(stream_id, "seq"))
            value = (await pipe.execute())[1]
        except Exception:
            _redis_failed()
            return 0
        return int(value)
    return _local.current[stream_id]


# --- likes and viewers (called from the async tick of each process) ----------------------------


async def add_likes(stream_id: int, count: int) -> int:
    """Add this process's likes of the last tick; return the live's total."""
    if use_redis():
        return int(await async_redis().incrby(_key(stream_id, "likes"), count))
    with _local.lock:
        _local.likes[stream_id] += count
        return _local.likes[stream_id]


async def seed_likes(stream_id: int, total: int) -> None:
    if use_redis():
        await async_redis().set(_key(stream_id, "likes"), total, nx=True)
    else:
        with _local.lock:
            _local.likes[stream_id] = max(_local.likes[stream_id], total)


async def report_viewers(
    stream_id: int, local_count: int, *, claim: bool = False
) -> tuple[int, bool]:
    """Record this process's socket count; return the total over live processes and,
    with claim, whether this process won this second's tick (see claim_tick). Entries of
    processes that stopped reporting expire after VIEWER_TTL seconds."""
    now = time.time()
    if use_redis():
        client = async_redis()
        key = _key(stream_id, "viewers")
        # One round trip a second per live and process, the claim included.
        pipe = client.pipeline(transaction=False)
        pipe.hset(key, PROCESS_ID, f"{local_count}:{now:.3f}")
        pipe.expire(key, 3600)
        pipe.hgetall(key)
        if claim:
            pipe.set(_key(stream_id, "tick"), PROCESS_ID, nx=True, px=CLAIM_MS)
        answers = await pipe.execute()
        table = answers[2]
        total, stale = 0, []
        for field, value in table.items():
            count, _, stamp = value.decode().partition(":")
            if now - float(stamp) > VIEWER_TTL:
                stale.append(field)
            else:
                total += int(count)
        if stale:
            await client.hdel(key, *stale)
        return total, bool(claim and answers[3])
    with _local.lock:
        table = _local.viewers[stream_id]
        table[PROCESS_ID] = (local_count, now)
        return sum(c for c, stamp in table.values() if now - stamp <= VIEWER_TTL), claim


CLAIM_MS = 900


async def claim_tick(stream_id: int, interval_ms: int = CLAIM_MS) -> bool:
    """One process per live per second publishes the batched counts: the first to claim."""
    if use_redis():
        return bool(
            await async_redis().set(_key(stream_id, "tick"), PROCESS_ID, nx=True, px=interval_ms)
        )
    return True


async def tick_counts(stream_id: int, viewers: int, likes_fallback: int) -> tuple[int, bool, bool]:
    """For the process that won a tick, in one round trip: the live's likes, and whether
    they and the viewer count differ from what was last published (remembering the new
    values). After a Redis restart likes start again from likes_fallback (the database)."""
    if not use_redis():
        likes = max(_local.likes[stream_id], likes_fallback)
        with _local.lock:
            changed = [
                _local.published.get((stream_id, name)) != value
                for name, value in (("likes", likes), ("viewers", viewers))
            ]
            _local.published[(stream_id, "likes")] = likes
            _local.published[(stream_id, "viewers")] = viewers
        return likes, changed[0], changed[1]
    client = async_redis()
    likes_key = _key(stream_id, "likes")
    pipe = client.pipeline(transaction=False)
    pipe.get(likes_key)
    pipe.get(_key(stream_id, "published:likes"))
    pipe.get(_key(stream_id, "published:viewers"))
    raw_likes, last_likes, last_viewers = await pipe.execute()
    if raw_likes is None:
        await client.set(likes_key, likes_fallback, nx=True)
        likes = likes_fallback
    else:
        likes = int(raw_likes)
    likes_changed = last_likes is None or int(last_likes) != likes
    viewers_changed = last_viewers is None or int(last_viewers) != viewers
    if likes_changed or viewers_changed:
        pipe = client.pipeline(transaction=False)
        if likes_changed:
            pipe.set(_key(stream_id, "published:likes"), likes)
        if viewers_changed:
            pipe.set(_key(stream_id, "published:viewers"), viewers)
        await pipe.execute()
    return likes, likes_changed, viewers_changed


def reset_local_state() -> None:
    """Tests start every live from zero in the embedded default."""
    global _local
    _local = _Local()


def viewers_total(stream_id: int) -> int:
    """The live's viewer count for synchronous readers (the snapshot API, pages)."""
    now = time.time()
    if use_redis():
        if not _redis_usable():
            return 0
        try:
            table = sync_redis().hgetall(_key(stream_id, "viewers"))
        except Exception:
            _redis_failed()
            return 0
        total = 0
        for value in table.values():
            count, _, stamp = value.decode().partition(":")
            if now - float(stamp) <= VIEWER_TTL:
                total += int(count)
        return total
    with _local.lock:
        table = _local.viewers.get(stream_id, {})
        return sum(c for c, stamp in table.values() if now - stamp <= VIEWER_TTL)
