"""Live fan-out: each event reaches every viewer of a live with one Redis message per
process, and one write per local socket.

A process (an ASGI worker) holds a Hub per event loop. Viewers of a live on this process
form a Room; the hub subscribes to the live's Redis channel when the room's first viewer
joins and unsubscribes a while after its last one leaves. A published event is
serialized once (streams.events), published once, received once per process, and written
to each local socket by calling the server's send for it directly: no channel layer, no
consumer dispatch, no task per viewer while the viewer keeps up.

A viewer that does not keep up (the server's send would wait for its socket to drain)
gets its frames queued, up to LIVE_FANOUT_BACKLOG_FRAMES; past that it is cut off with
4408, and on reconnecting it starts again from a snapshot. The others never wait for it.

When the subscription is lost (Redis restarted, the connection dropped), sockets stay
open; the hub reconnects with backoff, subscribes again, and sends every local viewer a
fresh snapshot, since events published meanwhile reached nobody.

Without Redis (the embedded default: one process) events are handed to the hubs of this
process directly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from config.ws import encode_text

from . import realtime

log = logging.getLogger(__name__)

# Several events published as one message (a batch of gifts): JSON text never holds this
# control character unescaped.
SEPARATOR = "\x1e"
CUT_OFF_CODE = 4408  # "too slow": the client reconnects and takes a snapshot
RECONNECT_MAX = 5.0  # seconds between attempts to subscribe again, at most
CONTROL = "control"  # the channel every hub listens to: sign-outs
DEAL_PREFIX = '{"type":"deal.'


def channel(stream_id: int | str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "tapbuy"
    return f"{prefix}:fanout:{stream_id}"


class Viewer:
    """One socket of a live on this process."""

    __slots__ = ("send", "wire", "user_id", "on_cut", "backlog", "closed", "__weakref__")

    def __init__(
        self,
        send: Callable[[dict], Awaitable[None]],
        *,
        user_id: int | None = None,
        on_cut: Callable[[int], Any] | None = None,
    ):
        self.send = send
        # The server's protocol when it takes frames encoded once for every socket
        # (config.ws.LeanWebSocketProtocol), else None: frames go through send.
        wire = getattr(send, "__self__", None)
        self.wire = wire if callable(getattr(wire, "write_frame", None)) else None
        self.user_id = user_id
        self.on_cut = on_cut
        # Not None while frames wait: for the socket to drain, or, until start(), for the
        # viewer's snapshot to go first.
        self.backlog: Backlog | None = Backlog()
        self.closed = False

    async def start(self) -> None:
        """The viewer's snapshot has been sent: send what was published meanwhile (the
        client skips what its snapshot already holds), then write events as they come."""
        try:
            while self.backlog and not self.closed:
                await self.send({"type": "websocket.send", "text": self.backlog.pop()})
        except Exception:
            self.closed = True
        self.backlog = None

    def hold(self) -> bool:
        """Hold events back while a fresh snapshot is built for this viewer, so that it
        goes out before them (then `resume`). False when the viewer is behind already:
        its backlog is being sent, and the snapshot will be queued behind it."""
        if self.closed or self.backlog is not None:
            return False
        self.backlog = Backlog()
        return True

    async def resume(self, frame: str | None, *, held: bool) -> None:
        """Send a snapshot built while held, then the events held back meanwhile (the
        client skips those its snapshot holds). A viewer that was not held gets the
        snapshot in its turn, behind what it is catching up on."""
        if not held:
            if frame is not None:
                self.write(frame)
            return
        if frame is not None and not self.closed:
            try:
                await self.send({"type": "websocket.send", "text": frame})
            except Exception:
                self.closed = True
        await self.start()

    def write(self, text: str, frame: bytes | None = None) -> bool:
        """Hand a message to the socket (frame: the same, encoded for the wire by
        config.ws.encode_text); False once the viewer is gone or cut off."""
        if self.closed:
            return False
        if self.backlog is not None:
            if self.backlog.add(text):
                return True
            self.cut(CUT_OFF_CODE)
            return False
        if frame is not None and self.wire is not None and self.wire.write_frame(frame):
            return True  # the socket keeps up: the shared bytes went straight out
        # Run the server's send until it would wait. A socket that keeps up is written at
        # once (uvicorn's send writes to the transport and returns without suspending):
        # no task, no scheduling. Only a socket that is behind gets a task, which
        # finishes that send and then the frames queued meanwhile.
        coro = self.send({"type": "websocket.send", "text": text})
        try:
            waiting = coro.send(None)
        except StopIteration:
            return True
        except Exception:
            self.closed = True  # the client went away
            return False
        self.backlog = Backlog()
        asyncio.get_running_loop().create_task(self._catch_up(coro, waiting))
        return True

    async def _catch_up(self, coro, waiting) -> None:
        try:
            await _finish(coro, waiting)
            while self.backlog and not self.closed:
                await self.send({"type": "websocket.send", "text": self.backlog.pop()})
        except Exception:
            self.closed = True
        finally:
            self.backlog = None

    def cut(self, code: int) -> None:
        """Stop writing to this socket and ask its consumer to close it."""
        if self.closed:
            return
        self.closed = True
        if self.backlog is not None:
            self.backlog.clear()
        if self.on_cut is not None:
            self.on_cut(code)


# State events: only the newest of a kind matters to a viewer that is behind.
COALESCED = {"carousel.updated", "viewers", "likes", "stock.changed"}
_TYPE_AT = len('{"type":"')


class Backlog:
    """The frames waiting for a viewer that is behind, at most LIVE_FANOUT_BACKLOG_FRAMES.
    A state event supersedes the waiting one of its kind (stock per product): the older
    frame shrinks to {"type":"superseded","seq":n}, which keeps the seq unbroken (no
    resync) and costs a few bytes. A snapshot supersedes everything before it. Chat,
    gifts and orders are all delivered, in order."""

    __slots__ = ("frames", "latest")

    def __init__(self):
        self.frames: deque[list] = deque()  # [text, coalescing key or None]
        self.latest: dict[str, list] = {}

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, text: str) -> bool:
        """Queue a frame; False when the backlog is full (the viewer is cut off)."""
        kind = text[_TYPE_AT : text.find('"', _TYPE_AT)]
        key = None
        if kind == "snapshot":
            self.clear()
        elif kind in COALESCED:
            key = kind
            if kind == "stock.changed":
                at = text.find('"product":')
                key = f"{kind}:{text[at : text.find(',', at)]}"
            older = self.latest.get(key)
            if older is not None:
                at = older[0].index('"seq":') + 6
                older[0] = f'{{"type":"superseded","seq":{older[0][at : older[0].index(",", at)]}}}'
                older[1] = None
        if len(self.frames) >= settings.LIVE_FANOUT_BACKLOG_FRAMES:
            return False
        entry = [text, key]
        if key is not None:
            self.latest[key] = entry
        self.frames.append(entry)
        return True

    def pop(self) -> str:
        text, key = self.frames.popleft()
        if key is not None:
            self.latest.pop(key, None)
        return text

    def clear(self) -> None:
        self.frames.clear()
        self.latest.clear()


async def _finish(coro, waiting) -> None:
    """Drive a coroutine that was started by hand and is suspended on `waiting` (what its
    innermost await yielded: a future, or None for a bare yield) to its end."""
    while True:
        if waiting is None:
            await asyncio.sleep(0)
        else:
            waiting._asyncio_future_blocking = False
            try:
                await asyncio.wait([waiting])
            except asyncio.CancelledError:
                coro.close()
                raise
        try:
            waiting = coro.send(None)
        except StopIteration:
            return


class Room:
    __slots__ = ("viewers", "subscribed", "idle_since", "events", "deals")

    def __init__(self):
        self.viewers: set[Viewer] = set()
        self.subscribed: asyncio.Future | None = None
        self.idle_since: float | None = None
        self.events = 0  # messages received, and subscriptions lost: see Hub.mark
        self.deals = 0  # deal events received, and subscriptions lost: see Hub.deal_mark


Snapshotter = Callable[[int], Awaitable[str | None]]


class Hub:
    """This process's viewers by live, and its subscription to their events."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.rooms: dict[int, Room] = {}
        self.users: dict[int, weakref.WeakSet] = {}
        self.snapshotter: Snapshotter | None = None  # set by the consumer's module
        self._pubsub = None
        self._reader: asyncio.Task | None = None
        self._janitor: asyncio.Task | None = None
        self._wanted = asyncio.Event()  # set while there is something to listen to

    # --- viewers ------------------------------------------------------------------------

    async def join(self, stream_id: int, viewer: Viewer) -> None:
        """Add a viewer; the first of a live waits until the live's events reach this
        process (so that nothing published after its snapshot is missed). With Redis
        down it joins anyway: the hub subscribes when Redis is back and then sends a
        snapshot."""
        room = self.rooms.get(stream_id)
        if room is None:
            room = self.rooms[stream_id] = Room()
        room.viewers.add(viewer)
        room.idle_since = None
        if viewer.user_id is not None:
            self.users.setdefault(viewer.user_id, weakref.WeakSet()).add(viewer)
        if self._janitor is None or self._janitor.done():
            self._janitor = self.loop.create_task(self._sweep())
        if not realtime.use_redis():
            return
        if self._reader is None or self._reader.done():
            self._reader = self.loop.create_task(self._read())
        if room.subscribed is None:
            room.subscribed = self.loop.create_future()
            self._wanted.set()
            await self._subscribe([stream_id])
        if not room.subscribed.done():
            try:
                await asyncio.wait_for(asyncio.shield(room.subscribed), timeout=2)
            except TimeoutError:
                log.warning("live %s: joined before its events could be received", stream_id)

    def leave(self, stream_id: int, viewer: Viewer) -> None:
        viewer.closed = True
        room = self.rooms.get(stream_id)
        if room is not None:
            room.viewers.discard(viewer)
            if not room.viewers:
                room.idle_since = self.loop.time()
        if viewer.user_id is not None:
            viewers = self.users.get(viewer.user_id)
            if viewers is not None:
                viewers.discard(viewer)
                if not viewers:
                    del self.users[viewer.user_id]

    def mark(self, stream_id: int) -> int | None:
        """A number that changes whenever an event of the live reaches this process or
        the subscription is lost; None while events of the live may not reach it (no
        viewer here yet, not subscribed yet). Equal marks at two moments mean that no
        event was published in between that this process has seen or could have missed:
        a snapshot taken at the first moment is current at the second (or its events are
        on their way to the room)."""
        room = self.rooms.get(stream_id)
        if room is None:
            return None
        if realtime.use_redis():
            ready = room.subscribed
            if self._pubsub is None or ready is None or not ready.done() or ready.cancelled():
                return None
        return room.events

    def deal_mark(self, stream_id: int) -> int | None:
        """Like mark, for deal events only: it changes when a deal of the live started or
        ended as this process saw it, or when such an event may have been missed."""
        room = self.rooms.get(stream_id)
        return None if room is None else room.deals

    def viewers(self, stream_id: int) -> int:
        room = self.rooms.get(stream_id)
        return len(room.viewers) if room else 0

    # --- delivery -------------------------------------------------------------------------

    def deliver(self, stream_id: int, payload: str) -> None:
        """Write one published message (one event, or several joined by SEPARATOR) to
        every local viewer of the live, in order."""
        room = self.rooms.get(stream_id)
        if room is None:
            return
        room.events += 1
        if not room.viewers:
            return
        texts = payload.split(SEPARATOR) if SEPARATOR in payload else (payload,)
        if any(text.startswith(DEAL_PREFIX) for text in texts):
            room.deals += 1
        # Each message is framed once for every socket of this process.
        pairs = [(text, encode_text(text)) for text in texts]
        gone = []
        for viewer in room.viewers:
            for text, frame in pairs:
                if not viewer.write(text, frame):
                    gone.append(viewer)
                    break
        for viewer in gone:
            room.viewers.discard(viewer)

    def control(self, payload: str) -> None:
        kind, _, value = payload.partition(":")
        if kind == "signout":
            for viewer in list(self.users.get(int(value), ())):
                viewer.cut(4401)

    # --- Redis ------------------------------------------------------------------------------

    async def _connect(self):
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=1,
            socket_timeout=None,  # an idle live is not an error
            socket_keepalive=True,
            health_check_interval=10,
        )
        pubsub = client.pubsub(ignore_subscribe_messages=False)
        await pubsub.subscribe(channel(CONTROL))
        return pubsub

    async def _subscribe(self, stream_ids: list[int]) -> None:
        if self._pubsub is None or not stream_ids:
            return  # the reader subscribes to every room once it is connected
        try:
            await self._pubsub.subscribe(*(channel(pk) for pk in stream_ids))
        except Exception:
            log.warning("subscribing to lives %s failed", stream_ids, exc_info=True)

    async def _read(self) -> None:
        """Receive every subscribed live's events, forever: connect, subscribe to every
        room, read; on a lost connection, again with backoff."""
        delay = 0.2
        lost = False
        while True:
            try:
                self._pubsub = await self._connect()
                rooms = list(self.rooms)
                for stream_id in rooms:
                    room = self.rooms[stream_id]
                    if room.subscribed is None or room.subscribed.done():
                        room.subscribed = self.loop.create_future()
                if rooms:
                    await self._pubsub.subscribe(*(channel(pk) for pk in rooms))
                if lost:
                    log.info("live fan-out: connected again, %d lives", len(rooms))
                    self.loop.create_task(self._resync(rooms))
                delay, lost = 0.2, False
                while True:
                    # A timeout now and then lets the client check the connection's health
                    # (health_check_interval) on a quiet live.
                    message = await self._pubsub.get_message(timeout=5.0)
                    if message is not None:
                        self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                if not lost:
                    log.warning("live fan-out: lost the subscription", exc_info=True)
                lost = True
                for room in self.rooms.values():
                    room.events += 1  # whatever was published now may never arrive
                    room.deals += 1
                pubsub, self._pubsub = self._pubsub, None
                await _close_quietly(pubsub)
                await asyncio.sleep(delay)
                delay = min(RECONNECT_MAX, delay * 2)

    def _handle(self, message: dict) -> None:
        name = message["channel"].decode()
        key = name.rpartition(":")[2]
        kind = message["type"]
        if kind == "message":
            payload = message["data"].decode()
            if key == CONTROL:
                self.control(payload)
            else:
                self.deliver(int(key), payload)
        elif kind == "subscribe" and key != CONTROL:
            room = self.rooms.get(int(key))
            if room is not None and room.subscribed is not None and not room.subscribed.done():
                room.subscribed.set_result(True)

    async def _resync(self, stream_ids: list[int]) -> None:
        """Events published while the subscription was down reached nobody here: send the
        lives' viewers a snapshot, as a viewer that saw a gap would ask for."""
        if self.snapshotter is None:
            return
        for stream_id in stream_ids:
            room = self.rooms.get(stream_id)
            if room is None:
                continue
            # Events arriving while the snapshot is built wait behind it: a snapshot sent
            # after newer events would take the viewer back and cost it a resync.
            viewers = list(room.viewers)
            held = {viewer for viewer in viewers if viewer.hold()}
            frame = None
            try:
                frame = await self.snapshotter(stream_id)
            except Exception:
                log.warning("live %s: no snapshot after reconnecting", stream_id, exc_info=True)
            await asyncio.gather(*(viewer.resume(frame, held=viewer in held) for viewer in viewers))

    async def _sweep(self) -> None:
        """Unsubscribe from lives whose room has been empty for a while
        (LIVE_FANOUT_UNSUBSCRIBE_AFTER): a viewer reloading the page finds it still there."""
        after = settings.LIVE_FANOUT_UNSUBSCRIBE_AFTER
        while True:
            await asyncio.sleep(min(after, 5.0))
            now = self.loop.time()
            idle = [
                pk
                for pk, room in self.rooms.items()
                if not room.viewers
                and room.idle_since is not None
                and now - room.idle_since >= after
            ]
            for pk in idle:
                del self.rooms[pk]
            if idle and self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(*(channel(pk) for pk in idle))
                except Exception:
                    log.warning("unsubscribing from lives %s failed", idle, exc_info=True)

    async def close(self) -> None:
        for task in (self._reader, self._janitor):
            if task is not None:
                task.cancel()
        pubsub, self._pubsub = self._pubsub, None
        await _close_quietly(pubsub)


