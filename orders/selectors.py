"""Reads for orders: every query scoped to the buyer or the shop asking, with the related
rows a page or an API list needs fetched in a constant number of queries."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from shops.models import ProductImage

from .models import Address, BagItem, Order, OrderLine


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
