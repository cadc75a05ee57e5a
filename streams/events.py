"""The one way anything sends to a live: publish(stream, type, data).

It runs after the surrounding transaction commits (a rolled-back pin or an unpaid order is
never announced), stamps the live's next seq, serializes the envelope once and hands it to
the channel layer's group of the live. A Redis outage loses the event, not the request:
clients that see a gap in seq resync from the snapshot.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from . import realtime

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


def group_name(stream_id: int) -> str:
    return f"live.{stream_id}"


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
        text = envelope(stream_id, type, data)
        async_to_sync(get_channel_layer().group_send)(
            group_name(stream_id), {"type": "live.event", "text": text}
        )
    except Exception:
        log.warning("live event %s for stream %s not delivered", type, stream_id, exc_info=True)


def send_many(stream_id: int, type: str, items: list[dict[str, Any]]) -> None:
    """send_now for many events of one type to one live, in order: their seqs taken in one
    round trip and the group sends made from one trip to the event loop. Never raises."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown live event type {type!r}")
    if not items:
        return
    try:
        seqs = realtime.next_seqs(stream_id, len(items))
        texts = [
            envelope(stream_id, type, data, seq=seq) for seq, data in zip(seqs, items, strict=True)
        ]

        async def send_all():
            layer = get_channel_layer()
            for text in texts:
                await layer.group_send(group_name(stream_id), {"type": "live.event", "text": text})

        async_to_sync(send_all)()
    except Exception:
        log.warning("%d live events %s for stream %s not delivered", len(items), type, stream_id)


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
        await get_channel_layer().group_send(
            group_name(stream_id), {"type": "live.event", "text": text}
        )
    except Exception:
        log.warning("live event %s for stream %s not delivered", type, stream_id, exc_info=True)
