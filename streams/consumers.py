"""The live WebSocket: /ws/live/<stream_id>/.

On connect a viewer joins the live's room in this process's fan-out hub, then gets a
snapshot; after that, the hub writes it every event of the live as published (serialized
once, streams.fanout). Viewers send `chat.send` and `like` (and `resync`); everything
else comes from the server. Incoming messages are size-limited,
validated and rate-limited; a bad one gets an error event and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.db.models import Min, Q
from django.http.cookie import parse_cookie
from django.utils import timezone

from accounts.models import User
from config.errors import DomainError

from . import events, fanout, realtime, services, snapshots
from .errors import ChatRefused
from .models import Deal, Stream

log = logging.getLogger(__name__)

MAX_FRAME = 2048
CHAT_BURST, CHAT_WINDOW = 5, 10.0  # at most 5 chat lines per 10 s per socket
LIKE_BURST, LIKE_WINDOW = 30, 1.0  # likes beyond 30 a second are dropped silently
RESYNC_BURST, RESYNC_WINDOW = 5, 60.0  # each answer is a whole snapshot
TICK_SECONDS = 1.0
TICK_DB_EVERY = 10.0  # seconds between the tick's database reads when nothing asks for one
HOST_ONLY = {
    "carousel.set",
    "carousel.pin",
    "deal.start",
    "deal.end",
    "chat.delete",
    "chat.mute",
    "stream.end",
}


class RateLimit:
    """A sliding-window counter for one socket."""

    def __init__(self, burst: int, window: float):
        self.burst, self.window, self.hits = burst, window, []

    def allow(self) -> bool:
        now = time.monotonic()
        self.hits = [t for t in self.hits if now - t < self.window]
        if len(self.hits) >= self.burst:
            return False
        self.hits.append(now)
        return True

    def retry_after(self) -> float:
        return max(0.0, self.window - (time.monotonic() - self.hits[0])) if self.hits else 0.0


class SnapshotCache:
    """Per process: the last snapshot of each live and the seq it is current as of. When a
    crowd arrives and nothing happens meanwhile (the seq has not moved), the viewers share
    one snapshot: one build per change of the live, not one per viewer. A viewer's snapshot
    is at most as old as its seq says, and the events after that seq reach it anyway."""

    MAX_AGE = 5.0

    def __init__(self):
        # stream id -> (seq, built at, snapshot, the hub's mark when it was built)
        self.entries: dict[int, tuple[int, float, dict, int | None]] = {}
        self.frames: dict[int, tuple[dict, int, str]] = {}
        # Locks belong to an event loop: one set per loop (a process has one; tests more).
        self.locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _fresh(self, stream_id: int, seq: int) -> dict | None:
        entry = self.entries.get(stream_id)
        if entry and entry[0] == seq and time.monotonic() - entry[1] < self.MAX_AGE:
            return entry[2]
        return None

    def _current(self, stream_id: int, mark: int | None) -> dict | None:
        entry = self.entries.get(stream_id)
        if (
            entry is not None
            and entry[3] is not None
            and entry[3] == mark
            and time.monotonic() - entry[1] < self.MAX_AGE
        ):
            return entry[2]
        return None

    async def get(self, stream_id: int) -> dict | None:
        """The live's snapshot, or None when it does not exist or has ended. While this
        process's hub has seen no event of the live since the cached one was built, it is
        current without asking Redis: a crowd joining costs no round trip per viewer. When
        it may not be, one viewer at a time asks (and builds); the others then share."""
        hub = fanout.hub()
        cached = self._current(stream_id, hub.mark(stream_id))
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        lock = self.locks.setdefault(loop, defaultdict(asyncio.Lock))[stream_id]
        async with lock:
            mark = hub.mark(stream_id)  # before reading: an event meanwhile changes it
            cached = self._current(stream_id, mark)
            if cached is not None:
                return cached
            cached = self._fresh(stream_id, await realtime.acurrent_seq(stream_id))
            if cached is not None:
                # Redis says it is current as of `mark`: the next viewers need not ask.
                self.entries[stream_id] = (*self.entries[stream_id][:3], mark)
                return cached
            stream = await database_sync_to_async(_open_stream)(stream_id)
            if stream is None:
                self.entries.pop(stream_id, None)
                return None
            snapshot = await database_sync_to_async(snapshots.full)(stream)
            self.entries[stream_id] = (snapshot["seq"], time.monotonic(), snapshot, mark)
            return snapshot

    async def frame(self, stream_id: int) -> str | None:
        """The snapshot as a frame, serialized once per snapshot and viewer count: a
        crowd arriving at once shares it."""
        snapshot = await self.get(stream_id)
        if snapshot is None:
            return None
        viewers = max(ticker.totals.get(stream_id, 0), ticker.sockets[stream_id])
        cached = self.frames.get(stream_id)
        if cached is not None and cached[0] is snapshot and cached[1] == viewers:
            return cached[2]
        data = {**snapshot, "viewers": {**snapshot["viewers"], "now": viewers}}
        text = json.dumps(
            {"type": "snapshot", "seq": data["seq"], "data": data}, separators=(",", ":")
        )
        self.frames[stream_id] = (snapshot, viewers, text)
        return text

    def reset(self) -> None:
        self.__init__()


class LiveTicker:
    """Per process and per live: counts this process's sockets and likes, and once a second
    reports them, publishes the batched `likes` and `viewers` events (one process per
    live wins each tick) and ends a flash deal whose time is up."""

    def __init__(self):
        self.sockets: dict[int, int] = defaultdict(int)
        self.likes: dict[int, int] = defaultdict(int)
        self.totals: dict[int, int] = {}  # the live's viewers over all processes, last tick
        self.tasks: dict[int, asyncio.Task] = {}
        self.known: dict[int, TickState] = {}  # what the last database read said

    def join(self, stream_id: int) -> None:
        self.sockets[stream_id] += 1
        task = self.tasks.get(stream_id)
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self.tasks[stream_id] = asyncio.get_running_loop().create_task(self._run(stream_id))

    def reset(self) -> None:
        """Forget every live (tests start each from zero)."""
        self.__init__()

    def leave(self, stream_id: int) -> None:
        self.sockets[stream_id] = max(0, self.sockets[stream_id] - 1)

    def like(self, stream_id: int) -> None:
        self.likes[stream_id] += 1

    async def _run(self, stream_id: int) -> None:
        # Keeps ticking while this process has viewers of the live, plus one last tick to
        # report zero.
        failing = False
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await self.tick(stream_id)
                failing = False
            except Exception:
                # Once per outage, not every second of it (Redis down: the counts pause).
                if not failing:
                    log.warning("live tick for stream %s failed", stream_id, exc_info=True)
                failing = True
            if self.sockets[stream_id] == 0:
                self.tasks.pop(stream_id, None)
                return

    async def tick(self, stream_id: int) -> None:
        pending, self.likes[stream_id] = self.likes[stream_id], 0
        if pending:
            await database_sync_to_async(_add_likes_to_db)(stream_id, pending)
            await realtime.add_likes(stream_id, pending)
        total_viewers, won = await realtime.report_viewers(
            stream_id, self.sockets[stream_id], claim=True
        )
        self.totals[stream_id] = total_viewers
        if not won:
            return
        live = await self._live(stream_id, total_viewers)
        if live is None:
            return
        likes, likes_changed, viewers_changed = await realtime.tick_counts(
            stream_id, total_viewers, live.likes
        )
        if likes_changed:
            await events.asend_now(stream_id, "likes", {"total": likes})
        if viewers_changed:
            await events.asend_now(stream_id, "viewers", {"now": total_viewers, "peak": live.peak})

    async def _live(self, stream_id: int, viewers: int) -> TickState | None:
        """What the tick needs of the database, read only when something may have changed:
        a new peak, a deal due (or started, or an event missed), a while since the last
        read. Most seconds of a live ask the database nothing. None when it has ended."""
        known = self.known.get(stream_id)
        now = time.monotonic()
        deals = fanout.hub().deal_mark(stream_id)
        if (
            known is None
            or viewers > known.peak
            or known.deals != deals
            or (known.deal_due is not None and timezone.now() >= known.deal_due)
            or now - known.read_at >= TICK_DB_EVERY
        ):
            known = await database_sync_to_async(_tick_db)(stream_id, viewers)
            if known is None:
                self.known.pop(stream_id, None)
                return None
            known.deals, known.read_at = deals, now
            self.known[stream_id] = known
        return known


@dataclass
class TickState:
    peak: int
    likes: int
    deal_due: datetime | None  # when the live's running deal ends, if one runs
    deals: int | None = None  # the hub's deal mark when read
    read_at: float = 0.0


def _add_likes_to_db(stream_id: int, count: int) -> None:
    from django.db.models import F

    Stream.objects.filter(pk=stream_id).update(likes_count=F("likes_count") + count)


def _tick_db(stream_id: int, viewers: int) -> TickState | None:
    """The database side of a tick: the peak, and deals whose time is up."""
    Stream.objects.filter(pk=stream_id, peak_viewers__lt=viewers).update(peak_viewers=viewers)
    services.deals_expire_due()
    stream = (
        Stream.objects.filter(pk=stream_id)
        .annotate(
            deal_due=Min("deals__ends_at", filter=Q(deals__status=Deal.Status.ACTIVE)),
        )
        .values_list("peak_viewers", "likes_count", "deal_due")
        .first()
    )
    return TickState(*stream) if stream is not None else None


ticker = LiveTicker()
snapshot_cache = SnapshotCache()


LIVE_PATH = re.compile(r"/ws/live/(?P<stream_id>[0-9]+)/")


def live_socket(scope, receive, send):
    """The ASGI application of /ws/live/<stream_id>/ (config.asgi routes it here, behind
    the origin check). A plain application, not a Channels consumer: a popular live holds
    thousands of these per process, and each keeps only its LiveSocket and this frame."""
    return _live_socket(scope, receive, send)


async def _live_socket(scope, receive, send) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    path = scope["path"][len(scope.get("root_path", "")) :]
    found = LIVE_PATH.fullmatch(path)
    if found is None:
        await send({"type": "websocket.close"})
        return
    user_id = await _user_id(_session_key(scope))
    # Nothing more is read of the handshake (the cookie included): let its headers go.
    scope["headers"] = ()
    await send({"type": "websocket.accept"})
    socket = LiveSocket(send, int(found["stream_id"]), user_id)
    try:
        if not await socket.open():
            return
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                return
            if kind == "websocket.receive":
                await socket.receive(message.get("text"), message.get("bytes"))
    finally:
        socket.leave()


class LiveSocket(fanout.Viewer):
    """One viewer's socket on this process: what the fan-out hub writes to, and what
    handles the few messages viewers send. Rate limits exist once a viewer has chatted or
    liked or asked for a resync; the user is loaded when it first chats."""

    __slots__ = ("stream_id", "joined", "user", "chat_limit", "like_limit", "resync_limit")

    def __init__(self, send, stream_id: int, user_id: int | None):
        # So that a ban closes this socket (events.user_sign_out).
        super().__init__(send, user_id=user_id)
        self.stream_id = stream_id
        self.joined = False
        self.user = None
        self.chat_limit: RateLimit | None = None
        self.like_limit: RateLimit | None = None
        self.resync_limit: RateLimit | None = None

    async def open(self) -> bool:
        """Join the live and send its snapshot; False (socket closed with 4404) when the
        live does not exist or has ended."""
        hub = fanout.hub()
        hub.snapshotter = snapshot_frame
        # Join before the snapshot: an event published meanwhile arrives after it with a
        # higher seq instead of falling between the two.
        await hub.join(self.stream_id, self)
        frame = await snapshot_frame(self.stream_id)
        if frame is None:
            hub.leave(self.stream_id, self)
            await self.error("not_found", "This live does not exist or has ended.")
            await self.send({"type": "websocket.close", "code": 4404})
            return False
        self.joined = True
        ticker.join(self.stream_id)
        await self.text(frame)
        await self.start()
        return True

    def leave(self) -> None:
        fanout.hub().leave(self.stream_id, self)
        if self.joined:
            self.joined = False
            ticker.leave(self.stream_id)

    def cut(self, code: int) -> None:
        """The hub stopped writing to this socket (too slow, or its user was banned):
        close it (4408: the client reconnects and starts from a snapshot; 4401: signed
        out)."""
        if self.closed:
            return
        super().cut(code)
        asyncio.get_running_loop().create_task(self._close(code))

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.send({"type": "websocket.close", "code": code})

    async def text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def receive(self, text_data: str | None, bytes_data: bytes | None) -> None:
        if not self.joined or self.closed:
            return None
        if bytes_data is not None or text_data is None or len(text_data) > MAX_FRAME:
            return await self.error(
                "too_large", f"Send JSON text frames of at most {MAX_FRAME} bytes."
            )
        try:
            message = json.loads(text_data)
        except ValueError:
            return await self.error("bad_json", "The message is not valid JSON.")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return await self.error("bad_message", 'A message is an object with a "type".')
        kind = message["type"]
        if kind == "like":
            # Taps beyond the limit are dropped without a word: likes are a stream of taps.
            if not await self.over_limit("like_limit", LIKE_BURST, LIKE_WINDOW):
                ticker.like(self.stream_id)
            return None
        if kind == "chat.send":
            return await self.chat(message.get("data"))
        if kind == "resync":
            if await self.over_limit(
                "resync_limit", RESYNC_BURST, RESYNC_WINDOW, "Too many resyncs: reconnect, or wait."
            ):
                return None
            held = self.hold()
            await self.resume(await snapshot_frame(self.stream_id), held=held)
            return None
        if kind in HOST_ONLY:
            return await self.error("forbidden", "Hosts change the live from the studio.")
        return await self.error("unknown_type", f"Unknown message type {kind[:40]!r}.")

    async def chat(self, data) -> None:
        if self.user_id is None:
            return await self.error("login_required", "Log in to chat.")
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str):
            return await self.error("bad_message", 'chat.send needs {"data": {"text": "..."}}.')
        if await self.over_limit(
            "chat_limit", CHAT_BURST, CHAT_WINDOW, "You are sending messages too fast."
        ):
            return None
        try:
            self.user = await database_sync_to_async(_chat_send)(
                self.user or self.user_id, self.stream_id, text
            )
        except DomainError as exc:
            return await self.error(
                exc.code, exc.message, retry_after=getattr(exc, "retry_after", None)
            )
        return None

    async def over_limit(self, slot: str, burst: int, window: float, message: str = "") -> bool:
        """Whether this socket's limit in `slot` refuses one more message (made on first
        use); with a message, the viewer is told it, and when to try again."""
        limit = getattr(self, slot)
        if limit is None:
            limit = RateLimit(burst, window)
            setattr(self, slot, limit)
        if limit.allow():
            return False
        if message:
            await self.error("rate_limited", message, retry_after=round(limit.retry_after(), 1))
        return True

    async def error(self, code: str, message: str, retry_after: float | None = None):
        data = {"code": code, "message": message}
        if retry_after is not None:
            data["retry_after"] = retry_after
        await self.text(json.dumps({"type": "error", "data": data}))


def _session_key(scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME)
    return None


async def _user_id(session_key: str | None) -> int | None:
    if not session_key:
        return None
    return await database_sync_to_async(_session_user_id)(session_key)


def _session_user_id(session_key: str) -> int | None:
    """The signed-in user of a session, as Django's auth reads it for a request (the
    session's auth hash checked, inactive users refused); None for anyone else."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(SimpleNamespace(session=store))
    return user.pk if user.is_authenticated else None


def _chat_send(user, stream_id: int, text: str):
    """Post a chat line as the socket's user (loaded by id on its first line); returns
    the user for the next one."""
    if not isinstance(user, User):
        user = User.objects.filter(pk=user).first()
        if user is None:
            raise ChatRefused("login_required", "Log in to chat.")
    services.chat_send(user=user, stream_id=stream_id, text=text)
    return user


async def snapshot_frame(stream_id: int) -> str | None:
    """The snapshot frame for a viewer of this live, with the live's viewer count as of
    the last tick (or this process's own sockets if there was none yet); None when the
    live does not exist or has ended."""
    return await snapshot_cache.frame(stream_id)


def _open_stream(stream_id: int) -> Stream | None:
    return (
        Stream.objects.select_related("host")
        .filter(pk=stream_id, status__in=[Stream.Status.SCHEDULED, Stream.Status.LIVE])
        .first()
    )
