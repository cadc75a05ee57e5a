from celery import shared_task


@shared_task(name="streams.deal_expire", acks_late=True, max_retries=3)
def deal_expire(deal_id: int) -> None:
    """End a deal whose time is up, if the live's tick has not (scheduled at its start,
    a few seconds after its end). Safe to run twice."""
    from django.utils import timezone

    from .models import Deal
    from .services import deal_end

    if Deal.objects.filter(pk=deal_id, ends_at__lte=timezone.now()).exists():
        deal_end(deal_id=deal_id, reason="time")


@shared_task(name="streams.deals_sweep", acks_late=True)
def deals_sweep() -> None:
    """End any running deal whose time is up, in case its own timer was lost."""
    from .services import DEAL_GRACE_SECONDS, deals_expire_due

    deals_expire_due(grace_seconds=DEAL_GRACE_SECONDS)


@shared_task(
    name="streams.reminders_notify",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def reminders_notify(stream_id: int) -> None:
    """Tell everyone who asked to be reminded that the live is on air. Safe to run twice."""
    from .notifications import reminders_notify as notify

    notify(stream_id=stream_id)
