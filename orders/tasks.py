from celery import shared_task

from .emails import order_emails_send
from .services import orders_release_unpaid


@shared_task(
    name="orders.emails",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def order_emails(order_id: int, what: str) -> int:
    """Tell the buyer (and, for a new order, the shop) what happened to an order.
    Sent once per order and event, however often the task runs."""
    return order_emails_send(order_id=order_id, what=what)


@shared_task(name="orders.release_unpaid", acks_late=True)
def release_unpaid() -> int:
    """Cancel orders unpaid past their pay-by time and put their stock back (beat, every
    minute). Safe to run twice and beside itself."""
    return orders_release_unpaid()
