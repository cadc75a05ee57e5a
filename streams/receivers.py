import logging

from shops.models import Variant

from . import events, realtime, snapshots
from .models import CarouselItem, Deal, Stream

log = logging.getLogger(__name__)


def announce_stock_in_lives(sender, product_ids, **kwargs):
    """Tell the viewers of every live that shows these products how many are left, and
    how many units its running deal has left when the deal is on one of them.

    The events' seqs are taken before the stock is read. Two orders committing at once
    each announce; whichever takes the later seq reads after the other's commit, so the
    event a viewer applies last (the highest seq) never shows the older figure. Read first
    and numbered after, the slower reader's stale figure could come last and stay."""
    lives = list(
        CarouselItem.objects.filter(
            product_id__in=product_ids, stream__status=Stream.Status.LIVE
        ).values_list("stream_id", "product_id")
    )
    if not lives:
        return
    by_stream: dict[int, list[int]] = {}
    for stream_id, product_id in lives:
        by_stream.setdefault(stream_id, []).append(product_id)
    seqs = {}
    for stream_id, products in by_stream.items():
        try:
            seqs[stream_id] = realtime.next_seqs(stream_id, len(products))
        except Exception:
            # Redis is down: these events are lost as any event is then; viewers get a
            # snapshot once the workers are subscribed again.
            log.warning("stock events for stream %s not delivered", stream_id, exc_info=True)
    if not seqs:
        return
    stock: dict[int, int] = {}
    for product_id, count in Variant.objects.filter(product_id__in=product_ids).values_list(
        "product_id", "stock"
    ):
        stock[product_id] = stock.get(product_id, 0) + count
    deals = {
        (deal.stream_id, deal.product_id): deal
        for deal in Deal.objects.filter(
            stream_id__in=seqs, product_id__in=product_ids, status=Deal.Status.ACTIVE
        )
    }
    for stream_id, numbers in seqs.items():
        items = []
        for product_id in by_stream[stream_id]:
            data = {"product": product_id, "stock": stock.get(product_id, 0)}
            deal = deals.get((stream_id, product_id))
            if deal is not None:
                data["deal"] = snapshots.deal(deal)
            items.append(data)
        events.send_numbered(stream_id, "stock.changed", items, numbers)
