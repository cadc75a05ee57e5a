"""Writes for shops and the catalog. Every function checks that the actor owns what it
changes; the selectors scope reads so that nobody can reach another merchant's rows by id."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min, ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from accounts.errors import InvalidImage
from accounts.images import image_renditions
from accounts.models import User

from .errors import (
    DuplicateSku,
    InvalidProduct,
    InvalidTransition,
    NeedsBusinessAccount,
    NotYourShop,
    ProductTakenDown,
    ShopAlreadyOpen,
    TooManyImages,
)
from .models import SHOP_TRANSITIONS, Product, ProductImage, Shop, ShopEvent, Variant
from .signals import stock_changed
from .text import normalize_tags, render_description, search_document

SHOP_FIELDS = {"name", "description", "return_policy"}
PRODUCT_FIELDS = {
    "title",
    "description",
    "category",
    "vendor",
    "product_type",
    "tags",
    "status",
    "compare_at_minor",
    "affiliate_rate_bp",
    "external_url",
    "option1_name",
    "option2_name",
    "option3_name",
}
VARIANT_FIELDS = {
    "sku",
    "option1",
    "option2",
    "option3",
    "price_minor",
    "compare_at_minor",
    "stock",
    "grams",
    "barcode",
    "position",
}


# --- shops ----------------------------------------------------------------------------------


def _check_owner(shop: Shop, actor: User) -> None:
    if shop.owner_id != actor.pk:
        raise NotYourShop()


def _logo(upload) -> Any:
    (rendition,) = image_renditions(
        upload=upload,
        widths=(320,),
        max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES,
        max_pixels=settings.PRODUCT_IMAGE_MAX_PIXELS,
        square=True,
    )
    return rendition.content


def shop_open(
    *,
    owner: User,
    name: str,
    handle: str,
    description: str = "",
    return_policy: str = "",
    logo=None,
    currency: str | None = None,
) -> Shop:
    """Open a shop for a business account. It starts pending: staff approve it before
    it is public or sells. The caller holds no locks."""
    if not owner.is_business:
        raise NeedsBusinessAccount()
    logo_content = _logo(logo) if logo is not None else None  # validate before writing
    shop = Shop(
        owner=owner,
        name=name.strip(),
        handle=handle.strip().lower(),
        description=description.strip(),
        return_policy=return_policy.strip(),
        currency=currency or settings.TAPBUY_CURRENCY,
    )
    try:
        with transaction.atomic():
            if logo_content is not None:
                shop.logo.save(f"{shop.handle}.webp", logo_content, save=False)
            shop.save()
            ShopEvent.objects.create(shop=shop, from_status="", to_status=shop.status, actor=owner)
    except IntegrityError:
        if Shop.objects.filter(owner=owner).exists():
            raise ShopAlreadyOpen() from None
        raise InvalidProduct(fields={"handle": ["That shop handle is taken."]}) from None
    return shop


def shop_update(*, shop: Shop, actor: User, logo=None, **fields) -> Shop:
    """Change a shop's profile. A rejected shop that is edited goes back to the queue."""
    _check_owner(shop, actor)
    unknown = set(fields) - SHOP_FIELDS
    if unknown:
        raise ValueError(f"not shop fields: {sorted(unknown)}")
    logo_content = _logo(logo) if logo is not None else None
    for key, value in fields.items():
        setattr(shop, key, value.strip())
    with transaction.atomic():
        if logo_content is not None:
            shop.logo.save(f"{shop.handle}.webp", logo_content, save=False)
        shop.save(update_fields=[*fields, *(["logo"] if logo_content is not None else [])])
        if shop.status == Shop.Status.REJECTED:
            shop_transition(
                shop_id=shop.pk,
                to=Shop.Status.PENDING,
                actor=actor,
                reason="Edited by the merchant",
            )
            shop.status = Shop.Status.PENDING
    return shop


