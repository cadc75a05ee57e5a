"""Reads for lives: the feed, a live, the host's lives, the replay's carousel history."""

from __future__ import annotations

from django.db.models import Case, Exists, IntegerField, OuterRef, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Follow, User
from accounts.permissions import staff_can
from shops.models import Product, Shop

from .models import CarouselEvent, CarouselItem, Deal, Reminder, Stream


def _base() -> QuerySet[Stream]:
    return Stream.objects.select_related("host")


def feed_live(*, viewer: User | None = None) -> QuerySet[Stream]:
    """Lives on air: followed hosts first, then by peak viewers and recency."""
    qs = _base().filter(status=Stream.Status.LIVE)
    if viewer is not None and viewer.is_authenticated:
        qs = qs.annotate(
            followed=Exists(Follow.objects.filter(follower=viewer, followee=OuterRef("host_id")))
        ).order_by("-followed", "-peak_viewers", "-started_at")
    else:
        qs = qs.order_by("-peak_viewers", "-started_at")
    return qs


def feed_upcoming(*, viewer: User | None = None) -> QuerySet[Stream]:
    qs = (
        _base()
        .filter(
            status=Stream.Status.SCHEDULED,
            scheduled_at__gte=timezone.now() - timezone.timedelta(hours=1),
        )
        .order_by("scheduled_at")
    )
    if viewer is not None and viewer.is_authenticated:
        qs = qs.annotate(
            reminded=Exists(Reminder.objects.filter(user=viewer, stream=OuterRef("pk")))
        )
    else:
        qs = qs.annotate(reminded=Value(False))
    return qs


def feed_replays() -> QuerySet[Stream]:
    return _base().filter(status=Stream.Status.ENDED).order_by("-ended_at")


def streams_list(*, status: str = "") -> QuerySet[Stream]:
    """Lives viewers may open (as stream_get): a cancelled one is listed to nobody."""
    qs = _base().exclude(status=Stream.Status.CANCELLED)
    if status in Stream.Status.values:
        qs = qs.filter(status=status)
    order = Case(When(status=Stream.Status.LIVE, then=0), default=1, output_field=IntegerField())
    return qs.order_by(order, "-started_at", "-scheduled_at", "-pk")


def stream_get(*, pk: int) -> Stream:
    """A live that viewers may open: scheduled, on air or ended (a replay)."""
    return get_object_or_404(_base().exclude(status=Stream.Status.CANCELLED), pk=pk)


def host_streams(*, host: User) -> QuerySet[Stream]:
    return _base().filter(host=host).order_by("-created_at")


def host_stream_get(*, host: User, pk: int) -> Stream:
    """The host's own live (staff reach any): anything else is a 404."""
    qs = _base() if staff_can(host, "end_live") else _base().filter(host=host)
    return get_object_or_404(qs, pk=pk)


def carousel_history(*, stream: Stream) -> list[dict]:
    """Which product was pinned when, as offsets from the start of the live, for the
    replay: [{"product", "title", "from", "to"}] in seconds."""
    start = stream.started_at or stream.created_at
    end = stream.ended_at or timezone.now()
    pins, open_pin = [], None
    qs = (
        CarouselEvent.objects.filter(stream=stream, kind__in=["pinned", "unpinned"])
        # Nothing staff took down, or of a suspended shop, is offered in a replay.
        .exclude(product__status=Product.Status.TAKEN_DOWN)
        .exclude(product__shop__status=Shop.Status.SUSPENDED)
        .select_related("product")
    )
    for event in qs:
        offset = max(0, int((event.created_at - start).total_seconds()))
        if event.kind == "pinned":
            if open_pin is not None:
                open_pin["to"] = offset
                pins.append(open_pin)
            open_pin = {
                "product": event.product_id,
                "title": event.product.title,
                "url": event.product.get_absolute_url(),
                "from": offset,
                "to": None,
            }
        elif open_pin is not None and open_pin["product"] == event.product_id:
            open_pin["to"] = offset
            pins.append(open_pin)
            open_pin = None
    if open_pin is not None:
        open_pin["to"] = max(open_pin["from"], int((end - start).total_seconds()))
        pins.append(open_pin)
    return pins


def carousel_order(*, stream: Stream) -> list[int]:
    """The carousel's product ids in the host's order."""
    return list(
        CarouselItem.objects.filter(stream=stream)
        .order_by("position", "pk")
        .values_list("product_id", flat=True)
    )


def deal_running(*, stream_id: int | None, product_id: int) -> Deal | None:
    """The live's flash deal on this product while it runs (its time not yet up)."""
    if stream_id is None:
        return None
    return Deal.objects.filter(
        stream_id=stream_id,
        product_id=product_id,
        status=Deal.Status.ACTIVE,
        ends_at__gt=timezone.now(),
    ).first()
