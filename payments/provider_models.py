"""The payment provider's side: saved payment methods, the webhook events received, and the
simulated card provider's own state (its cards, charges and the operations on them).

No model here holds a card number or security code: a card is a provider token plus what
may be shown (brand, last four digits, expiry)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

__all__ = [
    "PaymentMethod",
    "WebhookEvent",
    "SimulatedCard",
    "SimulatedCharge",
    "SimulatedOperation",
]


class PaymentMethod(models.Model):
    """A card a user saved for one-tap buying, as the provider's token."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_methods"
    )
    provider = models.CharField(max_length=30)
    token = models.CharField(max_length=100)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at", "-pk"]
        constraints = [
            # One-tap buying takes "the" default card: two would make it a guess.
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_default=True), name="payment_method_one_default"
            ),
            models.UniqueConstraint(fields=["provider", "token"], name="payment_method_token_once"),
            models.CheckConstraint(
                condition=Q(exp_month__gte=1, exp_month__lte=12),
                name="payment_method_exp_month_valid",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="payment_method_user_idx")]

    def __str__(self) -> str:
        from payments.cards import BRAND_NAMES

        return f"{BRAND_NAMES.get(self.brand, 'Card')} •••• {self.last4}"

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"


class WebhookEvent(models.Model):
    """A webhook event that was verified and processed. Its row is written in the same
    transaction as the event's effects, and the unique (provider, event_id) makes a
    replayed or redelivered event a no-op."""

    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=60)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once"),
        ]
        indexes = [models.Index(fields=["-received_at"], name="webhook_event_received_idx")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id} {self.type}"


class Behaviour(models.TextChoices):
    """What a simulated card does when charged (see payments.providers.simulated)."""

    OK = "ok", "Succeeds"
    DECLINED = "declined", "Declined"
    DELAYED = "delayed", "Succeeds by webhook, a few seconds later"


class SimulatedCard(models.Model):
    """A card tokenized by the simulated provider. The number is not kept: its behaviour
    is decided at tokenizing time and stored instead."""

    token = models.CharField(max_length=40, unique=True)
    behaviour = models.CharField(max_length=10, choices=Behaviour.choices)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.token} ({self.brand} •••• {self.last4})"


class SimulatedCharge(models.Model):
    """A payment at the simulated provider: the authorized amount and how much of it was
    captured and refunded so far. The amounts change only by conditional UPDATEs, and the
    constraints below keep 0 ≤ refunded ≤ captured ≤ authorized whatever runs at once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (waiting for its webhook)"
        AUTHORIZED = "authorized", "Authorized"
        DECLINED = "declined", "Declined"
        VOIDED = "voided", "Voided"

    ref = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    behaviour = models.CharField(max_length=10, choices=Behaviour.choices)
    payment_method = models.CharField(max_length=40, help_text="pm_card_* or a pm_sim_ token")
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField(help_text="The amount authorized (or asked for).")
    amount_captured = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    decline_code = models.CharField(max_length=40, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    # When the payment.succeeded webhook of a delayed payment was accepted by the site;
    # the sweep re-sends those still without one.
    webhook_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="sim_charge_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount_captured__gte=0) & Q(amount_captured__lte=F("amount_minor")),
                name="sim_charge_capture_within_authorized",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount_captured")),
                name="sim_charge_refund_within_captured",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(behaviour="delayed", webhook_sent_at__isnull=True),
                name="sim_charge_webhook_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.ref


class SimulatedOperation(models.Model):
    """One call to the simulated provider under its idempotency key, with its answer: the
    same key returns this answer again instead of doing the work twice."""

    class Kind(models.TextChoices):
        AUTHORIZE = "authorize", "Authorize"
        CAPTURE = "capture", "Capture"
        REFUND = "refund", "Refund"
        VOID = "void", "Void"

    idempotency_key = models.CharField(max_length=150, unique=True)
    # A hash of the call's arguments: the same key with other arguments is refused.
    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    charge = models.ForeignKey(SimulatedCharge, on_delete=models.PROTECT, related_name="operations")
    status = models.CharField(max_length=10)
    amount_minor = models.BigIntegerField()
    decline_code = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["charge", "created_at"], name="sim_operation_charge_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.charge_id} {self.status}"
