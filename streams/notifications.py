"""Telling people a live they asked about is on air."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from accounts.services import notify

from .models import Reminder, Stream

log = logging.getLogger(__name__)


def reminders_notify(*, stream_id: int) -> int:
    """Notify (in the app and by email) each reminded user once. Each reminder is claimed
    with a compare-and-set on notified_at, so a retried or duplicated task sends nothing
    twice. The email goes out after the claim commits; a failed email is logged."""
    stream = Stream.objects.select_related("host").filter(pk=stream_id).first()
    if stream is None or stream.status != Stream.Status.LIVE:
        return 0
    sent = 0
    pending = Reminder.objects.filter(stream=stream, notified_at__isnull=True).select_related(
        "user"
    )
    text = f"{stream.host.name} is live now: {stream.title}"
    url = stream.get_absolute_url()
    for reminder in pending:
        if not Reminder.objects.filter(pk=reminder.pk, notified_at__isnull=True).update(
            notified_at=timezone.now()
        ):
            continue
        notify(users=[reminder.user], text=text, url=url)
        if reminder.user.email:
            try:
                send_mail(
                    subject=text,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    message=f"{text}\n\nWatch: {settings.SITE_URL.rstrip('/')}{url}\n",
                    recipient_list=[reminder.user.email],
                )
            except OSError:
                log.warning("reminder email to user %s failed", reminder.user_id, exc_info=True)
        sent += 1
    return sent
