"""The one way anything sends to a live: publish(stream, type, data).

It runs after the surrounding transaction commits (a rolled-back pin or an unpaid order is
never announced), stamps the live's next seq, serializes the envelope once and hands it to
the fan-out (streams.fanout): one Redis message to every process watching the live, which
writes it to its own viewers' sockets. A Redis outage loses the event, not the request:
clients that see a gap in seq resync from the snapshot, and the processes send their
viewers a snapshot once they are subscribed again.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import fanout, realtime

log = logging.getLogger(__name__)

# Every event type a live sends; docs/realtime-events.md shows each with an example.
EVENT_TYPES = {
    "stream.state",
    "carousel.updated",
    "deal.started",
    "deal.ended",
    "stock.changed",
    "chat.message",
    "chat.deleted",
    "gift.sent",
    "likes",
    "viewers",
    "order.placed",
}


def envelope(stream_id: int, type: str, data: dict[str, Any], *, seq: int | None = None) -> str:
    return json.dumps(
        {
            "type": type,
            "seq": realtime.next_seq(stream_id) if seq is None else seq,
            "ts": timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": data,
        },
        separators=(",", ":"),
    )


def send_now(stream_id: int, type: str, data: dict[str, Any]) -> None:
    """Send immediately (no transaction to wait for). Never raises: a live update that
    cannot be delivered must not fail the page, the order or the gift that caused it."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown live event type {type!r}")
    try:
        fanout.publish(stream_id, [envelope(stream_id, type, data)])
    except Exception:
        log.warning("live event %s for stream %s not delivered", type, stream_id, exc_info=True)


_outbox: tuple[int, queue.SimpleQueue] | None = None
_outbox_lock = threading.Lock()


def _outbox_queue() -> queue.SimpleQueue:
    """This process's outbox: events handed over by send_many(wait=False), sent in the
    order they were handed over by one thread of their own (started on first use, again
    after a fork)."""
    global _outbox
    with _outbox_lock:
        if _outbox is None or _outbox[0] != os.getpid():
            outbox: queue.SimpleQueue = queue.SimpleQueue()
            threading.Thread(
                target=_send_from, args=(outbox,), name="live-outbox", daemon=True
            ).start()
            _outbox = (os.getpid(), outbox)
        return _outbox[1]


def _send_from(outbox: queue.SimpleQueue) -> None:
    while True:
        stream_id, type, items = outbox.get()
        _send_many(stream_id, type, items)


def send_many(stream_id: int, type: str, items: list[dict[str, Any]], *, wait: bool = True) -> None:
    """send_now for many events of one type to one live, in order: their seqs taken in one
    round trip, and one message to the processes watching, which write one frame per event
    to each viewer. Never raises.

    wait=False hands them to the process's outbox and returns at once (with Redis; without
    it the hand-over to the local viewers does not wait anyway):
    whoever batches sends of a hot live goes on with the next batch while this one's
    events go out, each handed-over list in turn, in the order handed over. Events still
    in the outbox when the process ends are lost, as an event is when Redis is down."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown live event type {type!r}")
    if not items:
        return
    if not wait and settings.REDIS_URL:
        _outbox_queue().put((stream_id, type, items))
        return
    _send_many(stream_id, type, items)


def _send_many(stream_id: int, type: str, items: list[dict[str, Any]]) -> None:
    try:
        seqs = realtime.next_seqs(stream_id, len(items))
    except Exception:
        log.warning("%d live events %s for stream %s not delivered", len(items), type, stream_id)
        return
    send_numbered(stream_id, type, items, seqs)


def send_numbered(stream_id: int, type: str, items: list[dict[str, Any]], seqs) -> None:
    """Send events whose seqs the caller took beforehand (realtime.next_seqs), because what
    they carry has to be read after their place in the order is fixed. Never raises."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown live event type {type!r}")
    try:
        texts = [
            envelope(stream_id, type, data, seq=seq) for seq, data in zip(seqs, items, strict=True)
        ]
        fanout.publish(stream_id, texts)
    except Exception:
        log.warning("%d live events %s for stream %s not delivered", len(items), type, stream_id)


def user_sign_out(user_id: int) -> None:
    """Close every live socket of this user (a ban), once the current transaction (if
    any) has committed. Never raises: a socket that stays open cannot chat or buy anyway
    (its user is refused by every service)."""

    def close() -> None:
        try:
            fanout.sign_out(user_id)
        except Exception:
            log.warning("sockets of user %s not closed", user_id, exc_info=True)

    transaction.on_commit(close)


def publish(stream, type: str, data: dict[str, Any]) -> None:
    """Announce an event to everyone watching the live, once the current transaction (if
    any) has committed. `stream` is a Stream or its id."""
    stream_id = getattr(stream, "pk", stream)
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown live event type {type!r}")
    transaction.on_commit(lambda: send_now(stream_id, type, data))


async def asend_now(stream_id: int, type: str, data: dict[str, Any]) -> None:
    """send_now for code already on the event loop (the per-process tick)."""
    from asgiref.sync import sync_to_async

    try:
        text = await sync_to_async(envelope, thread_sensitive=False)(stream_id, type, data)
        await fanout.apublish(stream_id, [text])
    except Exception:
        log.warning("live event %s for stream %s not delivered", type, stream_id, exc_info=True)
