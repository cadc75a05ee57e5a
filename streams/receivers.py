from shops.models import Variant

from . import events, snapshots
from .models import CarouselItem, Deal, Stream


def announce_stock_in_lives(sender, product_ids, **kwargs):
    """Tell the viewers of every live that shows these products how many are left, and
    how many units its running deal has left when the deal is on one of them."""
    lives = CarouselItem.objects.filter(
        product_id__in=product_ids, stream__status=Stream.Status.LIVE
    ).values_list("stream_id", "product_id")
    if not lives:
        return
    stock: dict[int, int] = {}
    for product_id, count in Variant.objects.filter(product_id__in=product_ids).values_list(
        "product_id", "stock"
    ):
        stock[product_id] = stock.get(product_id, 0) + count
    deals = {
        (deal.stream_id, deal.product_id): deal
        for deal in Deal.objects.filter(
            stream_id__in={stream_id for stream_id, _ in lives},
            product_id__in=product_ids,
            status=Deal.Status.ACTIVE,
        )
    }
    for stream_id, product_id in lives:
        data = {"product": product_id, "stock": stock.get(product_id, 0)}
        deal = deals.get((stream_id, product_id))
        if deal is not None:
            data["deal"] = snapshots.deal(deal)
        events.send_now(stream_id, "stock.changed", data)