def shop_transition(*, shop_id: int, to: str, actor: User | None, reason: str = "") -> None:
    """Move a shop along SHOP_TRANSITIONS as a compare-and-set, and log it. Two staff
    approving at once: one wins, the other gets InvalidTransition."""
    sources = [s for s, targets in SHOP_TRANSITIONS.items() if to in targets]
    with transaction.atomic():
        current = Shop.objects.filter(pk=shop_id).values_list("status", flat=True).first()
        changes = {"status": to, "status_reason": reason[:500]}
        if to == Shop.Status.APPROVED:
            changes["approved_at"] = timezone.now()
        if current not in sources or not Shop.objects.filter(pk=shop_id, status=current).update(
            **changes
        ):
            raise InvalidTransition(f"A {current} shop cannot become {to}.")
        ShopEvent.objects.create(
            shop_id=shop_id, from_status=current, to_status=to, actor=actor, reason=reason[:500]
        )


def shop_approve(*, shop_id: int, actor: User | None, reason: str = "") -> None:
    shop_transition(shop_id=shop_id, to=Shop.Status.APPROVED, actor=actor, reason=reason)


def shop_reject(*, shop_id: int, actor: User, reason: str) -> None:
    shop_transition(shop_id=shop_id, to=Shop.Status.REJECTED, actor=actor, reason=reason)


# --- products -------------------------------------------------------------------------------


def _unique_handle(shop: Shop, title: str, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:100] or "product"
    taken = set(
        Product.objects.filter(shop=shop, handle__startswith=base)
        .exclude(pk=exclude_pk)
        .values_list("handle", flat=True)
    )
    handle, n = base, 2
    while handle in taken:
        handle, n = f"{base}-{n}", n + 1
    return handle


def _validate_product(product: Product) -> None:
    _validate_product_fields(product, check_status=True)


def _validate_product_fields(product: Product, *, check_status: bool = False) -> None:
    errors: dict[str, list[str]] = {}
    if not product.title.strip():
        errors["title"] = ["A product needs a title."]
    if not 0 <= product.affiliate_rate_bp <= 5000:
        errors["affiliate_rate_bp"] = ["The affiliate rate is between 0 and 5000 (50 %)."]
    if product.compare_at_minor is not None and product.compare_at_minor < 0:
        errors["compare_at_minor"] = ["A price cannot be negative."]
    if check_status and product.status not in Product.SELLER_STATUSES:
        errors["status"] = [f"Use one of {', '.join(Product.SELLER_STATUSES)}."]
    if errors:
        raise InvalidProduct(fields=errors)


def _validate_variant(data: dict, field_prefix: str = "") -> None:
    errors: dict[str, list[str]] = {}
    price = data.get("price_minor")
    if price is None or not isinstance(price, int) or price < 0:
        errors[f"{field_prefix}price_minor"] = ["A price is a whole number of cents, 0 or more."]
    stock = data.get("stock", 0)
    if not isinstance(stock, int) or stock < 0:
        errors[f"{field_prefix}stock"] = ["Stock is a whole number, 0 or more."]
    compare_at = data.get("compare_at_minor")
    if compare_at is not None and (not isinstance(compare_at, int) or compare_at < 0):
        errors[f"{field_prefix}compare_at_minor"] = ["A price cannot be negative."]
    if errors:
        raise InvalidProduct(fields=errors)


def _refresh_product(product_id: int) -> None:
    """Keep the product's from-price and search document in step with its rows."""
    product = Product.objects.get(pk=product_id)
    low = Variant.objects.filter(product_id=product_id).aggregate(low=Min("price_minor"))["low"]
    product.price_minor = low or 0
    product.description_html = render_description(product.description)
    product.search_document = search_document(
        title=product.title,
        description_html=product.description_html,
        tags=product.tags,
        vendor=product.vendor,
        product_type=product.product_type,
    )
    product.save(update_fields=["price_minor", "description_html", "search_document"])


