"""The coins and gifts API: the packs on sale, the caller's wallet, buying coins, the gift
catalog and sending a gift in a live.

Buying coins and sending gifts move money: each takes an Idempotency-Key header, and the
same key with the same body returns the first answer, with another body a 409
(payments.idempotency)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.idempotency import HEADER, idempotent_response, validate_key

from . import payouts, selectors, services
from .serializers import (
    CoinBuySerializer,
    CoinPackSerializer,
    CoinPurchaseSerializer,
    GiftSendInputSerializer,
    GiftSendSerializer,
    GiftSerializer,
    PayoutRequestSerializer,
    PayoutSerializer,
    WalletSerializer,
)
from .throttles import CoinsThrottle, GiftsThrottle

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "1 to 100 printable characters, new for each new purchase. A retry with the same key "
        "and body gets the first answer; the same key with another body a 409."
    ),
)


class CoinPackListApi(ListAPIView):
    """The coin packs on sale, in the order staff set. Open to everyone."""

    permission_classes = [AllowAny]
    serializer_class = CoinPackSerializer
    pagination_class = None  # a handful of packs, always shown together

    def get_queryset(self):
        return selectors.coin_packs_active()


class WalletApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=WalletSerializer)
    def get(self, request):
        """The caller's coins and their latest movements, newest first."""
        body = {
            "coins": selectors.wallet_balance(user=request.user),
            "history": selectors.wallet_history(user=request.user),
        }
        return Response(WalletSerializer(body).data)


class WalletCoinsApi(APIView):
    permission_classes = [IsAuthenticated]

    def get_throttles(self):
        return [*super().get_throttles(), CoinsThrottle()]

    @extend_schema(
        request=CoinBuySerializer,
        responses={201: CoinPurchaseSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request):
        """Buy a coin pack. 201 with the purchase: paid (the coins are in the wallet), or
        pending_payment while a delayed card waits for its issuer (the coins arrive with
        the payment). 402 payment_declined (nothing credited), 404 for a pack not on sale."""
        key = validate_key(request.headers.get(HEADER))
        serializer = CoinBuySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def buy():
            purchase = services.coins_buy(
                buyer=request.user,
                pack_id=data["pack"],
                payment_method=data.get("payment_method") or None,
                checkout_key=f"api:{key}",
            )
            return status.HTTP_201_CREATED, CoinPurchaseSerializer(purchase).data

        return idempotent_response(request, scope="gifting.coins", action=buy)


class GiftListApi(ListAPIView):
    """The gifts that can be sent, in the order staff set. Open to everyone."""

    permission_classes = [AllowAny]
    serializer_class = GiftSerializer
    pagination_class = None  # the gift panel shows the whole catalog at once

    def get_queryset(self):
        return selectors.gifts_active()


class StreamGiftsApi(APIView):
    permission_classes = [IsAuthenticated]

    def get_throttles(self):
        return [*super().get_throttles(), GiftsThrottle()]

    @extend_schema(
        request=GiftSendInputSerializer,
        responses={201: GiftSendSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request, pk: int):
        """Send a gift in a live on air: its coins leave the caller's wallet, the host earns
        their share (creator_share, in minor units) and everyone watching sees gift.sent.
        402 not_enough_coins, 409 stream_not_live, 400 gift_to_self, 404 for a gift that
        cannot be sent."""
        key = validate_key(request.headers.get(HEADER))
        serializer = GiftSendInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def send():
            sent = services.gift_send(
                sender=request.user,
                stream_id=pk,
                gift_id=data["gift"],
                quantity=data["quantity"],
                idempotency_key=f"api:{key}",
            )
            wallet = selectors.wallet_balance(user=request.user)
            return status.HTTP_201_CREATED, GiftSendSerializer(
                sent, context={"wallet": wallet}
            ).data

        return idempotent_response(request, scope="gifting.gift", action=send)


class PayoutListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PayoutSerializer(many=True))
    def get(self, request):
        """Your payouts, newest first (the latest 100)."""
        rows = selectors.payouts_for(creator=request.user)[:100]
        return Response(PayoutSerializer(rows, many=True).data)

    @extend_schema(
        request=PayoutRequestSerializer,
        responses={201: PayoutSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request):
        """Request a payout of settled earnings: the amount is held at once and staff
        approve or reject it. 201 with the payout (requested); 400 below the minimum;
        409 not_enough_earnings (nothing held)."""
        key = validate_key(request.headers.get(HEADER))
        serializer = PayoutRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def ask():
            payout = payouts.payout_request(
                creator=request.user,
                amount_minor=data["amount"],
                destination=data["destination"],
                idempotency_key=f"api:{key}",
            )
            return status.HTTP_201_CREATED, PayoutSerializer(payout).data

        return idempotent_response(request, scope="gifting.payout", action=ask)


class PayoutDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PayoutSerializer)
    def get(self, request, pk: int):
        """One of your payouts; 404 for anyone else's."""
        payout = selectors.payout_for(creator=request.user, payout_id=pk)
        return Response(PayoutSerializer(payout).data)
