from celery import shared_task
from django.db import OperationalError

from .settlement import earnings_settle, settlement_cutoff


@shared_task(
    name="gifting.settle_earnings",
    acks_late=True,
    # A deadlock or a dropped connection rolls back only the batch it hit; the rerun
    # settles what is left.
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def settle_earnings() -> int:
    """Settle hosts' gift earnings up to the end of the last whole period (beat, every
    period). Safe to run twice, on two workers at once and after being killed halfway."""
    return earnings_settle(until=settlement_cutoff())
