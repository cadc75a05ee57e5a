"""Addresses, the bag, orders and their lines, and every change an order went through.

An order belongs to one buyer and one shop (a bag checkout makes one per shop). Its lines
keep the price, title and options the buyer saw; its shipping address is a copy, so that
editing or deleting an address never rewrites an order.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from payments.money import CURRENCY_CHOICES


class Address(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses"
    )
    name = models.CharField(max_length=100)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. US, DE.")
    phone = models.CharField(max_length=30, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at", "-pk"]
        constraints = [
            # One-tap buying uses the default address: there is at most one.
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_default=True), name="address_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.line1}, {self.city}"

    def snapshot(self) -> dict:
        return {
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country": self.country,
            "phone": self.phone,
        }


class BagItem(models.Model):
    """A variant in a buyer's bag, with the live it was added from (for attribution)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bag_items"
    )
    variant = models.ForeignKey("shops.Variant", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    stream = models.ForeignKey(
        "streams.Stream", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "variant"], name="bag_variant_once"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="bag_quantity_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.quantity} × {self.variant_id}"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Awaiting payment"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        REFUND_REQUESTED = "refund_requested", "Refund requested"
        REFUNDED = "refunded", "Refunded"
        REFUND_REJECTED = "refund_rejected", "Refund rejected"

    class PaymentState(models.TextChoices):
        NONE = "none", "Not started"
        PENDING = "pending", "Waiting for the card issuer"
        AUTHORIZED = "authorized", "Authorized, not yet captured"
        CAPTURED = "captured", "Captured"
        DECLINED = "declined", "Declined"
        VOIDED = "voided", "Voided"

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    shop = models.ForeignKey("shops.Shop", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    subtotal_minor = models.BigIntegerField()
    shipping_minor = models.BigIntegerField(default=0)
    total_minor = models.BigIntegerField()
    refunded_minor = models.BigIntegerField(default=0)
    # Attribution: the live the order was placed from and its host, who earns the
    # products' affiliate commission when they are not the seller.
    stream = models.ForeignKey(
        "streams.Stream", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attributed_orders",
    )
    platform_rate_bp = models.PositiveIntegerField(default=0)
    shipping_address = models.JSONField()
    # What the buyer paid with: a saved card's provider token or an API test method.
    payment_method = models.CharField(max_length=60)
    payment_provider = models.CharField(max_length=30)
    payment_ref = models.CharField(max_length=60, blank=True)
    payment_state = models.CharField(
        max_length=10, choices=PaymentState.choices, default=PaymentState.NONE
    )
    payment_message = models.CharField(max_length=200, blank=True)
    # One checkout (a tap on Buy, a bag checkout, an API call with an Idempotency-Key) makes
    # at most one order per shop, whatever is retried.
    checkout_key = models.CharField(max_length=120)
    carrier = models.CharField(max_length=60, blank=True)
    tracking_number = models.CharField(max_length=60, blank=True)
    cancel_reason = models.CharField(max_length=40, blank=True)
    refund_reason = models.CharField(max_length=500, blank=True)
    placed_at = models.DateTimeField(auto_now_add=True)
    pay_by = models.DateTimeField(help_text="An unpaid order releases its stock after this.")
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "checkout_key", "shop"], name="order_once_per_checkout_shop"
            ),
            models.CheckConstraint(
                condition=Q(total_minor__gte=0) & Q(subtotal_minor__gte=0),
                name="order_amounts_gte_0",
            ),
            # Never refunded more than was paid (the service checks first; this is the
            # last guard against two refunds at once).
            models.CheckConstraint(
                condition=Q(refunded_minor__gte=0) & Q(refunded_minor__lte=F("total_minor")),
                name="order_refund_within_total",
            ),
        ]
        indexes = [
            models.Index(fields=["buyer", "-placed_at"], name="order_buyer_idx"),
            models.Index(fields=["shop", "status", "-placed_at"], name="order_shop_status_idx"),
            models.Index(fields=["stream", "status"], name="order_stream_idx"),
            models.Index(fields=["status", "pay_by"], name="order_status_payby_idx"),
            models.Index(fields=["payment_ref"], name="order_payment_ref_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", kwargs={"pk": self.pk})

    @property
    def reference(self) -> str:
        return f"TB{self.pk:08d}" if self.pk else "TB(new)"

    @property
    def refundable_minor(self) -> int:
        return self.total_minor - self.refunded_minor


# The one table of what an order may become next. order_transition applies it as a
# compare-and-set; everything else that changes an order's status goes through it.
ORDER_TRANSITIONS: dict[str, set[str]] = {
    Order.Status.PENDING_PAYMENT: {Order.Status.PAID, Order.Status.CANCELLED},
    Order.Status.PAID: {Order.Status.SHIPPED, Order.Status.CANCELLED},
    Order.Status.SHIPPED: {Order.Status.DELIVERED},
    Order.Status.DELIVERED: {Order.Status.REFUND_REQUESTED, Order.Status.REFUNDED},
    Order.Status.REFUND_REQUESTED: {Order.Status.REFUNDED, Order.Status.REFUND_REJECTED},
    # A partial refund leaves the rest refundable: the merchant may refund more lines.
    Order.Status.REFUNDED: {Order.Status.REFUNDED},
}


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("shops.Product", on_delete=models.PROTECT, related_name="+")
    variant = models.ForeignKey("shops.Variant", on_delete=models.PROTECT, related_name="+")
    deal = models.ForeignKey(
        "streams.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    variant_title = models.CharField(max_length=200, blank=True)
    sku = models.CharField(max_length=64, blank=True)
    unit_price_minor = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    affiliate_rate_bp = models.PositiveIntegerField(default=0)
    refunded_quantity = models.PositiveIntegerField(default=0)
    refunded_minor = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="line_quantity_gte_1"),
            models.CheckConstraint(condition=Q(unit_price_minor__gte=0), name="line_price_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=F("quantity")),
                name="line_refund_within_quantity",
            ),
        ]
        indexes = [models.Index(fields=["product"], name="order_line_product_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"

    @property
    def total_minor(self) -> int:
        return self.unit_price_minor * self.quantity


class OrderEvent(models.Model):
    """Every change of an order: status transitions, payments, refunds, shipping."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount_minor = models.BigIntegerField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["order", "created_at"], name="order_event_idx")]
        constraints = [
            # An email about an order is claimed by recording it first: sent once.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(kind__startswith="email."),
                name="order_email_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class Refund(models.Model):
    """Money given back for some lines of an order (a partial refund names fewer lines or
    units). Requested by the buyer or made by the merchant or staff."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        REFUNDED = "refunded", "Refunded"
        REJECTED = "rejected", "Rejected"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    status = models.CharField(max_length=10, choices=Status.choices)
    amount_minor = models.BigIntegerField(default=0)
    lines = models.JSONField(default=dict, help_text="{line id: quantity}")
    reason = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provider_ref = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gte=0), name="refund_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk} of {self.order_id}"
