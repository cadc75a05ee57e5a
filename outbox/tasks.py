from celery import shared_task

from .services import outbox_relay


@shared_task(name="outbox.relay", acks_late=True)
def relay() -> int:
    """Send the outbox's tasks that could not be sent when their transaction committed
    (beat, every OUTBOX_RELAY_SECONDS). Safe to run twice and beside itself."""
    return outbox_relay()
