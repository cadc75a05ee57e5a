"""The catalog API: read for everyone, write for the owner. Another merchant's shop,
product, variant or image is a 404 (its id tells nothing), never a 403 that confirms it."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import DomainError

from . import selectors, services
from .models import Shop
from .serializers import (
    ImageSerializer,
    ImageUploadSerializer,
    ProductCreateSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
    ShopOpenSerializer,
    ShopSerializer,
    ShopUpdateSerializer,
    VariantSerializer,
    VariantUpdateSerializer,
)


class InvalidFilter(DomainError):
    code = "invalid"
    message = "A filter is not valid."


def _own_shop(request) -> Shop:
    shop = selectors.shop_for_owner(user=request.user)
    if shop is None:
        raise Http404
    return shop


def _variant_data(validated: dict) -> dict:
    return {k: v for k, v in validated.items() if v is not None or k == "compare_at_minor"}


class ShopListApi(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ShopSerializer

    def get_queryset(self):
        return selectors.shops_public()

    @extend_schema(request=ShopOpenSerializer, responses={201: ShopSerializer})
    def post(self, request):
        """Open a shop (business accounts). It waits for staff approval."""
        if not request.user.is_authenticated:
            self.permission_denied(request)
        serializer = ShopOpenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shop = services.shop_open(owner=request.user, **serializer.validated_data)
        return Response(ShopSerializer(shop).data, status=status.HTTP_201_CREATED)


class ShopDetailApi(APIView):
    permission_classes = [AllowAny]

    def _get(self, request, handle):
        own = selectors.shop_for_owner(user=request.user)
        if own is not None and own.handle == handle.lower():
            return own
        return selectors.shop_get_public(handle=handle)

    @extend_schema(responses=ShopSerializer)
    def get(self, request, handle):
        return Response(ShopSerializer(self._get(request, handle)).data)

    @extend_schema(request=ShopUpdateSerializer, responses=ShopSerializer)
    def patch(self, request, handle):
        if not request.user.is_authenticated:
            self.permission_denied(request)
        shop = _own_shop(request)
        if shop.handle != handle.lower():
            raise Http404
        serializer = ShopUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shop = services.shop_update(shop=shop, actor=request.user, **serializer.validated_data)
        return Response(ShopSerializer(shop).data)


def _price_param(request, name: str) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return int(raw)
    raise InvalidFilter(fields={name: [f"{raw!r} is not an amount in minor units (like 1999)."]})


class ProductListApi(ListAPIView):
    """Active products of approved shops. `q` searches words in title, description and tags;
    `min_price` / `max_price` are in minor units."""

    permission_classes = [AllowAny]
    serializer_class = ProductSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str),
            OpenApiParameter("shop", str),
            OpenApiParameter("category", str),
            OpenApiParameter("min_price", int),
            OpenApiParameter("max_price", int),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        low = _price_param(self.request, "min_price")
        high = _price_param(self.request, "max_price")
        return selectors.products_public(
            q=params.get("q", ""),
            shop=params.get("shop", ""),
            category=params.get("category", ""),
            min_price=low,
            max_price=high,
        )

    @extend_schema(request=ProductCreateSerializer, responses={201: ProductSerializer})
    def post(self, request):
        if not request.user.is_authenticated:
            self.permission_denied(request)
        shop = _own_shop(request)
        serializer = ProductCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        variants = [_variant_data(v) for v in data.pop("variants", [])]
        product = services.product_create(shop=shop, actor=request.user, variants=variants, **data)
        product = selectors.seller_product_get(shop=shop, pk=product.pk)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(APIView):
    permission_classes = [AllowAny]

    def _own(self, request, pk):
        if not request.user.is_authenticated:
            self.permission_denied(request)
        return selectors.seller_product_get(shop=_own_shop(request), pk=pk)

    @extend_schema(responses=ProductSerializer)
    def get(self, request, pk):
        own = selectors.shop_for_owner(user=request.user)
        if own is not None and own.products.filter(pk=pk).exists():
            product = selectors.seller_product_get(shop=own, pk=pk)
        else:
            product = selectors.product_get_public(pk=pk)
        return Response(ProductSerializer(product).data)

    @extend_schema(request=ProductUpdateSerializer, responses=ProductSerializer)
    def patch(self, request, pk):
        product = self._own(request, pk)
        serializer = ProductUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.product_update(product=product, actor=request.user, **serializer.validated_data)
        product = selectors.seller_product_get(shop=product.shop, pk=pk)
        return Response(ProductSerializer(product).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        """Archive the product (orders keep pointing at its variants)."""
        services.product_archive(product=self._own(request, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VariantCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=VariantSerializer, responses={201: VariantSerializer})
    def post(self, request, pk):
        product = selectors.seller_product_get(shop=_own_shop(request), pk=pk)
        serializer = VariantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        variant = services.variant_add(
            product=product, actor=request.user, **_variant_data(serializer.validated_data)
        )
        return Response(VariantSerializer(variant).data, status=status.HTTP_201_CREATED)


class VariantDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=VariantUpdateSerializer, responses=VariantSerializer)
    def patch(self, request, pk):
        variant = selectors.seller_variant_get(shop=_own_shop(request), pk=pk)
        serializer = VariantUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        variant = services.variant_update(
            variant=variant, actor=request.user, **serializer.validated_data
        )
        return Response(VariantSerializer(variant).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        variant = selectors.seller_variant_get(shop=_own_shop(request), pk=pk)
        services.variant_delete(variant=variant, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageCreateApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": ImageUploadSerializer}, responses={201: ImageSerializer}
    )
    def post(self, request, pk):
        product = selectors.seller_product_get(shop=_own_shop(request), pk=pk)
        serializer = ImageUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = services.product_image_add(
            product=product,
            actor=request.user,
            upload=serializer.validated_data["image"],
            alt=serializer.validated_data.get("alt", ""),
        )
        return Response(
            ImageSerializer(image, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ImageDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        image = selectors.seller_image_get(shop=_own_shop(request), pk=pk)
        services.product_image_delete(image=image, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SellerProductListApi(ListAPIView):
    """The merchant's own products, every status; `low_stock=1` for those running out."""

    permission_classes = [IsAuthenticated]
    serializer_class = ProductSerializer

    def get_queryset(self):
        params = self.request.query_params
        return selectors.seller_products(
            shop=_own_shop(self.request),
            q=params.get("q", ""),
            status=params.get("status", ""),
            low_stock=params.get("low_stock") in ("1", "true"),
        )