def _save_variants(product: Product, variants: list[dict]) -> None:
    for index, data in enumerate(variants):
        _validate_variant(data, field_prefix=f"variants.{index}.")
    skus = [v.get("sku", "").strip() for v in variants if v.get("sku", "").strip()]
    dupes = {s for s in skus if skus.count(s) > 1}
    if dupes:
        raise DuplicateSku(sorted(dupes)[0])
    for index, data in enumerate(variants, start=1):
        variant = Variant(product=product, shop_id=product.shop_id, position=index)
        for key in VARIANT_FIELDS & set(data):
            value = data[key]
            setattr(variant, key, value.strip() if isinstance(value, str) else value)
        try:
            with transaction.atomic():
                variant.save()
        except IntegrityError:
            if (
                variant.sku
                and Variant.objects.filter(shop_id=product.shop_id, sku=variant.sku).exists()
            ):
                raise DuplicateSku(variant.sku) from None
            raise InvalidProduct(
                fields={"variants": ["Two variants cannot have the same options."]}
            ) from None


def product_create(
    *,
    shop: Shop,
    actor: User,
    title: str,
    variants: list[dict] | None = None,
    handle: str = "",
    **fields,
) -> Product:
    """Create a product with its variants (one default variant when none are given: a
    product without options). Prices are integers in the shop's minor units."""
    _check_owner(shop, actor)
    unknown = set(fields) - PRODUCT_FIELDS - {"price_minor", "stock", "sku"}
    if unknown:
        raise ValueError(f"not product fields: {sorted(unknown)}")
    default_variant = {
        "price_minor": fields.pop("price_minor", None),
        "stock": fields.pop("stock", 0),
        "sku": fields.pop("sku", ""),
        "compare_at_minor": fields.get("compare_at_minor"),
    }
    variants = variants or [default_variant]
    product = Product(shop=shop, title=title.strip(), currency=shop.currency, **fields)
    product.tags = normalize_tags(product.tags)
    _validate_product(product)
    with transaction.atomic():
        product.handle = slugify(handle)[:120] if handle else _unique_handle(shop, title)
        try:
            with transaction.atomic():
                product.save()
        except IntegrityError:
            raise InvalidProduct(
                fields={"handle": ["That handle is used by another product."]}
            ) from None
        _save_variants(product, variants)
        _refresh_product(product.pk)
    product.refresh_from_db()
    return product


def product_update(*, product: Product, actor: User, **fields) -> Product:
    """Change a product's fields. A product taken down by staff keeps that status: the
    merchant may still edit the rest; another status raises ProductTakenDown."""
    _check_owner(product.shop, actor)
    unknown = set(fields) - PRODUCT_FIELDS
    if unknown:
        raise ValueError(f"not product fields: {sorted(unknown)}")
    with transaction.atomic():
        if "status" in fields:
            # Read under the row's lock: a takedown committed meanwhile is seen here, and
            # one that comes next waits for this save.
            current = (
                Product.objects.select_for_update(no_key=True)
                .filter(pk=product.pk)
                .values_list("status", flat=True)
                .first()
            )
            if current == Product.Status.TAKEN_DOWN:
                if fields["status"] != Product.Status.TAKEN_DOWN:
                    raise ProductTakenDown()
                fields = {k: v for k, v in fields.items() if k != "status"}
        for key, value in fields.items():
            setattr(product, key, value.strip() if isinstance(value, str) else value)
        if "tags" in fields:
            product.tags = normalize_tags(product.tags)
        if "status" in fields:
            _validate_product(product)
        else:
            _validate_product_fields(product)
        product.save(update_fields=[*fields, "updated_at"])
        _refresh_product(product.pk)
    product.refresh_from_db()
    return product


def product_save(
    *, product: Product, actor: User, fields: dict, variants: list[tuple[Variant | None, dict]]
) -> Product:
    """Edit a product and its variant rows (None for a new row) in one transaction: a bad
    third row leaves the product and the first two rows as they were. Errors of a row name
    it as variants.<index>.<field>; a duplicate SKU keeps its DuplicateSku."""
    _check_owner(product.shop, actor)
    with transaction.atomic():
        product_update(product=product, actor=actor, **fields)
        for index, (variant, data) in enumerate(variants):
            try:
                if variant is None:
                    variant_add(product=product, actor=actor, **data)
                else:
                    variant_update(variant=variant, actor=actor, **data)
            except DuplicateSku:
                raise
            except InvalidProduct as exc:
                # variant_add names its one row variants.0.<field>; name the real row.
                names = [
                    k.split(".", 2)[-1] if k.startswith("variants.") else k for k in exc.fields
                ]
                raise InvalidProduct(
                    exc.message,
                    fields={
                        f"variants.{index}.{name}": errors
                        for name, errors in zip(names, exc.fields.values(), strict=True)
                    }
                    or {f"variants.{index}.options": [exc.message]},
                ) from None
    product.refresh_from_db()
    return product


