"""The live API: the feed and one live for everyone; scheduling, the carousel, pins,
deals and chat moderation for the host (and staff)."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User

from . import realtime, selectors, services, snapshots
from .models import ChatMessage, Deal, Stream
from .serializers import (
    CarouselAnswerSerializer,
    CarouselSerializer,
    ChatSettingsSerializer,
    DealAnswerSerializer,
    DealSerializer,
    GoLiveSerializer,
    MuteSerializer,
    PinSerializer,
    SnapshotSerializer,
    StreamCreatedSerializer,
    StreamScheduleSerializer,
    StreamSerializer,
)

# The states a live can be listed in; a cancelled one is nobody's to see.
LIST_STATUSES = [
    s.value for s in (Stream.Status.SCHEDULED, Stream.Status.LIVE, Stream.Status.ENDED)
]


class StreamListApi(ListAPIView):
    """Lives: `?status=live` for the ones on air (scheduled, ended also work)."""

    serializer_class = StreamSerializer
    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=LIST_STATUSES)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        status_ = self.request.query_params.get("status")
        if status_ is not None and status_ not in LIST_STATUSES:
            raise ValidationError({"status": [f"One of: {', '.join(LIST_STATUSES)}."]})
        return selectors.streams_list(status=status_ or "")

    @extend_schema(request=StreamScheduleSerializer, responses={201: StreamCreatedSerializer})
    def post(self, request):
        """Schedule a live. The answer carries the secret stream key, once."""
        if not request.user.is_authenticated:
            self.permission_denied(request)
        serializer = StreamScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stream, key = services.stream_schedule(host=request.user, **serializer.validated_data)
        data = StreamCreatedSerializer(stream).data
        data.update(stream_key=key, ingest_url=settings.RTMP_INGEST_URL)
        return Response(data, status=status.HTTP_201_CREATED)


class StreamDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=StreamSerializer)
    def get(self, request, pk):
        return Response(StreamSerializer(selectors.stream_get(pk=pk)).data)


class SnapshotApi(APIView):
    """What a new viewer gets first (and what a client that saw a gap in seq reloads)."""

    permission_classes = [AllowAny]

    @extend_schema(responses=SnapshotSerializer)
    def get(self, request, pk):
        stream = selectors.stream_get(pk=pk)
        return Response(snapshots.full(stream, viewers=realtime.viewers_total(stream.pk)))


class _HostApi(APIView):
    permission_classes = [IsAuthenticated]

    def stream(self, request, pk):
        return selectors.stream_get(pk=pk)


class GoLiveApi(_HostApi):
    @extend_schema(request=GoLiveSerializer, responses=StreamSerializer)
    def post(self, request, pk):
        serializer = GoLiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stream = services.stream_go_live(
            stream=self.stream(request, pk), actor=request.user, **serializer.validated_data
        )
        return Response(StreamSerializer(stream).data)


class EndApi(_HostApi):
    @extend_schema(request=None, responses=StreamSerializer)
    def post(self, request, pk):
        stream = services.stream_end(
            stream=self.stream(request, pk), actor=request.user, reason="ended by the host"
        )
        return Response(StreamSerializer(stream).data)


class KeyRotateApi(_HostApi):
    @extend_schema(request=None, responses=StreamCreatedSerializer)
    def post(self, request, pk):
        stream = selectors.host_stream_get(host=request.user, pk=pk)
        key = services.stream_key_rotate(stream=stream, actor=request.user)
        data = StreamCreatedSerializer(stream).data
        data.update(stream_key=key, ingest_url=settings.RTMP_INGEST_URL)
        return Response(data)


class CarouselApi(_HostApi):
    @extend_schema(request=CarouselSerializer, responses=CarouselAnswerSerializer)
    def post(self, request, pk):
        serializer = CarouselSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stream = self.stream(request, pk)
        services.carousel_set(
            stream=stream, actor=request.user, product_ids=serializer.validated_data["products"]
        )
        return Response({"carousel": snapshots.carousel(stream.pk)})


class PinApi(_HostApi):
    @extend_schema(request=PinSerializer, responses=CarouselAnswerSerializer)
    def post(self, request, pk):
        serializer = PinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stream = self.stream(request, pk)
        services.carousel_pin(
            stream=stream, actor=request.user, product_id=serializer.validated_data["product"]
        )
        return Response({"carousel": snapshots.carousel(stream.pk)})


class DealApi(_HostApi):
    @extend_schema(request=DealSerializer, responses={201: DealAnswerSerializer})
    def post(self, request, pk):
        serializer = DealSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deal = services.deal_start(
            stream=self.stream(request, pk),
            actor=request.user,
            product_id=data["product"],
            price_minor=data["price"],
            quantity=data["quantity"],
            seconds=data["seconds"],
        )
        return Response({"deal": snapshots.deal(deal)}, status=status.HTTP_201_CREATED)


class DealEndApi(_HostApi):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, pk):
        deal = get_object_or_404(Deal, pk=pk)
        services.deal_end(deal_id=deal.pk, reason="host", actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChatSettingsApi(_HostApi):
    @extend_schema(request=ChatSettingsSerializer, responses=StreamSerializer)
    def patch(self, request, pk):
        serializer = ChatSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stream = services.chat_settings(
            stream=self.stream(request, pk), actor=request.user, **serializer.validated_data
        )
        return Response(StreamSerializer(stream).data)


class MuteApi(_HostApi):
    @extend_schema(request=MuteSerializer, responses={204: None})
    def post(self, request, pk):
        serializer = MuteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = get_object_or_404(User, handle=serializer.validated_data["user"].lower())
        services.chat_mute(
            stream=self.stream(request, pk),
            actor=request.user,
            user=user,
            muted=serializer.validated_data["muted"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChatMessageApi(_HostApi):
    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        message = get_object_or_404(ChatMessage, pk=pk)
        services.chat_delete(actor=request.user, message_id=message.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReminderApi(_HostApi):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, pk):
        services.reminder_set(user=request.user, stream=self.stream(request, pk), on=True)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        services.reminder_set(user=request.user, stream=self.stream(request, pk), on=False)
        return Response(status=status.HTTP_204_NO_CONTENT)
