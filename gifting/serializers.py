"""API shapes for coin packs, the wallet, coin purchases, gifts and gift sends. Money is in
integer minor units with its currency ("price": 499, "currency": "USD"); coins are integers."""

from django.conf import settings
from rest_framework import serializers

from config.fields import id_field
from payments.ledger_models import LedgerEntry

from .models import CoinPack, CoinPurchase, Gift, GiftSend, Payout


class CoinPackSerializer(serializers.ModelSerializer):
    price = serializers.IntegerField(source="price_minor", read_only=True)

    class Meta:
        model = CoinPack
        fields = ["id", "coins", "price", "currency"]
        read_only_fields = fields


class CoinPurchaseSerializer(serializers.ModelSerializer):
    pack = serializers.IntegerField(source="pack_id", read_only=True)
    price = serializers.IntegerField(source="price_minor", read_only=True)

    class Meta:
        model = CoinPurchase
        fields = [
            "id",
            "pack",
            "coins",
            "price",
            "currency",
            "status",
            "payment_state",
            "payment_message",
            "created_at",
            "paid_at",
        ]
        read_only_fields = fields


class WalletEntrySerializer(serializers.ModelSerializer):
    coins = serializers.IntegerField(
        source="amount", read_only=True, help_text="Positive: coins in; negative: coins out."
    )
    kind = serializers.CharField(
        source="transaction.kind", read_only=True, help_text="coins.purchased, ..."
    )
    memo = serializers.CharField(source="transaction.memo", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "coins", "kind", "memo", "created_at"]
        read_only_fields = fields


class WalletSerializer(serializers.Serializer):
    coins = serializers.IntegerField(help_text="The balance.")
    history = WalletEntrySerializer(many=True, help_text="The latest movements, newest first.")


class CoinBuySerializer(serializers.Serializer):
    pack = id_field(help_text="An active coin pack's id.")
    payment_method = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        help_text=(
            "A saved card's token or id, or a test method (pm_card_ok, pm_card_declined, "
            "pm_card_delayed). The default card when left out."
        ),
    )


class GiftSerializer(serializers.ModelSerializer):
    image = serializers.SerializerMethodField(help_text="The picture's URL, or null.")

    class Meta:
        model = Gift
        fields = ["id", "name", "coins", "image", "level"]
        read_only_fields = fields

    def get_image(self, gift: Gift) -> str | None:
        return gift.image.url if gift.image else None


class GiftSendInputSerializer(serializers.Serializer):
    gift = id_field(help_text="An active gift's id.")
    quantity = serializers.IntegerField(
        min_value=1,
        max_value=settings.GIFTING_MAX_QUANTITY,
        default=1,
        help_text=f"How many of it, 1 to {settings.GIFTING_MAX_QUANTITY:,}.",
    )


class GiftSendSerializer(serializers.ModelSerializer):
    gift = serializers.IntegerField(source="gift_id", read_only=True)
    creator_share = serializers.IntegerField(
        source="creator_minor",
        read_only=True,
        help_text="What the host earns from this send, in minor units of currency.",
    )
    wallet = serializers.SerializerMethodField(help_text="The sender's coins after the send.")

    class Meta:
        model = GiftSend
        fields = ["id", "gift", "quantity", "coins", "creator_share", "currency", "wallet"]
        read_only_fields = fields

    def get_wallet(self, send: GiftSend) -> int:
        return self.context["wallet"]


class PayoutRequestSerializer(serializers.Serializer):
    amount = serializers.IntegerField(
        min_value=1,
        help_text=(
            "In minor units of the site's currency, at least GIFTING_PAYOUT_MINIMUM_MINOR "
            "and at most your settled earnings."
        ),
    )
    destination = serializers.CharField(
        max_length=40, help_text='Your payout account\'s reference ("acct_ok" in the demo).'
    )


class PayoutSerializer(serializers.ModelSerializer):
    amount = serializers.IntegerField(source="amount_minor", read_only=True)

    class Meta:
        model = Payout
        fields = [
            "id",
            "amount",
            "currency",
            "destination",
            "status",
            "reason",
            "failure_code",
            "created_at",
            "decided_at",
            "paid_at",
        ]
        read_only_fields = fields