def product_archive(*, product: Product, actor: User) -> Product:
    """Products are archived, not deleted: orders keep pointing at their variants."""
    return product_update(product=product, actor=actor, status=Product.Status.ARCHIVED)


def product_take_down(*, product_id: int, reason: str) -> str:
    """Staff take a product down: off every public list and page, not for sale, its status
    out of the merchant's hands until product_restore. Returns the status it had. Raises
    InvalidTransition for a product taken down already."""
    with transaction.atomic():
        before = (
            Product.objects.select_for_update(no_key=True)
            .filter(pk=product_id)
            .values_list("status", flat=True)
            .first()
        )
        if before is None or before == Product.Status.TAKEN_DOWN:
            raise InvalidTransition("This product is taken down already.")
        Product.objects.filter(pk=product_id).update(
            status=Product.Status.TAKEN_DOWN,
            moderation_note=reason[:500],
            updated_at=timezone.now(),
        )
    return before


def product_restore(*, product_id: int, to: str) -> None:
    """Lift a takedown: the product goes back to `to` (the status it had), a merchant's
    status again. Raises InvalidTransition for a product that is not taken down."""
    if to not in Product.SELLER_STATUSES:
        raise ValueError(f"not a merchant's status: {to!r}")
    if not Product.objects.filter(pk=product_id, status=Product.Status.TAKEN_DOWN).update(
        status=to, moderation_note="", updated_at=timezone.now()
    ):
        raise InvalidTransition("Only a product taken down by staff is restored.")


def product_external_click(*, product_id: int) -> None:
    """Count a click through to the merchant's own store (one UPDATE, no read)."""
    Product.objects.filter(pk=product_id).exclude(external_url="").update(
        external_clicks=F("external_clicks") + 1
    )


# --- variants -------------------------------------------------------------------------------


def variant_add(*, product: Product, actor: User, **data) -> Variant:
    _check_owner(product.shop, actor)
    with transaction.atomic():
        position = (product.variants.aggregate(p=Max("position"))["p"] or 0) + 1
        _save_variants(product, [{**data, "position": position}])
        _refresh_product(product.pk)
    return product.variants.get(position=position)


def variant_update(*, variant: Variant, actor: User, **data) -> Variant:
    _check_owner(variant.product.shop, actor)
    unknown = set(data) - VARIANT_FIELDS
    if unknown:
        raise ValueError(f"not variant fields: {sorted(unknown)}")
    merged = {
        "price_minor": variant.price_minor,
        "stock": variant.stock,
        "compare_at_minor": variant.compare_at_minor,
        **data,
    }
    _validate_variant(merged)
    for key, value in data.items():
        setattr(variant, key, value.strip() if isinstance(value, str) else value)
    try:
        with transaction.atomic():
            variant.save(update_fields=list(data))
            _refresh_product(variant.product_id)
            if "stock" in data:
                announce_stock(product_ids=[variant.product_id])
    except IntegrityError:
        if (
            variant.sku
            and Variant.objects.filter(shop_id=variant.shop_id, sku=variant.sku)
            .exclude(pk=variant.pk)
            .exists()
        ):
            raise DuplicateSku(variant.sku) from None
        raise InvalidProduct(
            fields={"options": ["Two variants cannot have the same options."]}
        ) from None
    return variant


def announce_stock(*, product_ids: list[int]) -> None:
    """Send stock_changed for these products once the current transaction commits."""
    ids = sorted(set(product_ids))
    transaction.on_commit(lambda: stock_changed.send(sender=Product, product_ids=ids), robust=True)


def variant_set_stock(*, variant: Variant, actor: User, stock: int) -> Variant:
    """The merchant counts their shelf: set the absolute stock."""
    return variant_update(variant=variant, actor=actor, stock=stock)