async def _close_quietly(pubsub) -> None:
    """Close a subscription that may have lost its connection already."""
    if pubsub is None:
        return
    try:
        await pubsub.aclose()
    except Exception:
        log.debug("closing a lost subscription", exc_info=True)


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_hubs_lock = threading.Lock()


def hub() -> Hub:
    """The hub of the running event loop (a server process has one loop; tests more)."""
    loop = asyncio.get_running_loop()
    with _hubs_lock:
        found = _hubs.get(loop)
        if found is None:
            found = _hubs[loop] = Hub(loop)
        return found


def hubs() -> list[Hub]:
    with _hubs_lock:
        return list(_hubs.values())


# --- publishing (streams.events calls these) -----------------------------------------------


def publish(stream_id: int, texts: list[str]) -> None:
    """Send serialized events of a live to every process watching it. Raises when Redis
    cannot be reached (the caller logs it: the event is lost, clients resync)."""
    payload = SEPARATOR.join(texts)
    if realtime.use_redis():
        realtime.sync_redis().publish(channel(stream_id), payload)
        return
    _hand_over(lambda found: found.deliver(stream_id, payload))


async def apublish(stream_id: int, texts: list[str]) -> None:
    payload = SEPARATOR.join(texts)
    if realtime.use_redis():
        await realtime.async_redis().publish(channel(stream_id), payload)
        return
    _hand_over(lambda found: found.deliver(stream_id, payload))


def sign_out(user_id: int) -> None:
    """Close every live socket of this user, on every process."""
    if realtime.use_redis():
        realtime.sync_redis().publish(channel(CONTROL), f"signout:{user_id}")
        return
    _hand_over(lambda found: found.control(f"signout:{user_id}"))


def _hand_over(call: Callable[[Hub], None]) -> None:
    """The embedded default: run call on each hub of this process, on its own loop."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for found in hubs():
        if found.loop is running:
            call(found)
        elif not found.loop.is_closed():
            found.loop.call_soon_threadsafe(call, found)


def reset() -> None:
    """Forget every hub (tests start each from zero); their tasks end with their loops."""
    with _hubs_lock:
        _hubs.clear()
