"""Coins and gifts: the coin packs staff sell, each purchase of one, and the gift catalog.

A user's coins are not a column here: they are the balance of the user's wallet account
in the ledger (payments.ledger), credited by one posting when a purchase's payment is
captured (gifting.services)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from payments.money import CURRENCY_CHOICES

GIFT_MAX_COINS = 30_000


class CoinPack(models.Model):
    """What a viewer can buy: so many coins for a price. Managed by staff in the admin;
    a purchase copies the coins and price, so editing a pack changes no past purchase."""

    coins = models.PositiveIntegerField()
    price_minor = models.BigIntegerField(help_text="In minor units (cents): 499 is 4.99.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    active = models.BooleanField(default=True, help_text="Only active packs are on sale.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "coins", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(coins__gte=1), name="coin_pack_coins_gte_1"),
            # A free pack would mint coins without money: every pack costs something.
            models.CheckConstraint(condition=Q(price_minor__gte=1), name="coin_pack_price_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.coins:,} coins for {self.price_minor} {self.currency}"


class CoinPurchase(models.Model):
    """One purchase of a pack. Its coins reach the wallet only once the payment is
    captured (pending_payment → paid, a compare-and-set); a declined card makes it failed."""

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Waiting for payment"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"
        # The coins are taken back from the wallet first (REFUNDING), then the money goes
        # back to the card (REFUNDED): coins bought with refunded money cannot be spent.
        REFUNDING = "refunding", "Coins reversed, refund under way"
        REFUNDED = "refunded", "Refunded"

    class PaymentState(models.TextChoices):
        NONE = "none", "Not started"
        PENDING = "pending", "Waiting for the card issuer"
        AUTHORIZED = "authorized", "Authorized, not yet captured"
        CAPTURED = "captured", "Captured"
        DECLINED = "declined", "Declined"
        VOIDED = "voided", "Voided"
        REFUNDED = "refunded", "Refunded"

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coin_purchases"
    )
    pack = models.ForeignKey(CoinPack, on_delete=models.PROTECT, related_name="purchases")
    coins = models.PositiveIntegerField()
    price_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    payment_method = models.CharField(max_length=100)
    payment_provider = models.CharField(max_length=30)
    payment_ref = models.CharField(max_length=100, blank=True)
    payment_state = models.CharField(
        max_length=12, choices=PaymentState.choices, default=PaymentState.NONE
    )
    payment_message = models.CharField(max_length=200, blank=True)
    checkout_key = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A retried Buy (double tap, client retry) finds the first purchase: one
            # charge per checkout key, whatever races.
            models.UniqueConstraint(
                fields=["buyer", "checkout_key"], name="coin_purchase_once_per_key"
            ),
            models.CheckConstraint(condition=Q(coins__gte=1), name="coin_purchase_coins_gte_1"),
            models.CheckConstraint(
                condition=Q(price_minor__gte=1), name="coin_purchase_price_gte_1"
            ),
        ]
        indexes = [
            models.Index(fields=["buyer", "-created_at"], name="coin_purchase_buyer_idx"),
            # The webhook's receiver finds the purchase by its provider's reference.
            models.Index(fields=["payment_provider", "payment_ref"], name="coin_purchase_ref_idx"),
            # What the release of unpaid purchases looks for every minute: only the pending
            # ones, oldest first, however many purchases there were.
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending_payment"),
                name="coin_purchase_unpaid_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coins:,} coins for {self.buyer_id} ({self.status})"


class Gift(models.Model):
    """A gift viewers send in a live, for its price in coins. Managed by staff."""

    class Level(models.TextChoices):
        SMALL = "small", "Small: floats in the corner"
        LARGE = "large", "Large: crosses the video"
        FULLSCREEN = "fullscreen", "Full screen"

    name = models.CharField(max_length=40)
    slug = models.SlugField(max_length=40, unique=True)
    coins = models.PositiveIntegerField(
        help_text=f"Its price in coins, 1 to {GIFT_MAX_COINS:,}.",
        validators=[MinValueValidator(1), MaxValueValidator(GIFT_MAX_COINS)],
    )
    image = models.ImageField(upload_to="gifts/", blank=True)
    level = models.CharField(max_length=12, choices=Level.choices, default=Level.SMALL)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "coins", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(coins__gte=1) & Q(coins__lte=GIFT_MAX_COINS),
                name="gift_coins_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.coins:,} coins)"


class GiftSend(models.Model):
    """One tap on a gift in a live: the coins it cost and how their value was split, copied
    at send time (a later change of price, share or host changes no past send). The coins
    and money moved are one ledger transaction keyed by this row (gift:<id>)."""

    # No index of their own for sender, stream, creator and gift: the unique key and the
    # indexes below start with the first three, and every index is one more write per gift.
    # No database constraint either: a foreign key is checked per row at commit, under a
    # share lock on the referenced row (the hot live, its host, the gift), which for a
    # batch of sends cost more than its inserts. The references hold without it: sends are
    # written only by gifting.sends after reading the live and the gift, and a user, live
    # or gift with sends cannot be deleted (PROTECT, checked by Django; gifts are retired,
    # never deleted, in admin).
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="gifts_sent",
        db_index=False,
        db_constraint=False,
    )
    stream = models.ForeignKey(
        "streams.Stream",
        on_delete=models.PROTECT,
        related_name="gift_sends",
        db_index=False,
        db_constraint=False,
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="gifts_received",
        help_text="The live's host when the gift was sent: who earns it.",
        db_index=False,
        db_constraint=False,
    )
    gift = models.ForeignKey(
        Gift, on_delete=models.PROTECT, related_name="sends", db_index=False, db_constraint=False
    )
    quantity = models.PositiveIntegerField()
    coins = models.BigIntegerField(help_text="gift.coins × quantity, debited from the wallet.")
    value_minor = models.BigIntegerField(help_text="The coins' value in minor units.")
    creator_minor = models.BigIntegerField(help_text="The host's share of the value.")
    platform_minor = models.BigIntegerField(help_text="The rest: the platform's commission.")
    currency = models.CharField(max_length=3)
    idempotency_key = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    # Filled by settlement (gifting.settlement): null while the earning is unsettled.
    settled_at = models.DateTimeField(null=True, blank=True)
    # The statement that settled this earning. Attached once, by a conditional UPDATE
    # (statement IS NULL): that condition is what keeps two settlements from both taking it.
    # Settlement sets it on a million rows at a time: no index and no database constraint
    # of its own (each would cost a write or a check per row). Only settlement writes it,
    # with the statement locked in the same transaction, and statements with gifts are
    # never deleted (PROTECT, checked by Django).
    statement = models.ForeignKey(
        "EarningsStatement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="gift_sends",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A retried send (double tap, client retry) finds the first one: the coins are
            # debited once per key, whatever races.
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"], name="gift_send_once_per_key"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="gift_send_quantity_gte_1"),
            models.CheckConstraint(condition=Q(coins__gte=1), name="gift_send_coins_gte_1"),
            # The split keeps the value whole: nothing is created or lost by rounding.
            models.CheckConstraint(
                condition=Q(creator_minor__gte=0)
                & Q(platform_minor__gte=0)
                & Q(value_minor=models.F("creator_minor") + models.F("platform_minor")),
                name="gift_send_split_whole",
            ),
        ]
        indexes = [
            models.Index(fields=["stream", "-created_at"], name="gift_send_stream_idx"),
            models.Index(fields=["creator", "-created_at"], name="gift_send_creator_idx"),
            # What settlement looks for: only the unsettled rows, by host, so that the index
            # stays small however many gifts were settled before.
            models.Index(
                fields=["creator", "currency", "created_at"],
                condition=Q(statement__isnull=True),
                name="gift_send_unsettled_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × gift {self.gift_id} from {self.sender_id} in {self.stream_id}"


class GiftTotal(models.Model):
    """What one viewer has given one host in coins: in one live (stream set), or across all
    the host's lives (stream null). Kept by gift sending in the same transaction as the
    sends, one upsert per row and batch, so that a live's top gifters and a host's top fans
    are a read of one row per gifter however many gifts there were. last_send is the newest
    send counted: on equal coins, whoever reached the total first ranks first."""

    # Derived from the sends and rewritten by every batch (two rows per send): no index of
    # their own (the unique keys and the indexes below start with stream or creator) and no
    # database constraint. A row exists only where sends do, and those keep their sender,
    # live and host from being deleted (PROTECT), so nothing is left to cascade.
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    stream = models.ForeignKey(
        "streams.Stream",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    coins = models.BigIntegerField(default=0)
    gifts = models.PositiveIntegerField(default=0, help_text="Sends counted (a combo counts each).")
    last_send = models.BigIntegerField(default=0)
    last_sent_at = models.DateTimeField()
    # On the per-live row: the gift of the sender's running combo and how many sends it
    # has (the same gift again within gifting.sends.COMBO_WINDOW of the last send grows it).
    combo_gift = models.BigIntegerField(default=0)
    combo = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "sender"],
                condition=Q(stream__isnull=False),
                name="gift_total_per_live",
            ),
            models.UniqueConstraint(
                fields=["creator", "sender"],
                condition=Q(stream__isnull=True),
                name="gift_total_per_host",
            ),
        ]
        # No index on coins or last_send: every batch of sends rewrites these rows, and an
        # update that changes no indexed column is a HOT update (the new version goes on
        # the same page, which the table's fillfactor keeps room on: migration 0012), with
        # no new index entries; dead versions are pruned from the page as it is read. With
        # a (stream, -coins) index every update added an entry to each index, and a hot
        # live's rows piled up tens of thousands of dead versions between vacuums, which
        # every upsert's unique check then walked. The live's top gifters are read from the
        # per-live key instead: all of the live's gifters, sorted (a few thousand rows for
        # a very big live).

    def __str__(self) -> str:
        return f"{self.sender_id} gave {self.creator_id} {self.coins} coins"


class EarningsStatement(models.Model):
    """A host's earnings settled for one period in one currency: every gift earning sent
    before period_end that was still unsettled when settlement ran, and their affiliate
    commissions (net of refunds) earned before period_end and not settled before. Its gift
    totals are the sums of its gift sends and affiliate_minor the sum of the commissions it
    moved, each kept in the same transaction as the ledger postings that moved them from the
    host's unsettled earnings to their settled (payable) balance."""

    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings_statements"
    )
    currency = models.CharField(max_length=3)
    period_end = models.DateTimeField(help_text="Settles what was earned before this time.")
    gift_count = models.PositiveIntegerField(default=0)
    coins = models.BigIntegerField(default=0)
    value_minor = models.BigIntegerField(default=0)
    creator_minor = models.BigIntegerField(
        default=0, help_text="What the host was paid for the gifts."
    )
    affiliate_minor = models.BigIntegerField(
        default=0, help_text="What the host was paid in affiliate commissions, net of refunds."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_end", "creator_id", "currency"]
        constraints = [
            # Two settlements of the same period (a rerun, a second worker) share one
            # statement per host and currency: the INSERT of the second does nothing.
            models.UniqueConstraint(
                fields=["creator", "currency", "period_end"], name="earnings_statement_once"
            ),
            # Settlement moves only a positive net of commissions (refunds that exceed them
            # wait for later ones), so neither total is ever negative.
            models.CheckConstraint(
                condition=Q(creator_minor__gte=0)
                & Q(value_minor__gte=models.F("creator_minor"))
                & Q(affiliate_minor__gte=0),
                name="earnings_statement_totals_sane",
            ),
        ]

    def __str__(self) -> str:
        paid = self.creator_minor + self.affiliate_minor
        return f"{self.creator_id} {paid} {self.currency} to {self.period_end}"


class Payout(models.Model):
    """A host's request to be paid some of their settled earnings, and what became of it.

    Requesting moves the amount from the settled balance into a hold (ledger
    `payout:<id>:hold`); staff approve or reject; an approved payout is sent to the provider
    by the gifting.payout_execute task. Paid moves the hold to the outside world; rejected
    or failed moves it back to the settled balance (gifting.payouts)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested: waiting for staff"
        APPROVED = "approved", "Approved: queued for sending"
        SENDING = "sending", "Sending to the provider"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed: the money is back in the balance"
        REJECTED = "rejected", "Rejected: the money is back in the balance"

    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    destination = models.CharField(
        max_length=40, help_text="The payout account's reference at the provider."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    idempotency_key = models.CharField(max_length=120)
    reason = models.CharField(max_length=200, blank=True, help_text="Staff's note on deciding.")
    provider = models.CharField(max_length=30, blank=True)
    provider_ref = models.CharField(max_length=100, blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payouts_decided",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A retried request (double tap, client retry) finds the first payout: the
            # earnings are held once per key, whatever races.
            models.UniqueConstraint(
                fields=["creator", "idempotency_key"], name="payout_once_per_key"
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payout_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["creator", "-created_at"], name="payout_creator_idx"),
            models.Index(fields=["status", "created_at"], name="payout_status_idx"),
        ]

    def __str__(self) -> str:
        return f"payout {self.pk}: {self.amount_minor} {self.currency} to {self.creator_id}"
