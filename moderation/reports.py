"""Users report what breaks the rules: a live, a chat message, a product, a shop or
another user, with a reason from a list and free text. One open report per reporter and
target; staff decide them in admin (moderation.services)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from accounts.models import User
from shops.models import Product, Shop
from streams.models import ChatMessage, Stream

from .errors import AlreadyReported, CannotReportOwn, InvalidReport, ReportTargetNotFound
from .models import Report

TEXT_MAX = 1000


@dataclass(frozen=True)
class Target:
    """What a report is about: its kind, the object, a label for staff and the user it
    belongs to."""

    kind: str
    obj: object
    label: str
    owner: User | None


def target_get(kind: str, target_id) -> Target:
    """The reportable object of this kind and id, as the public sees it. Raises
    ReportTargetNotFound for an unknown kind, a bad id, or something not public."""
    try:
        pk = int(target_id)
    except (TypeError, ValueError):
        raise ReportTargetNotFound() from None
    if not 0 < pk < 2**63:
        raise ReportTargetNotFound()
    if kind == Report.Target.LIVE:
        stream = (
            Stream.objects.select_related("host")
            .exclude(status=Stream.Status.CANCELLED)
            .filter(pk=pk)
            .first()
        )
        if stream is not None:
            return Target(kind, stream, stream.title, stream.host)
    elif kind == Report.Target.CHAT_MESSAGE:
        # A message the host or staff hid is gone for viewers: its text is not shown again
        # on the report form, to anyone who guesses its id.
        message = ChatMessage.objects.select_related("user").filter(pk=pk, hidden=False).first()
        if message is not None:
            return Target(kind, message, f"@{message.user.handle}: {message.text}", message.user)
    elif kind == Report.Target.PRODUCT:
        product = (
            Product.objects.select_related("shop__owner")
            .filter(pk=pk, status=Product.Status.ACTIVE, shop__status=Shop.Status.APPROVED)
            .first()
        )
        if product is not None:
            return Target(kind, product, product.title, product.shop.owner)
    elif kind == Report.Target.SHOP:
        shop = (
            Shop.objects.select_related("owner").filter(pk=pk, status=Shop.Status.APPROVED).first()
        )
        if shop is not None:
            return Target(kind, shop, shop.name, shop.owner)
    elif kind == Report.Target.USER:
        user = User.objects.filter(pk=pk, is_active=True).first()
        if user is not None:
            return Target(kind, user, f"@{user.handle}", user)
    raise ReportTargetNotFound()


def report_create(
    *, reporter: User, target_type: str, target_id, reason: str, text: str = ""
) -> Report:
    """Report something. Raises InvalidReport (an unknown reason, text too long, "something
    else" without saying what), ReportTargetNotFound, CannotReportOwn, and AlreadyReported
    while this reporter's report of it is open."""
    text = (text or "").strip()
    errors: dict[str, list[str]] = {}
    if reason not in Report.Reason.values:
        errors["reason"] = ["Choose a reason from the list."]
    elif reason == Report.Reason.OTHER and not text:
        errors["text"] = ["Say what is wrong."]
    if len(text) > TEXT_MAX:
        errors["text"] = [f"At most {TEXT_MAX:,} characters."]
    if errors:
        raise InvalidReport(fields=errors)
    target = target_get(target_type, target_id)
    if target.owner is not None and target.owner.pk == reporter.pk:
        raise CannotReportOwn()
    try:
        with transaction.atomic():
            return Report.objects.create(
                reporter=reporter,
                target_type=target.kind,
                target_id=target.obj.pk,
                target_repr=target.label[:200],
                target_user=target.owner,
                reason=reason,
                text=text,
            )
    except IntegrityError:
        # report_one_open_per_reporter: the same tap twice, or two tabs at once.
        raise AlreadyReported() from None


def reports_of(*, reporter: User, limit: int = 50) -> list[Report]:
    """The reporter's own reports, newest first, with their status."""
    return list(Report.objects.filter(reporter=reporter).order_by("-pk")[:limit])
