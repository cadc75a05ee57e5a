"""Reads for shops and the catalog, each with the joins its page or API needs so that a
list costs the same few queries whatever its length."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User

from .models import Product, ProductImage, Shop, Variant

# The full-text expression; the GIN index of migration 0002 is built on exactly this.
SEARCH_CONFIG = "english"
SEARCH_VECTOR = SearchVector("search_document", config=SEARCH_CONFIG)


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def shops_public() -> QuerySet[Shop]:
    return Shop.objects.filter(status=Shop.Status.APPROVED).select_related("owner").order_by("name")


def shop_get_public(*, handle: str) -> Shop:
    return get_object_or_404(shops_public(), handle=handle.lower())


def shop_public_of(*, user: User) -> Shop | None:
    """The approved shop a profile shows in its Shop tab, if any."""
    return shops_public().filter(owner=user).first()


def shop_for_owner(*, user: User) -> Shop | None:
    if not user.is_authenticated:
        return None
    return Shop.objects.filter(owner=user).first()


def _with_media(qs: QuerySet[Product], *, all_images: bool = False) -> QuerySet[Product]:
    """Products with their variants and images in two more queries. The public sees ready
    images only; the owner also sees the ones waiting to be fetched or that failed."""
    images = ProductImage.objects.all()
    if not all_images:
        images = images.filter(state=ProductImage.State.READY)
    return qs.select_related("shop", "category").prefetch_related(
        Prefetch("images", queryset=images),
        Prefetch("variants", queryset=Variant.objects.order_by("position", "pk")),
    )


def products_search(qs: QuerySet[Product], q: str) -> QuerySet[Product]:
    """Words in the title, description, tags, vendor or type. PostgreSQL: full-text search
    with stemming, best match first. SQLite: every word as a substring."""
    q = " ".join(q.split())[:200]
    if not q:
        return qs
    if _on_postgres():
        query = SearchQuery(q, config=SEARCH_CONFIG, search_type="websearch")
        return (
            qs.annotate(search=SEARCH_VECTOR)
            .filter(search=query)
            .annotate(rank=SearchRank(SEARCH_VECTOR, query))
            .order_by("-rank", "-created_at")
        )
    for word in q.lower().split():
        qs = qs.filter(search_document__contains=word)
    return qs


def products_public(
    *,
    q: str = "",
    shop: str = "",
    category: str = "",
    min_price: int | None = None,
    max_price: int | None = None,
) -> QuerySet[Product]:
    """Active products of approved shops, newest first (best match first when searching)."""
    qs = Product.objects.filter(status=Product.Status.ACTIVE, shop__status=Shop.Status.APPROVED)
    if shop:
        qs = qs.filter(shop__handle=shop.lower())
    if category:
        qs = qs.filter(category__slug=category)
    if min_price is not None:
        qs = qs.filter(price_minor__gte=min_price)
    if max_price is not None:
        qs = qs.filter(price_minor__lte=max_price)
    qs = qs.order_by("-created_at", "-pk")
    return _with_media(products_search(qs, q))


def product_get_public(*, pk: int) -> Product:
    return get_object_or_404(
        _with_media(
            Product.objects.filter(status=Product.Status.ACTIVE, shop__status=Shop.Status.APPROVED)
        ),
        pk=pk,
    )


# --- the merchant's own rows: anything else is a 404, so ids cannot be guessed ---------------


def seller_products(
    *, shop: Shop, q: str = "", status: str = "", low_stock: bool = False
) -> QuerySet[Product]:
    qs = Product.objects.filter(shop=shop).order_by("-updated_at", "-pk")
    if status in Product.Status.values:
        qs = qs.filter(status=status)
    if low_stock:
        qs = qs.filter(variants__stock__lte=settings.LOW_STOCK_THRESHOLD).distinct()
    return _with_media(products_search(qs, q))


def seller_product_get(*, shop: Shop, pk: int) -> Product:
    return get_object_or_404(_with_media(Product.objects.filter(shop=shop), all_images=True), pk=pk)


def seller_variant_get(*, shop: Shop, pk: int) -> Variant:
    return get_object_or_404(Variant.objects.select_related("product__shop"), pk=pk, shop=shop)


def seller_image_get(*, shop: Shop, pk: int) -> ProductImage:
    return get_object_or_404(
        ProductImage.objects.select_related("product__shop"), pk=pk, product__shop=shop
    )


def low_stock_variants(*, shop: Shop, threshold: int | None = None) -> QuerySet[Variant]:
    limit = settings.LOW_STOCK_THRESHOLD if threshold is None else threshold
    return (
        Variant.objects.filter(shop=shop, stock__lte=limit)
        .exclude(product__status=Product.Status.ARCHIVED)
        .select_related("product")
        .order_by("stock", "product__title", "position")
    )
