from celery import shared_task
from django.db import OperationalError

from . import payouts
from .services import coin_purchases_release_unpaid
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


@shared_task(name="gifting.release_unpaid", acks_late=True)
def release_unpaid() -> int:
    """Fail coin purchases whose payment never completed and void that payment (beat, every
    minute). Safe to run twice and beside itself."""
    return coin_purchases_release_unpaid()


@shared_task(
    name="gifting.payout_execute",
    acks_late=True,
    # A provider that cannot be reached leaves the payout in sending; the retry asks again
    # under the same idempotency key, so it is paid once.
    autoretry_for=(OSError, OperationalError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def payout_execute(payout_id: int) -> str | None:
    """Send an approved payout (enqueued when staff approve it). Safe to run twice."""
    payout = payouts.payout_execute(payout_id=payout_id)
    return payout.status if payout else None


@shared_task(name="gifting.payouts_sweep", acks_late=True)
def payouts_sweep() -> int:
    """Send again the payouts stuck without an outcome (beat, every 5 minutes)."""
    stuck = payouts.payouts_stuck()
    for payout_id in stuck:
        payout_execute.delay(payout_id)
    return len(stuck)
