"""API shapes for shops and the catalog. Money is in integer minor units with its currency
("price": 1999, "currency": "USD")."""

from rest_framework import serializers

from payments.money import CURRENCY_CHOICES

from .models import Category, Product, ProductImage, Shop, Variant


class ShopSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.handle", read_only=True)
    logo = serializers.ImageField(read_only=True)

    class Meta:
        model = Shop
        fields = [
            "handle",
            "name",
            "description",
            "return_policy",
            "logo",
            "currency",
            "owner",
            "status",
            "created_at",
        ]
        read_only_fields = ["status", "created_at"]


class ShopOpenSerializer(serializers.Serializer):
    handle = serializers.CharField(max_length=24)
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    return_policy = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)


class ShopUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    return_policy = serializers.CharField(max_length=4000, required=False, allow_blank=True)


class ImageSerializer(serializers.ModelSerializer):
    large = serializers.ImageField(read_only=True)
    medium = serializers.ImageField(read_only=True)
    thumb = serializers.ImageField(read_only=True)

    class Meta:
        model = ProductImage
        fields = ["id", "position", "alt", "state", "large", "medium", "thumb", "width", "height"]


class VariantSerializer(serializers.ModelSerializer):
    price = serializers.IntegerField(source="price_minor", min_value=0, max_value=10**12)
    compare_at_price = serializers.IntegerField(
        source="compare_at_minor", min_value=0, max_value=10**12, required=False, allow_null=True
    )
    stock = serializers.IntegerField(min_value=0, max_value=10**9, required=False, default=0)
    title = serializers.CharField(read_only=True)

    class Meta:
        model = Variant
        fields = [
            "id",
            "title",
            "sku",
            "option1",
            "option2",
            "option3",
            "price",
            "compare_at_price",
            "stock",
            "grams",
            "barcode",
        ]
        extra_kwargs = {
            "sku": {"required": False, "allow_blank": True, "validators": []},
            "option1": {"required": False, "allow_blank": True},
            "option2": {"required": False, "allow_blank": True},
            "option3": {"required": False, "allow_blank": True},
            "grams": {"required": False},
            "barcode": {"required": False},
        }
        validators = []  # uniqueness is the service's (and the database's) job


class VariantUpdateSerializer(VariantSerializer):
    price = serializers.IntegerField(
        source="price_minor", min_value=0, max_value=10**12, required=False
    )
    stock = serializers.IntegerField(min_value=0, max_value=10**9, required=False)


class ProductSerializer(serializers.ModelSerializer):
    shop = serializers.CharField(source="shop.handle", read_only=True)
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )
    price = serializers.IntegerField(source="price_minor", read_only=True)
    compare_at_price = serializers.IntegerField(
        source="compare_at_minor", min_value=0, max_value=10**12, required=False, allow_null=True
    )
    affiliate_rate_bp = serializers.IntegerField(min_value=0, max_value=5000, required=False)
    variants = VariantSerializer(many=True, read_only=True)
    images = ImageSerializer(many=True, read_only=True)
    tags = serializers.CharField(max_length=500, required=False, allow_blank=True)
    # Reads every status (taken_down included); a merchant writes one of theirs.
    status = serializers.ChoiceField(choices=Product.SELLER_STATUSES, required=False)
    moderation_note = serializers.CharField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "shop",
            "handle",
            "title",
            "description",
            "description_html",
            "category",
            "vendor",
            "product_type",
            "tags",
            "status",
            "moderation_note",
            "currency",
            "price",
            "compare_at_price",
            "affiliate_rate_bp",
            "external_url",
            "option1_name",
            "option2_name",
            "option3_name",
            "variants",
            "images",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["handle", "description_html", "currency", "created_at", "updated_at"]


class ProductCreateSerializer(ProductSerializer):
    handle = serializers.SlugField(max_length=120, required=False, allow_blank=True)
    variants = VariantSerializer(many=True, required=False)
    price = serializers.IntegerField(
        source="price_minor",
        min_value=0,
        max_value=10**12,
        required=False,
        help_text="For a product without options: the price of its one variant.",
    )
    stock = serializers.IntegerField(
        min_value=0, max_value=10**9, required=False, help_text="For a product without options."
    )
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True)

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "stock", "sku"]
        read_only_fields = ["description_html", "currency", "created_at", "updated_at"]

    def validate(self, attrs):
        if not attrs.get("variants") and attrs.get("price_minor") is None:
            raise serializers.ValidationError(
                {"price": ["Give a price, or a list of variants with their prices."]}
            )
        return attrs


class ProductUpdateSerializer(ProductSerializer):
    title = serializers.CharField(max_length=200, required=False)


class ImageUploadSerializer(serializers.Serializer):
    image = serializers.FileField()
    alt = serializers.CharField(max_length=250, required=False, allow_blank=True)
