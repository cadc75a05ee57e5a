"""API shapes for coin packs, the wallet and coin purchases. Money is in integer minor
units with its currency ("price": 499, "currency": "USD"); coins are integers."""

from rest_framework import serializers

from payments.ledger_models import LedgerEntry

from .models import CoinPack, CoinPurchase


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
    pack = serializers.IntegerField(min_value=1, help_text="An active coin pack's id.")
    payment_method = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        help_text=(
            "A saved card's token or id, or a test method (pm_card_ok, pm_card_declined, "
            "pm_card_delayed). The default card when left out."
        ),
    )
