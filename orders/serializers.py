"""API shapes for addresses, the bag, orders and refunds. Money is in integer minor units
with its currency ("total": 9800, "currency": "USD").

Input serializers check types and ranges only; the services decide everything else (what
is for sale, what a buyer may touch, what the price is)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.fields import id_field

from .models import Address, BagItem, Order, OrderEvent, OrderLine, Refund
from .services import ADDRESS_LIMITS, MAX_LINES, MAX_QUANTITY

# --- addresses -----------------------------------------------------------------------------


class AddressSerializer(serializers.ModelSerializer):
    default = serializers.BooleanField(source="is_default", read_only=True)

    class Meta:
        model = Address
        fields = [
            "id",
            "name",
            "line1",
            "line2",
            "city",
            "region",
            "postal_code",
            "country",
            "phone",
            "default",
            "created_at",
        ]
        read_only_fields = fields


class AddressCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=ADDRESS_LIMITS["name"])
    line1 = serializers.CharField(max_length=ADDRESS_LIMITS["line1"])
    line2 = serializers.CharField(
        max_length=ADDRESS_LIMITS["line2"], required=False, allow_blank=True
    )
    city = serializers.CharField(max_length=ADDRESS_LIMITS["city"])
    region = serializers.CharField(
        max_length=ADDRESS_LIMITS["region"], required=False, allow_blank=True
    )
    postal_code = serializers.CharField(max_length=ADDRESS_LIMITS["postal_code"])
    country = serializers.CharField(
        max_length=ADDRESS_LIMITS["country"], help_text="ISO 3166-1 alpha-2, e.g. US, DE."
    )
    phone = serializers.CharField(
        max_length=ADDRESS_LIMITS["phone"], required=False, allow_blank=True
    )
    default = serializers.BooleanField(
        required=False, default=False, help_text="Use it for one-tap buying from now on."
    )


class ShippingAddressSerializer(serializers.Serializer):
    """The copy of the address an order ships to (editing an address never changes it)."""

    name = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    region = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()
    phone = serializers.CharField()


# --- the bag ---------------------------------------------------------------------------------


class BagItemSerializer(serializers.ModelSerializer):
    variant = serializers.IntegerField(source="variant_id", read_only=True)
    variant_title = serializers.CharField(source="variant.title", read_only=True)
    product = serializers.IntegerField(source="variant.product_id", read_only=True)
    title = serializers.CharField(source="variant.product.title", read_only=True)
    shop = serializers.CharField(source="variant.product.shop.handle", read_only=True)
    currency = serializers.CharField(source="variant.product.shop.currency", read_only=True)
    unit_price = serializers.IntegerField(source="variant.price_minor", read_only=True)
    stock = serializers.IntegerField(source="variant.stock", read_only=True)
    stream = serializers.IntegerField(source="stream_id", read_only=True, allow_null=True)

    class Meta:
        model = BagItem
        fields = [
            "id",
            "variant",
            "variant_title",
            "product",
            "title",
            "shop",
            "currency",
            "unit_price",
            "stock",
            "quantity",
            "stream",
            "added_at",
        ]
        read_only_fields = fields


class BagSerializer(serializers.Serializer):
    items = BagItemSerializer(many=True)


class BagAddSerializer(serializers.Serializer):
    variant = id_field()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    stream = id_field(required=False, allow_null=True, help_text="The live it was added from.")


class BagQuantitySerializer(serializers.Serializer):
    quantity = serializers.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, help_text="0 removes the item."
    )


# --- orders ----------------------------------------------------------------------------------


class OrderItemSerializer(serializers.Serializer):
    variant = id_field()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    deal = id_field(
        required=False,
        allow_null=True,
        help_text="The flash deal the buyer tapped: refused with 409 deal_ended once it is over.",
    )
    price = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="The unit price the buyer saw (minor units): 409 price_changed if it moved.",
    )

    def to_internal_value(self, data):
        # Only the keys that were sent: the service tells "no price given" from a price.
        return {k: v for k, v in super().to_internal_value(data).items() if v is not None}


class OrderPlaceSerializer(serializers.Serializer):
    items = OrderItemSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    stream = id_field(required=False, allow_null=True, help_text="The live it was bought in.")
    address = id_field(required=False, allow_null=True, help_text="Default: the default address.")
    payment_method = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        help_text=(
            "A saved card's token or id, or a test method (pm_card_ok, pm_card_declined, "
            "pm_card_delayed). Default: the default saved card."
        ),
    )


class CheckoutSerializer(serializers.Serializer):
    address = id_field(required=False, allow_null=True, help_text="Default: the default address.")
    payment_method = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        help_text="As for placing an order. Default: the default saved card.",
    )


class OrderShopSerializer(serializers.Serializer):
    handle = serializers.CharField()
    name = serializers.CharField()


class OrderLineSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id", read_only=True)
    variant = serializers.IntegerField(source="variant_id", read_only=True)
    unit_price = serializers.IntegerField(source="unit_price_minor", read_only=True)
    total = serializers.IntegerField(source="total_minor", read_only=True)
    refunded = serializers.IntegerField(source="refunded_minor", read_only=True)

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "product",
            "variant",
            "title",
            "variant_title",
            "sku",
            "unit_price",
            "quantity",
            "total",
            "refunded_quantity",
            "refunded",
        ]
        read_only_fields = fields


class OrderEventSerializer(serializers.ModelSerializer):
    # Plain strings, not an enum: the order's status is the one place the choice set lives.
    from_status = serializers.CharField(read_only=True)
    to_status = serializers.CharField(read_only=True)
    at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = OrderEvent
        fields = ["kind", "from_status", "to_status", "note", "at"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    """One shape for lists and the detail: the history is short and fetched in one query
    for a whole page."""

    reference = serializers.CharField(read_only=True)
    shop = OrderShopSerializer(read_only=True)
    subtotal = serializers.IntegerField(source="subtotal_minor", read_only=True)
    shipping = serializers.IntegerField(source="shipping_minor", read_only=True)
    total = serializers.IntegerField(source="total_minor", read_only=True)
    refunded = serializers.IntegerField(source="refunded_minor", read_only=True)
    stream = serializers.IntegerField(source="stream_id", read_only=True, allow_null=True)
    lines = OrderLineSerializer(many=True, read_only=True)
    shipping_address = ShippingAddressSerializer(read_only=True)
    events = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "reference",
            "status",
            "payment_state",
            "shop",
            "currency",
            "subtotal",
            "shipping",
            "total",
            "refunded",
            "stream",
            "lines",
            "shipping_address",
            "carrier",
            "tracking_number",
            "cancel_reason",
            "placed_at",
            "pay_by",
            "paid_at",
            "shipped_at",
            "delivered_at",
            "events",
        ]
        read_only_fields = fields

    @extend_schema_field(OrderEventSerializer(many=True))
    def get_events(self, order: Order) -> list[dict]:
        # Bookkeeping rows (which emails went out) are not part of the order's story.
        events = [e for e in order.events.all() if not e.kind.startswith("email.")]
        return OrderEventSerializer(events, many=True).data


class OrdersSerializer(serializers.Serializer):
    orders = OrderSerializer(many=True)


# --- refunds ---------------------------------------------------------------------------------


class RefundSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id", read_only=True)
    amount = serializers.IntegerField(source="amount_minor", read_only=True)
    currency = serializers.CharField(source="order.currency", read_only=True)
    lines = serializers.DictField(
        child=serializers.IntegerField(), read_only=True, help_text="{line id: units}"
    )

    class Meta:
        model = Refund
        fields = [
            "id",
            "order",
            "status",
            "amount",
            "currency",
            "lines",
            "reason",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class RefundLinesField(serializers.DictField):
    child = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "{line id: units}; leave it out for every unit.")
        super().__init__(**kwargs)


class RefundRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    lines = RefundLinesField(required=False, allow_empty=False)


class ShopRefundSerializer(serializers.Serializer):
    lines = RefundLinesField(required=False, allow_empty=False, allow_null=True)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RejectRefundSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ShipSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=60)
    tracking_number = serializers.CharField(max_length=60)
