"""The emails about an order. Each (order, event) is sent once: a claim row is taken
first (an OrderEvent whose kind is unique per order), so a task run twice (a redelivery, a
second send from the outbox) sends nothing more; a send that fails gives the claim back
for the task's retry. A worker killed between the claim and the send loses that email (at
most once: a buyer never gets the same email twice)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from .models import Order, OrderEvent

SUBJECTS = {
    "paid": "Your Tapbuy order {ref} is confirmed",
    "shipped": "Your Tapbuy order {ref} is on its way",
    "cancelled": "Your Tapbuy order {ref} was cancelled",
    "refunded": "A refund for your Tapbuy order {ref}",
}
MERCHANT_SUBJECT = "New order {ref} for {shop}"


def order_emails_send(*, order_id: int, what: str) -> int:
    if what not in SUBJECTS:
        raise ValueError(f"no email for {what!r}")
    order = (
        Order.objects.select_related("buyer", "shop__owner")
        .prefetch_related("lines")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        return 0
    # One email per event: a refund email per refund made, one of each other kind.
    sent_kind = f"email.{what}"
    if what == "refunded":
        sent_kind += f".{order.refunds.filter(status='refunded').count()}"
    try:
        with transaction.atomic():
            OrderEvent.objects.create(order=order, kind=sent_kind)
    except IntegrityError:
        return 0
    context = {"order": order, "site_url": settings.SITE_URL.rstrip("/"), "what": what}
    messages = []
    if order.buyer.email:
        messages.append(
            (
                SUBJECTS[what].format(ref=order.reference),
                render_to_string("orders/email/buyer.txt", context),
                settings.DEFAULT_FROM_EMAIL,
                [order.buyer.email],
            )
        )
    if what == "paid" and order.shop.owner.email:
        messages.append(
            (
                MERCHANT_SUBJECT.format(ref=order.reference, shop=order.shop.name),
                render_to_string("orders/email/merchant.txt", context),
                settings.DEFAULT_FROM_EMAIL,
                [order.shop.owner.email],
            )
        )
    try:
        return send_mass_mail(messages, fail_silently=False)
    except Exception:
        # The mail server refused or could not be reached: give the claim back, so that
        # the task's retry sends the emails instead of finding them claimed.
        OrderEvent.objects.filter(order=order, kind=sent_kind).delete()
        raise
