"""Reads for orders: every query scoped to the buyer or the shop asking, with the related
rows a page or an API list needs fetched in a constant number of queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Max,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from accounts.models import User
from shops.models import ProductImage, Shop
from streams.models import Stream

from .models import Address, BagItem, Order, OrderEvent, OrderLine, Refund


def _with_lines(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.select_related("shop", "stream").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("pk"))
    )


def orders_for_buyer(*, buyer: User, status: str = "") -> QuerySet[Order]:
    """The buyer's orders, newest first, with their shop and lines."""
    queryset = Order.objects.filter(buyer=buyer)
    if status:
        queryset = queryset.filter(status=status)
    return _with_lines(queryset).order_by("-placed_at", "-pk")


def order_for_buyer(*, buyer: User, order_id: int) -> Order | None:
    """One of the buyer's orders with its lines and history; None for anyone else's."""
    return (
        _with_lines(Order.objects.filter(buyer=buyer, pk=order_id))
        .prefetch_related("events", "refunds")
        .first()
    )


def addresses_for(*, user: User) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by("-is_default", "-created_at", "-pk")


def bag_for(*, user: User) -> list[BagItem]:
    """The bag's lines with their variant, product, shop and first picture, grouped by
    shop in the order they were added."""
    items = list(
        BagItem.objects.filter(user=user)
        .select_related("variant__product__shop")
        .prefetch_related(
            Prefetch(
                "variant__product__images",
                queryset=ProductImage.objects.filter(state=ProductImage.State.READY),
            )
        )
        .order_by("variant__product__shop_id", "added_at", "pk")
    )
    return items


# --- the merchant center ----------------------------------------------------------------------

# The orders that count as sold in the merchant's figures: paid, whatever happened after,
# except a cancellation (which gave all the money back). Refunds are subtracted.
SOLD_STATUSES = (
    Order.Status.PAID,
    Order.Status.SHIPPED,
    Order.Status.DELIVERED,
    Order.Status.REFUND_REQUESTED,
    Order.Status.REFUNDED,
    Order.Status.REFUND_REJECTED,
)

# TB00000012, tb12, #12 or 12: an order's reference or number.
_REFERENCE = re.compile(r"^#?(?:TB)?0*(\d{1,12})$", re.IGNORECASE)


def seller_orders(
    *,
    shop: Shop,
    status: str = "",
    stream_id: int | None = None,
    q: str = "",
    placed_from: date | None = None,
    placed_to: date | None = None,
) -> QuerySet[Order]:
    """The shop's orders, newest first, with their buyer, live and lines. q is an order's
    reference (or number) or a buyer's handle; the dates are inclusive days in the current
    time zone."""
    queryset = Order.objects.filter(shop=shop)
    if status:
        queryset = queryset.filter(status=status)
    if stream_id is not None:
        queryset = queryset.filter(stream_id=stream_id)
    q = q.strip()
    if q:
        handle = q.removeprefix("@").lower()
        match = _REFERENCE.match(q)
        if match:
            queryset = queryset.filter(Q(pk=int(match[1])) | Q(buyer__handle=handle))
        else:
            queryset = queryset.filter(buyer__handle__icontains=handle)
    if placed_from is not None:
        queryset = queryset.filter(placed_at__date__gte=placed_from)
    if placed_to is not None:
        queryset = queryset.filter(placed_at__date__lte=placed_to)
    return (
        queryset.select_related("buyer", "stream")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
        .order_by("-placed_at", "-pk")
    )


def seller_order_get(*, shop: Shop, order_id: int) -> Order | None:
    """One of the shop's orders with its lines, history and refunds; None for another
    shop's order (the page answers 404 either way)."""
    return (
        Order.objects.filter(shop=shop, pk=order_id)
        .select_related("buyer", "stream__host", "creator")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor")),
            Prefetch("refunds", queryset=Refund.objects.select_related("requested_by")),
        )
        .first()
    )


def seller_lives(*, shop: Shop) -> QuerySet[Stream]:
    """The lives that sold this shop's products (the owner's own and creators' lives with
    sold orders of the shop) and every live the owner hosted, newest first."""
    sold_in = Order.objects.filter(
        shop=shop, status__in=SOLD_STATUSES, stream__isnull=False
    ).values("stream_id")
    return (
        Stream.objects.filter(Q(host_id=shop.owner_id) | Q(pk__in=sold_in))
        .select_related("host")
        .order_by(F("started_at").desc(nulls_last=True), "-scheduled_at", "-pk")
    )


