from celery import shared_task

from .remote_images import product_image_fetch


@shared_task(
    bind=True,
    name="shops.image_fetch",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=3,
)
def image_fetch(self, image_id: int) -> None:
    """Fetch one imported product image. Network errors retry with backoff; the last
    attempt marks the image FAILED instead of raising. Safe to run twice."""
    product_image_fetch(image_id=image_id, raise_transient=self.request.retries < self.max_retries)
