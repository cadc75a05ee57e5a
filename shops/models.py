from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from accounts.validators import HANDLE_MAX_LENGTH, handle_validator
from payments.money import CURRENCY_CHOICES, default_currency


class Shop(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SUSPENDED = "suspended", "Suspended"

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shop"
    )
    handle = models.CharField(
        max_length=HANDLE_MAX_LENGTH,
        unique=True,
        validators=[handle_validator],
        error_messages={"unique": "That shop handle is taken."},
    )
    name = models.CharField(max_length=80)
    description = models.TextField(max_length=2000, blank=True)
    return_policy = models.TextField(max_length=4000, blank=True)
    logo = models.ImageField(upload_to="shops/logos/%Y/%m/", blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default=default_currency)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-created_at"], name="shop_status_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shops:detail", kwargs={"handle": self.handle})

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.APPROVED


# One table of allowed moves, applied as compare-and-set in services.shop_transition.
SHOP_TRANSITIONS = {
    Shop.Status.PENDING: {Shop.Status.APPROVED, Shop.Status.REJECTED},
    Shop.Status.REJECTED: {Shop.Status.PENDING},  # the merchant edits and asks again
    Shop.Status.APPROVED: {Shop.Status.SUSPENDED},
    Shop.Status.SUSPENDED: {Shop.Status.APPROVED},
}


class ShopEvent(models.Model):
    """Every status change of a shop, who made it and why. Append-only."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.shop_id}: {self.from_status or '∅'} → {self.to_status}"


class Category(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"
        # Set and lifted by staff only (moderation): the merchant cannot leave it.
        TAKEN_DOWN = "taken_down", "Taken down by staff"

    # What a merchant may choose (forms, API, CSV import).
    SELLER_STATUSES = [Status.DRAFT, Status.ACTIVE, Status.ARCHIVED]

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    handle = models.SlugField(max_length=120, help_text="Stable key within the shop (CSV Handle).")
    title = models.CharField(max_length=200)
    # What the merchant wrote (Markdown, or HTML from an import) and its sanitized rendering;
    # only description_html is ever shown.
    description = models.TextField(max_length=20_000, blank=True)
    description_html = models.TextField(blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    vendor = models.CharField(max_length=120, blank=True)
    product_type = models.CharField(max_length=120, blank=True)
    tags = models.CharField(max_length=500, blank=True, help_text="Comma-separated.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default=default_currency)
    # The lowest price among the variants, kept by the services that change variants, so
    # lists can sort and filter by price without touching variants.
    price_minor = models.BigIntegerField(default=0)
    compare_at_minor = models.BigIntegerField(null=True, blank=True)
    affiliate_rate_bp = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(5000)],
        help_text="Commission for creators who feature it, in basis points (0–5000 = 0–50 %).",
    )
    external_url = models.URLField(
        max_length=500, blank=True, help_text="Sell on your own store: Buy links out."
    )
    external_clicks = models.PositiveBigIntegerField(default=0)
    # Why staff took the product down, shown to its merchant; empty otherwise.
    moderation_note = models.CharField(max_length=500, blank=True, editable=False)
    option1_name = models.CharField(max_length=60, blank=True)
    option2_name = models.CharField(max_length=60, blank=True)
    option3_name = models.CharField(max_length=60, blank=True)
    # Lowercased title, text of the description, tags, vendor and type: matched by the
    # full-text index on PostgreSQL and by substring on SQLite.
    search_document = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "handle"], name="product_handle_per_shop"),
            models.CheckConstraint(condition=Q(price_minor__gte=0), name="product_price_gte_0"),
            models.CheckConstraint(
                condition=Q(compare_at_minor__isnull=True) | Q(compare_at_minor__gte=0),
                name="product_compare_at_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(affiliate_rate_bp__lte=5000), name="product_affiliate_lte_50pct"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "status", "-created_at"], name="product_shop_status_idx"),
            models.Index(fields=["status", "price_minor"], name="product_status_price_idx"),
            models.Index(fields=["category", "status"], name="product_category_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("shops:product", kwargs={"pk": self.pk})

    @property
    def option_names(self) -> list[str]:
        return [n for n in (self.option1_name, self.option2_name, self.option3_name) if n]

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]


class ProductImage(models.Model):
    class State(models.TextChoices):
        READY = "ready", "Ready"
        REMOTE = "remote", "Waiting to be fetched"
        FAILED = "failed", "Could not be fetched"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveIntegerField(default=1)
    alt = models.CharField(max_length=250, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.READY)
    # Set for images named by URL in an import: fetched later by a task, never in a request.
    source_url = models.URLField(max_length=1000, blank=True)
    error = models.CharField(max_length=250, blank=True)
    large = models.ImageField(upload_to="products/%Y/%m/", blank=True)
    medium = models.ImageField(upload_to="products/%Y/%m/", blank=True)
    thumb = models.ImageField(upload_to="products/%Y/%m/", blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["product", "position"], name="image_product_pos_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "source_url"],
                condition=~Q(source_url=""),
                name="image_source_url_per_product",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} #{self.position}"


class Variant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    # Denormalized from product so that SKUs can be unique per shop in one constraint.
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    sku = models.CharField(max_length=64, blank=True)
    option1 = models.CharField(max_length=120, blank=True)
    option2 = models.CharField(max_length=120, blank=True)
    option3 = models.CharField(max_length=120, blank=True)
    price_minor = models.BigIntegerField()
    compare_at_minor = models.BigIntegerField(null=True, blank=True)
    stock = models.IntegerField(default=0)
    grams = models.PositiveIntegerField(default=0)
    barcode = models.CharField(max_length=64, blank=True)
    position = models.PositiveIntegerField(default=1)
    image = models.ForeignKey(
        ProductImage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            # Stock never goes below zero, whoever writes it (checkout decrements with a
            # conditional UPDATE; this is the last guard).
            models.CheckConstraint(condition=Q(stock__gte=0), name="variant_stock_gte_0"),
            models.CheckConstraint(condition=Q(price_minor__gte=0), name="variant_price_gte_0"),
            models.CheckConstraint(
                condition=Q(compare_at_minor__isnull=True) | Q(compare_at_minor__gte=0),
                name="variant_compare_at_gte_0",
            ),
            models.UniqueConstraint(
                fields=["shop", "sku"],
                condition=~Q(sku=""),
                name="variant_sku_per_shop",
                violation_error_message="That SKU is already used in this shop.",
            ),
            models.UniqueConstraint(
                fields=["product", "option1", "option2", "option3"],
                name="variant_options_unique",
                violation_error_message="Two variants cannot have the same options.",
            ),
        ]
        indexes = [models.Index(fields=["shop", "stock"], name="variant_shop_stock_idx")]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.title}"

    @property
    def title(self) -> str:
        values = [v for v in (self.option1, self.option2, self.option3) if v]
        return " / ".join(values) if values else "Default"
