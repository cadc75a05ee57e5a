from rest_framework import serializers

from config.fields import id_field

from .models import Stream


class StreamSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.handle", read_only=True)
    host_name = serializers.CharField(source="host.name", read_only=True)
    cover = serializers.ImageField(read_only=True)
    # Blank until the live has one: declared as plain strings, since "" is not a URI.
    playback_url = serializers.CharField(
        read_only=True, help_text="Where the video plays (HLS); empty until it is known."
    )
    replay_url = serializers.CharField(
        read_only=True, help_text="Where the replay plays; empty until there is one."
    )

    class Meta:
        model = Stream
        fields = [
            "id",
            "title",
            "host",
            "host_name",
            "cover",
            "status",
            "scheduled_at",
            "started_at",
            "ended_at",
            "playback_url",
            "replay_url",
            "peak_viewers",
            "likes_count",
        ]
        read_only_fields = fields


class StreamScheduleSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=120)
    scheduled_at = serializers.DateTimeField()
    playback_url = serializers.URLField(max_length=500, required=False, allow_blank=True)


class StreamCreatedSerializer(StreamSerializer):
    stream_key = serializers.CharField(read_only=True, help_text="Shown once: keep it secret.")
    ingest_url = serializers.CharField(read_only=True)

    class Meta(StreamSerializer.Meta):
        fields = [*StreamSerializer.Meta.fields, "stream_key", "ingest_url"]
        read_only_fields = fields


class GoLiveSerializer(serializers.Serializer):
    playback_url = serializers.URLField(max_length=500, required=False, allow_blank=True)


class CarouselSerializer(serializers.Serializer):
    products = serializers.ListField(child=id_field(), max_length=50)


class PinSerializer(serializers.Serializer):
    product = id_field(allow_null=True)


class DealSerializer(serializers.Serializer):
    product = id_field()
    price = serializers.IntegerField(min_value=0, max_value=10**12)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    seconds = serializers.IntegerField(min_value=10, max_value=3600)


class ChatSettingsSerializer(serializers.Serializer):
    slow_mode_seconds = serializers.IntegerField(min_value=0, max_value=600, required=False)
    blocked_words = serializers.CharField(max_length=4000, required=False, allow_blank=True)


class MuteSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=24)
    muted = serializers.BooleanField(default=True)


class SnapshotSerializer(serializers.Serializer):
    """The shape of GET streams/<id>/snapshot/ (documentation only)."""

    seq = serializers.IntegerField()
    stream = serializers.DictField()
    carousel = serializers.ListField(child=serializers.DictField())
    deal = serializers.DictField(allow_null=True)
    viewers = serializers.DictField()
    likes = serializers.IntegerField()
    chat = serializers.ListField(child=serializers.DictField())


class CarouselAnswerSerializer(serializers.Serializer):
    """What changing the carousel or the pin answers (documentation only)."""

    carousel = serializers.ListField(child=serializers.DictField())


class DealAnswerSerializer(serializers.Serializer):
    """What starting a flash deal answers (documentation only)."""

    deal = serializers.DictField()
