"""The checkout API: one-tap orders, the bag, addresses and the buyer's orders; the
merchant's orders of their shop. Another buyer's order, address or bag item is a 404 (its
id tells nothing); another shop's order is refused by the services (403).

Money-moving POSTs (placing an order, checking out the bag, refunding) take an
Idempotency-Key header: the same key with the same body returns the first answer, with
another body a 409 (payments.idempotency)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from payments.idempotency import HEADER, idempotent_response, validate_key
from shops.models import Shop
from shops.selectors import shop_for_owner

from . import selectors, services
from .errors import InvalidOrder, OrderNotFound
from .models import BagItem, Order
from .serializers import (
    AddressCreateSerializer,
    AddressSerializer,
    BagAddSerializer,
    BagItemSerializer,
    BagQuantitySerializer,
    BagSerializer,
    CheckoutSerializer,
    OrderPlaceSerializer,
    OrderSerializer,
    OrdersSerializer,
    RefundRequestSerializer,
    RefundSerializer,
    RejectRefundSerializer,
    ShipSerializer,
    ShopRefundSerializer,
)
from .throttles import CheckoutThrottle

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "1 to 100 printable characters, new for each new request. A retry with the same key "
        "and body gets the first answer; the same key with another body a 409."
    ),
)
STATUS_PARAM = OpenApiParameter("status", str, enum=Order.Status.values)


class _CheckoutThrottled:
    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(CheckoutThrottle())
        return throttles


def _idempotency_key(request) -> str:
    # Checked before the body, so that a client without a key learns it first.
    return validate_key(request.headers.get(HEADER))


def _status_filter(request) -> str:
    # A filter that is given must be one of them: "?status=" is refused like a typo is,
    # rather than quietly listing everything.
    value = request.query_params.get("status")
    if value is None:
        return ""
    if value not in Order.Status.values:
        raise InvalidOrder(fields={"status": [f"One of: {', '.join(Order.Status.values)}."]})
    return value


def _is_id(value: str) -> bool:
    # ASCII digits that fit a bigint: anything else would fail in the database, not here.
    return value.isascii() and value.isdigit() and len(value) <= 18


# --- reads ---------------------------------------------------------------------------------


def _buyer_order(buyer: User, order_id: int) -> Order:
    order = selectors.order_for_buyer(buyer=buyer, order_id=order_id)
    if order is None:
        raise OrderNotFound()
    return order


def _own_shop(request) -> Shop:
    shop = shop_for_owner(user=request.user)
    if shop is None:
        raise Http404
    return shop


def _shop_order(order: Order) -> Order:
    """An order of a shop the caller was just allowed to act on (by the service), for
    the answer."""
    return selectors.seller_order_get(shop=order.shop, order_id=order.pk)


# --- the buyer's orders --------------------------------------------------------------------


class OrderListApi(_CheckoutThrottled, ListAPIView):
    """The buyer's orders, newest first; `?status=` for one status."""

    permission_classes = [IsAuthenticated]
    serializer_class = OrderSerializer

    @extend_schema(parameters=[STATUS_PARAM])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.orders_for_buyer(
            buyer=self.request.user, status=_status_filter(self.request)
        ).prefetch_related("events")

    @extend_schema(
        request=OrderPlaceSerializer,
        responses={201: OrderSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request):
        """Buy now, from one shop. 201 with the order: paid, or pending_payment while a
        delayed card waits for its issuer. 409 out_of_stock / deal_ended / deal_sold_out /
        price_changed, 402 payment_declined (the order is cancelled, its stock back)."""
        key = _idempotency_key(request)
        serializer = OrderPlaceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def place():
            orders = services.order_place(
                buyer=request.user,
                items=data["items"],
                checkout_key=f"api:{key}",
                stream_id=data.get("stream"),
                address_id=data.get("address"),
                payment_method=data.get("payment_method") or None,
                one_shop=True,
            )
            order = _buyer_order(request.user, orders[0].pk)
            return status.HTTP_201_CREATED, OrderSerializer(order).data

        return idempotent_response(request, scope="orders.place", action=place)


class CheckoutApi(_CheckoutThrottled, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CheckoutSerializer,
        responses={201: OrdersSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request):
        """Check out the whole bag: one order per shop, all or none. The bag is emptied of
        what was ordered. Same errors as placing an order."""
        key = _idempotency_key(request)
        serializer = CheckoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def checkout():
            orders = services.bag_checkout(
                buyer=request.user,
                checkout_key=f"api:bag:{key}",
                address_id=data.get("address"),
                payment_method=data.get("payment_method") or None,
            )
            rows = selectors.orders_for_buyer(buyer=request.user).filter(
                pk__in=[o.pk for o in orders]
            )
            body = {"orders": OrderSerializer(rows.prefetch_related("events"), many=True).data}
            return status.HTTP_201_CREATED, body

        return idempotent_response(request, scope="orders.checkout", action=checkout)


class OrderDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OrderSerializer)
    def get(self, request, pk):
        return Response(OrderSerializer(_buyer_order(request.user, pk)).data)


class OrderCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=OrderSerializer)
    def post(self, request, pk):
        """Cancel before shipping: the stock goes back and a paid order is refunded in
        full. 409 once it has shipped."""
        services.order_cancel_by_buyer(buyer=request.user, order_id=pk)
        return Response(OrderSerializer(_buyer_order(request.user, pk)).data)


class OrderReceivedApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=OrderSerializer)
    def post(self, request, pk):
        """The buyer confirms the parcel arrived (shipped → delivered)."""
        order = _buyer_order(request.user, pk)
        services.order_deliver(actor=request.user, order_id=order.pk)
        return Response(OrderSerializer(_buyer_order(request.user, pk)).data)


class OrderRefundRequestApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=RefundRequestSerializer, responses={201: RefundSerializer})
    def post(self, request, pk):
        """Ask the shop for money back on a delivered order: some lines and units, or all."""
        serializer = RefundRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        refund = services.order_request_refund(
            buyer=request.user, order_id=pk, reason=data["reason"], lines=data.get("lines")
        )
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


# --- addresses -----------------------------------------------------------------------------


class AddressListApi(ListAPIView):
    """The buyer's shipping addresses, the default first."""

    permission_classes = [IsAuthenticated]
    serializer_class = AddressSerializer

    def get_queryset(self):
        return selectors.addresses_for(user=self.request.user)

    @extend_schema(request=AddressCreateSerializer, responses={201: AddressSerializer})
    def post(self, request):
        """Save an address; the first one (or one sent with "default": true) becomes the
        default that one-tap buying uses."""
        serializer = AddressCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        make_default = data.pop("default")
        address = services.address_add(user=request.user, data=data, make_default=make_default)
        return Response(AddressSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        """Orders keep their own copy: deleting an address changes none."""
        services.address_delete(user=request.user, address_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressDefaultApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=AddressSerializer)
    def post(self, request, pk):
        address = services.address_set_default(user=request.user, address_id=pk)
        return Response(AddressSerializer(address).data)


# --- the bag -------------------------------------------------------------------------------


def _bag_item(user: User, item_id: int) -> BagItem:
    for item in selectors.bag_for(user=user):
        if item.pk == item_id:
            return item
    raise Http404


class BagApi(APIView):
    """The bag, grouped by shop. Stock is reserved only at checkout."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=BagSerializer)
    def get(self, request):
        items = selectors.bag_for(user=request.user)
        return Response({"items": BagItemSerializer(items, many=True).data})

    @extend_schema(request=BagAddSerializer, responses={201: BagItemSerializer})
    def post(self, request):
        """Add units (to what is already there, up to the per-order limit)."""
        serializer = BagAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        item = services.bag_add(
            user=request.user,
            variant_id=data["variant"],
            quantity=data["quantity"],
            stream_id=data.get("stream"),
        )
        return Response(
            BagItemSerializer(_bag_item(request.user, item.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class BagItemApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=BagQuantitySerializer, responses={200: BagItemSerializer, 204: None})
    def patch(self, request, pk):
        """Set the quantity; 0 removes the item (204)."""
        _bag_item(request.user, pk)
        serializer = BagQuantitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        quantity = serializer.validated_data["quantity"]
        services.bag_set_quantity(user=request.user, item_id=pk, quantity=quantity)
        if quantity == 0:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(BagItemSerializer(_bag_item(request.user, pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        _bag_item(request.user, pk)
        services.bag_remove(user=request.user, item_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the merchant's orders -----------------------------------------------------------------


class ShopOrderListApi(ListAPIView):
    """The orders of the caller's shop, newest first. `?status=` and `?stream=` (a live's
    id) filter; `?q=` finds an order by its reference or number, or a buyer by handle."""

    permission_classes = [IsAuthenticated]
    serializer_class = OrderSerializer

    @extend_schema(
        parameters=[STATUS_PARAM, OpenApiParameter("stream", int), OpenApiParameter("q", str)]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        shop = _own_shop(self.request)
        raw_stream = self.request.query_params.get("stream")
        if raw_stream is not None and not _is_id(raw_stream):
            raise InvalidOrder(fields={"stream": [f"{raw_stream[:30]!r} is not a live's id."]})
        orders = selectors.seller_orders(
            shop=shop,
            status=_status_filter(self.request),
            stream_id=int(raw_stream) if raw_stream is not None else None,
            q=self.request.query_params.get("q", "")[:100],
        )
        return orders.select_related("shop").prefetch_related("events")


class ShopOrderShipApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ShipSerializer, responses=OrderSerializer)
    def post(self, request, pk):
        """Mark a paid order shipped; the buyer sees the carrier and tracking number."""
        serializer = ShipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_ship(actor=request.user, order_id=pk, **serializer.validated_data)
        return Response(OrderSerializer(_shop_order(order)).data)


class ShopOrderCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=OrderSerializer)
    def post(self, request, pk):
        """Cancel an order that has not shipped: stock back, a paid order refunded."""
        order = services.order_cancel_by_shop(actor=request.user, order_id=pk)
        return Response(OrderSerializer(_shop_order(order)).data)


class ShopOrderRefundApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=ShopRefundSerializer,
        responses={200: RefundSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request, pk):
        """Refund some units of a delivered order ("lines"), or approve the buyer's request
        (no "lines": what was requested, else everything left). 409 refund_exceeds_paid
        past what was paid and not yet refunded."""
        _idempotency_key(request)
        serializer = ShopRefundSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def refund():
            made = services.order_refund(
                actor=request.user, order_id=pk, lines=data.get("lines"), reason=data["reason"]
            )
            return status.HTTP_200_OK, RefundSerializer(made).data

        return idempotent_response(request, scope="orders.refund", action=refund)


class ShopOrderRejectRefundApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=RejectRefundSerializer, responses=RefundSerializer)
    def post(self, request, pk):
        """Turn down the buyer's refund request, saying why."""
        serializer = RejectRefundSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refund = services.order_reject_refund(
            actor=request.user, order_id=pk, reason=serializer.validated_data["reason"]
        )
        return Response(RefundSerializer(refund).data)