def seller_live_get(*, shop: Shop, stream_id: int) -> Stream | None:
    return seller_lives(shop=shop).filter(pk=stream_id).first()


@dataclass(frozen=True)
class LiveFigures:
    """What one live sold for one shop. Money in the shop's currency, minor units."""

    stream: Stream
    gmv_minor: int = 0
    orders: int = 0
    buyers: int = 0
    units: int = 0
    commission_minor: int = 0

    @property
    def peak_viewers(self) -> int:
        return self.stream.peak_viewers

    @property
    def conversion_percent(self) -> Decimal | None:
        """Buyers per hundred viewers at the peak, one decimal; None with no viewers."""
        if not self.peak_viewers:
            return None
        return (Decimal(self.buyers * 100) / Decimal(self.peak_viewers)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )


def _line_net_units():
    return F("quantity") - F("refunded_quantity")


def _line_net_minor():
    return ExpressionWrapper(
        F("unit_price_minor") * F("quantity") - F("refunded_minor"),
        output_field=BigIntegerField(),
    )


def _line_commission_minor():
    # The ledger posts each line's affiliate share rounded down when paid and reverses the
    # rounded-down share of what was refunded: the same sum here, to the cent.
    return ExpressionWrapper(
        F("unit_price_minor") * F("quantity") * F("affiliate_rate_bp") / 10_000
        - F("refunded_minor") * F("affiliate_rate_bp") / 10_000,
        output_field=BigIntegerField(),
    )


def seller_live_figures(*, shop: Shop, streams: list[Stream]) -> list[LiveFigures]:
    """The shop's figures for each of these lives, in their order, in two queries
    whatever their number: GMV (sold orders' totals less refunds), orders, distinct
    buyers, units kept and the affiliate commission the live's host earned."""
    ids = [stream.pk for stream in streams]
    by_order = {
        row["stream_id"]: row
        for row in Order.objects.filter(shop=shop, stream_id__in=ids, status__in=SOLD_STATUSES)
        .values("stream_id")
        .annotate(
            gmv=Sum(F("total_minor") - F("refunded_minor")),
            orders=Count("pk"),
            buyers=Count("buyer_id", distinct=True),
        )
        .order_by()
    }
    by_line = {
        row["order__stream_id"]: row
        for row in OrderLine.objects.filter(
            order__shop=shop, order__stream_id__in=ids, order__status__in=SOLD_STATUSES
        )
        .values("order__stream_id")
        .annotate(
            units=Sum(_line_net_units()),
            commission=Sum(
                Case(
                    When(order__creator__isnull=False, then=_line_commission_minor()),
                    default=Value(0),
                    output_field=BigIntegerField(),
                )
            ),
        )
        .order_by()
    }
    figures = []
    for stream in streams:
        orders = by_order.get(stream.pk, {})
        lines = by_line.get(stream.pk, {})
        figures.append(
            LiveFigures(
                stream=stream,
                gmv_minor=orders.get("gmv") or 0,
                orders=orders.get("orders") or 0,
                buyers=orders.get("buyers") or 0,
                units=lines.get("units") or 0,
                commission_minor=lines.get("commission") or 0,
            )
        )
    return figures


TOP_PRODUCTS_ORDER = {
    "units": ("-units", "-revenue_minor", "product_id"),
    "revenue": ("-revenue_minor", "-units", "product_id"),
}


def seller_live_top_products(
    *, shop: Shop, stream_id: int, by: str = "units", limit: int = 10
) -> list[dict]:
    """The shop's best sellers in one live, in one query: [{product_id, title, units,
    revenue_minor}] by units kept (sold less refunded) or by revenue kept."""
    return list(
        OrderLine.objects.filter(
            order__shop=shop, order__stream_id=stream_id, order__status__in=SOLD_STATUSES
        )
        .values("product_id")
        .annotate(
            title=Max("product__title"),
            units=Sum(_line_net_units()),
            revenue_minor=Sum(_line_net_minor()),
        )
        .filter(units__gt=0)
        .order_by(*TOP_PRODUCTS_ORDER.get(by, TOP_PRODUCTS_ORDER["units"]))[:limit]
    )
