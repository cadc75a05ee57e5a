from celery import shared_task

from .providers.simulated import simulated_webhook_send, simulated_webhooks_due


@shared_task(
    bind=True,
    name="payments.simulated_webhook",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def simulated_webhook(self, charge_ref: str) -> bool:
    """Settle a delayed simulated payment and POST its signed payment.succeeded webhook.
    While the site is unreachable, retries with backoff (about 1, 2, 4 ... up to 300 s);
    after the last retry the sweep takes over. Safe to run twice."""
    return simulated_webhook_send(charge_ref=charge_ref)


@shared_task(name="payments.simulated_webhooks_sweep", acks_late=True)
def simulated_webhooks_sweep() -> int:
    """Re-schedule the webhooks of delayed payments that are overdue (their task was lost
    or gave up). Scheduled by beat; safe to run twice (the webhook is sent once)."""
    refs = simulated_webhooks_due()
    for ref in refs:
        simulated_webhook.delay(ref)
    return len(refs)
