"""The transactional outbox: a Celery task to send, written in the same transaction as the
state change that calls for it, so that committed work is never orphaned by a broker that
is down at the moment of the commit (docs/operations.md, "Background work")."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxTask(models.Model):
    task = models.CharField(max_length=200, help_text="The Celery task's name.")
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    # Not handed to the broker before this: the relay that claims a row moves it forward
    # (a lease), so a relay that dies after its claim leaves the row to a later one.
    available_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The relay's only query: the unsent rows that are due, oldest first.
            models.Index(
                fields=["available_at"], condition=Q(sent_at__isnull=True), name="outbox_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.kwargs}"
