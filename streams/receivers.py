from shops.models import Variant

from . import events
from .models import CarouselItem, Stream


def announce_stock_in_lives(sender, product_ids, **kwargs):
    """Tell the viewers of every live that shows these products how many are left."""
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
    for stream_id, product_id in lives:
        events.send_now(
            stream_id, "stock.changed", {"product": product_id, "stock": stock.get(product_id, 0)}
        )
