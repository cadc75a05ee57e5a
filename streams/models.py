import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


def hash_stream_key(key: str) -> str:
    """Stream keys are stored as their SHA-256: a leaked database does not let anyone
    broadcast as a host. Keys are long random tokens, so no salt or slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


class Stream(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        LIVE = "live", "Live"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="streams"
    )
    title = models.CharField(max_length=120)
    cover = models.ImageField(upload_to="streams/covers/%Y/%m/", blank=True)
    scheduled_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=200, blank=True)
    playback_url = models.URLField(max_length=500, blank=True)
    replay_url = models.URLField(max_length=500, blank=True)
    stream_key_hash = models.CharField(max_length=64, unique=True)
    stream_key_hint = models.CharField(max_length=8, blank=True)
    peak_viewers = models.PositiveIntegerField(default=0)
    likes_count = models.PositiveBigIntegerField(default=0)
    chat_count = models.PositiveBigIntegerField(default=0)
    slow_mode_seconds = models.PositiveIntegerField(default=0)
    blocked_words = models.TextField(blank=True, help_text="One word or phrase per line.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "-started_at"], name="stream_status_started_idx"),
            models.Index(fields=["status", "scheduled_at"], name="stream_status_sched_idx"),
            models.Index(fields=["host", "-created_at"], name="stream_host_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("streams:live", kwargs={"pk": self.pk})

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE

    @property
    def blocked_word_list(self) -> list[str]:
        return [w.strip().lower() for w in self.blocked_words.splitlines() if w.strip()]


STREAM_TRANSITIONS = {
    Stream.Status.SCHEDULED: {Stream.Status.LIVE, Stream.Status.CANCELLED},
    Stream.Status.LIVE: {Stream.Status.ENDED},
}


class CarouselItem(models.Model):
    """A product in a live's carousel. At most one is pinned."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="carousel")
    product = models.ForeignKey("shops.Product", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    pinned = models.BooleanField(default=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "product"], name="carousel_product_once"),
            # The last guard for "one pinned product": two hosts' tabs pinning at once.
            models.UniqueConstraint(
                fields=["stream"], condition=Q(pinned=True), name="carousel_one_pinned"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stream_id}: {self.product_id}"


class CarouselEvent(models.Model):
    """What happened to the carousel and when: the replay shows which product was on."""

    class Kind(models.TextChoices):
        ADDED = "added", "Added"
        REMOVED = "removed", "Removed"
        PINNED = "pinned", "Pinned"
        UNPINNED = "unpinned", "Unpinned"

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="carousel_events")
    product = models.ForeignKey("shops.Product", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["stream", "created_at"], name="carousel_event_idx")]

    def __str__(self) -> str:
        return f"{self.stream_id} {self.kind} {self.product_id}"


class Deal(models.Model):
    """A flash deal: a product at a deal price, for a limited quantity and time."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Running"
        ENDED = "ended", "Ended"

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="deals")
    product = models.ForeignKey("shops.Product", on_delete=models.CASCADE, related_name="+")
    price_minor = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    sold = models.PositiveIntegerField(default=0)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    ended_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stream"], condition=Q(status="active"), name="deal_one_active"
            ),
            # Claims decrement with a conditional UPDATE; this is the last guard.
            models.CheckConstraint(
                condition=Q(sold__lte=models.F("quantity")), name="deal_not_oversold"
            ),
            models.CheckConstraint(condition=Q(price_minor__gte=0), name="deal_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"Deal {self.pk} on {self.product_id}"

    @property
    def remaining(self) -> int:
        return self.quantity - self.sold


class ChatMessage(models.Model):
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="chat")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    hidden = models.BooleanField(default=False)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["stream", "-created_at"], name="chat_stream_idx")]

    def __str__(self) -> str:
        return self.text[:40]


class ChatMute(models.Model):
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="mutes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "user"], name="mute_once")]

    def __str__(self) -> str:
        return f"{self.user_id} muted in {self.stream_id}"


class Reminder(models.Model):
    """'Remind me' on an upcoming live; notified once when it goes on air."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "user"], name="remind_once")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.stream_id}"
