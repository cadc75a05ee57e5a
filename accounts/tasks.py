from celery import shared_task
from django.core.management import call_command


@shared_task(name="accounts.sessions_clear", acks_late=True, max_retries=3)
def sessions_clear() -> None:
    """Delete expired sessions (scheduled by beat). Safe to run twice."""
    call_command("clearsessions")