def variant_delete(*, variant: Variant, actor: User) -> None:
    _check_owner(variant.product.shop, actor)
    with transaction.atomic():
        if variant.product.variants.count() <= 1:
            raise InvalidProduct("A product keeps at least one variant.")
        try:
            variant.delete()
        except ProtectedError:
            # Orders point at it: it stays, and setting its stock to 0 stops its sales.
            raise InvalidProduct(
                "This variant has been ordered, so it stays; set its stock to 0 instead."
            ) from None
        _refresh_product(variant.product_id)


# --- images ---------------------------------------------------------------------------------


def _renditions(upload) -> list:
    """Validate and re-encode an upload into the three sizes (in memory)."""
    return image_renditions(
        upload=upload,
        widths=settings.PRODUCT_IMAGE_WIDTHS,
        max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES,
        max_pixels=settings.PRODUCT_IMAGE_MAX_PIXELS,
    )


def _store_renditions(image: ProductImage, upload) -> None:
    """Validate and re-encode an upload into the image's three sizes (no DB write)."""
    _save_renditions(image, _renditions(upload))


def _save_renditions(image: ProductImage, renditions: list) -> None:
    large, medium, thumb = renditions
    stem = f"{image.product_id}-{timezone.now():%H%M%S%f}"
    image.large.save(f"{stem}-l.webp", large.content, save=False)
    image.medium.save(f"{stem}-m.webp", medium.content, save=False)
    image.thumb.save(f"{stem}-s.webp", thumb.content, save=False)
    image.width, image.height = large.width, large.height


def product_image_add(*, product: Product, actor: User, upload, alt: str = "") -> ProductImage:
    """Add an uploaded picture at the end. The file is checked (a real JPEG, PNG, WebP or
    GIF; at most 10 MB and 40 megapixels) and re-encoded before anything is saved."""
    (image,) = product_images_add(product=product, actor=actor, uploads=[upload], alt=alt)
    return image


def product_images_add(
    *, product: Product, actor: User, uploads: list, alt: str = ""
) -> list[ProductImage]:
    """Add several pictures, all or nothing: every file is checked and re-encoded before
    any is saved, and a bad one (named in the error) leaves the product as it was."""
    _check_owner(product.shop, actor)
    # Count the table, not a prefetched list: the limit must hold for remote images too.
    existing = ProductImage.objects.filter(product_id=product.pk).count()
    if existing + len(uploads) > settings.PRODUCT_MAX_IMAGES:
        raise TooManyImages(
            f"A product holds at most {settings.PRODUCT_MAX_IMAGES} images ({existing} already)."
        )
    images = []
    for upload in uploads:
        image = ProductImage(product=product, alt=alt.strip()[:250])
        try:
            renditions = _renditions(upload)
        except InvalidImage as exc:
            if len(uploads) > 1:
                name = getattr(upload, "name", "a file")
                raise InvalidImage(f"{name}: {exc.message} Nothing was added.") from None
            raise
        images.append((image, renditions))
    with transaction.atomic():
        position = (
            ProductImage.objects.filter(product_id=product.pk).aggregate(p=Max("position"))["p"]
            or 0
        )
        for image, renditions in images:
            position += 1
            image.position = position
            _save_renditions(image, renditions)
            image.save()
    return [image for image, _ in images]


def product_image_delete(*, image: ProductImage, actor: User) -> None:
    _check_owner(image.product.shop, actor)
    files = [f.name for f in (image.large, image.medium, image.thumb) if f]
    storage = image.large.storage
    with transaction.atomic():
        image.delete()
        transaction.on_commit(lambda: [storage.delete(name) for name in files])


def product_images_reorder(*, product: Product, actor: User, image_ids: list[int]) -> None:
    _check_owner(product.shop, actor)
    current = set(product.images.values_list("pk", flat=True))
    if set(image_ids) != current or len(image_ids) != len(current):
        raise InvalidProduct(fields={"images": ["Give every image of the product once."]})
    with transaction.atomic():
        for position, pk in enumerate(image_ids, start=1):
            ProductImage.objects.filter(pk=pk, product=product).update(position=position)
