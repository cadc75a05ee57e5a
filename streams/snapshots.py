"""What viewers see, as plain data: used by the snapshot a new viewer gets first and by
the events that update it, so that both always have the same shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch, Sum

from shops.models import Product, ProductImage, Shop

from . import realtime
from .models import CarouselItem, ChatMessage, Deal, Stream

CHAT_LINES = 30


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def stream_state(stream: Stream) -> dict:
    return {
        "id": stream.pk,
        "status": stream.status,
        "title": stream.title,
        "host": {"handle": stream.host.handle, "name": stream.host.name}
        if stream.host_id
        else None,
        "playback_url": stream.playback_url,
        "started_at": _iso(stream.started_at),
        "ended_at": _iso(stream.ended_at),
        "scheduled_at": _iso(stream.scheduled_at),
        "slow_mode_seconds": stream.slow_mode_seconds,
    }


def carousel(stream_id: int) -> list[dict]:
    """The carousel, pinned product first, each with its price, stock left and picture.
    Three queries whatever its length."""
    items = (
        CarouselItem.objects.filter(stream_id=stream_id)
        # A replay's carousel keeps what the live showed, less what staff removed.
        .exclude(product__status=Product.Status.TAKEN_DOWN)
        .exclude(product__shop__status=Shop.Status.SUSPENDED)
        .select_related("product__shop")
        .annotate(stock=Sum("product__variants__stock"))
        .prefetch_related(
            Prefetch(
                "product__images",
                queryset=ProductImage.objects.filter(state=ProductImage.State.READY),
            )
        )
        .order_by("-pinned", "position", "pk")
    )
    result = []
    for item in items:
        product = item.product
        image = next(iter(product.images.all()), None)
        result.append(
            {
                "product": product.pk,
                "title": product.title,
                "shop": product.shop.name,
                "price": product.price_minor,
                "compare_at_price": product.compare_at_minor,
                "currency": product.currency,
                "stock": item.stock or 0,
                "image": image.thumb.url if image and image.thumb else None,
                "image_medium": image.medium.url if image and image.medium else None,
                "url": product.get_absolute_url(),
                "external_url": product.external_url,
                "pinned": item.pinned,
            }
        )
    return result


def deal(deal: Deal | None) -> dict | None:
    if deal is None:
        return None
    return {
        "id": deal.pk,
        "product": deal.product_id,
        "price": deal.price_minor,
        "quantity": deal.quantity,
        "remaining": deal.remaining,
        "ends_at": _iso(deal.ends_at),
        "status": deal.status,
        "ended_reason": deal.ended_reason,
    }


def chat_line(message: ChatMessage, user) -> dict:
    return {
        "id": message.pk,
        "user": {"handle": user.handle, "name": user.name},
        "text": message.text,
        "ts": _iso(message.created_at),
    }


def recent_chat(stream_id: int, limit: int = CHAT_LINES) -> list[dict]:
    lines = (
        ChatMessage.objects.filter(stream_id=stream_id, hidden=False)
        .select_related("user")
        .order_by("-created_at", "-pk")[:limit]
    )
    return [chat_line(m, m.user) for m in reversed(list(lines))]


# Parts of the snapshot that apps above streams own (gifting's top gifters), by key: each
# a function of the stream id returning plain data. Registered in those apps' ready().
EXTRA_PARTS: dict[str, Callable[[int], Any]] = {}


def register_part(key: str, build: Callable[[int], Any]) -> None:
    """Let a higher app add `key` to every snapshot (streams never imports it)."""
    EXTRA_PARTS[key] = build


def full(stream: Stream, *, viewers: int | None = None) -> dict:
    """Everything a new viewer needs, with the seq it is current as of. The seq is read
    first: an event published while this is built has a higher seq and reaches the viewer
    too, so nothing falls between the snapshot and the stream of events."""
    seq = realtime.current_seq(stream.pk)
    active = Deal.objects.filter(stream=stream, status=Deal.Status.ACTIVE).first()
    return {
        "seq": seq,
        "stream": stream_state(stream),
        "carousel": carousel(stream.pk),
        "deal": deal(active),
        "viewers": {"now": viewers if viewers is not None else 0, "peak": stream.peak_viewers},
        "likes": stream.likes_count,
        "chat": recent_chat(stream.pk),
        **{key: build(stream.pk) for key, build in EXTRA_PARTS.items()},
    }
