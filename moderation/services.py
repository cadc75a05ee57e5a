"""Staff actions. Each checks the actor's role, asks for a reason, acts through the same
service the rest of the site uses (never writing the target's rows itself), and records
one audit entry in the same transaction: an action that fails leaves no entry, and an
entry always describes something that happened. Events go to the live after commit, as
the underlying services send them."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import User
from accounts.permissions import staff_can
from gifting import payouts
from gifting.models import Payout
from orders import services as orders_services
from orders.models import Order
from shops import errors as shops_errors
from shops import services as shops_services
from shops.models import Product, Shop
from streams import events
from streams import services as streams_services
from streams.errors import InvalidTransition
from streams.models import ChatMessage, Stream

from .errors import (
    InvalidMute,
    InvalidSuspension,
    NoPermission,
    NothingToDecide,
    ReasonRequired,
    StaffProtected,
    TargetNotFound,
)
from .models import AuditEntry, Report

REASON_MIN, REASON_MAX = 3, 1000
SUSPENSION_MAX_DAYS = 365
MUTE_MAX_HOURS = 720


def _require(actor: User, permission: str) -> None:
    if not staff_can(actor, permission):
        raise NoPermission()


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise ReasonRequired(fields={"reason": [ReasonRequired.message]})
    return reason


def _record(
    *,
    actor: User,
    action: str,
    target,
    subject: User | None,
    reason: str,
    before,
    after,
    target_type: str = "",
    target_repr: str = "",
) -> AuditEntry:
    """The audit entry of an action on target (a model instance, or a primary key with
    target_type and target_repr for one that may be gone)."""
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        target_type=target_type or target._meta.label_lower,
        target_id=getattr(target, "pk", target),
        target_repr=(target_repr or str(target))[:200],
        subject=subject,
        reason=reason,
        before=before,
        after=after,
    )


SHOP_DECISIONS = {
    # decision: (the shop's new status, the audit action)
    "approve": (Shop.Status.APPROVED, AuditEntry.Action.SHOP_APPROVE),
    "reject": (Shop.Status.REJECTED, AuditEntry.Action.SHOP_REJECT),
    "suspend": (Shop.Status.SUSPENDED, AuditEntry.Action.SHOP_SUSPEND),
    "reinstate": (Shop.Status.APPROVED, AuditEntry.Action.SHOP_REINSTATE),
}


def shop_decide(*, actor: User, shop_id: int, decision: str, reason: str) -> AuditEntry:
    """Approve a shop awaiting approval (it becomes public and can sell), reject it (the
    owner sees the reason and can edit and resubmit), suspend an approved shop (off the
    site, nothing sells) or reinstate a suspended one. Raises NoPermission without
    decide_shop, ReasonRequired, TargetNotFound, and shops' InvalidTransition for a shop
    in another state (approving a suspended shop is reinstating it)."""
    _require(actor, "decide_shop")
    reason = _reason(reason)
    to, action = SHOP_DECISIONS[decision]
    shop = Shop.objects.select_related("owner").filter(pk=shop_id).first()
    if shop is None:
        raise TargetNotFound()
    if decision == "approve" and shop.status == Shop.Status.SUSPENDED:
        raise shops_errors.InvalidTransition("A suspended shop is reinstated, not approved.")
    if decision == "reinstate" and shop.status != Shop.Status.SUSPENDED:
        raise shops_errors.InvalidTransition("Only a suspended shop is reinstated.")
    with transaction.atomic():
        shops_services.shop_transition(shop_id=shop.pk, to=to, actor=actor, reason=reason)
        if decision == "suspend":
            # Nothing of a suspended shop stays on sale in a live.
            streams_services.products_withdraw(
                product_ids=list(Product.objects.filter(shop=shop).values_list("pk", flat=True)),
                reason="shop_suspended",
            )
        return _record(
            actor=actor,
            action=action,
            target=shop,
            subject=shop.owner,
            reason=reason,
            before={"status": shop.status},
            after={"status": to},
        )


def payout_decide(*, actor: User, payout_id: int, approve: bool, reason: str) -> AuditEntry:
    """Approve a requested payout (a task sends it after commit) or reject it (the held
    money returns to the host's settled balance in the same transaction). Raises
    NoPermission without decide_payout (finance), ReasonRequired, TargetNotFound, and
    gifting's PayoutStateConflict for a payout decided already."""
    _require(actor, "decide_payout")
    reason = _reason(reason)
    payout = Payout.objects.select_related("creator").filter(pk=payout_id).first()
    if payout is None:
        raise TargetNotFound()
    decide = payouts.payout_approve if approve else payouts.payout_reject
    with transaction.atomic():
        decided = decide(payout_id=payout.pk, actor=actor, reason=reason)
        return _record(
            actor=actor,
            action=AuditEntry.Action.PAYOUT_APPROVE if approve else AuditEntry.Action.PAYOUT_REJECT,
            target=payout,
            subject=payout.creator,
            reason=reason,
            before={"status": payout.status},
            after={"status": decided.status, "amount_minor": decided.amount_minor},
        )


def live_end_now(*, actor: User, stream_id: int, reason: str, suspend_days: int = 0) -> AuditEntry:
    """End a live at once (its viewers get stream.state ended after commit) and, with
    suspend_days, keep its host from going live again for that many days. Raises
    NoPermission without the end_live permission, ReasonRequired, InvalidSuspension,
    TargetNotFound, and streams' InvalidTransition for a live that is not on air."""
    _require(actor, "end_live")
    reason = _reason(reason)
    if (
        isinstance(suspend_days, bool)
        or not isinstance(suspend_days, int)
        or not 0 <= suspend_days <= SUSPENSION_MAX_DAYS
    ):
        raise InvalidSuspension(fields={"suspend_days": [InvalidSuspension.message]})
    stream = Stream.objects.select_related("host").filter(pk=stream_id).first()
    if stream is None:
        raise TargetNotFound()
    host = stream.host
    before = {"status": stream.status, "host_live_suspended_until": _iso(host.live_suspended_until)}
    with transaction.atomic():
        # actor None: staff act beside the host's own controls, not as the host.
        ended = streams_services.stream_end(stream=stream, actor=None, reason=f"staff: {reason}")
        until = host.live_suspended_until
        if suspend_days:
            until = max(until or timezone.now(), timezone.now() + timedelta(days=suspend_days))
            accounts_services.user_live_suspend_until(user_id=host.pk, until=until)
        return _record(
            actor=actor,
            action=AuditEntry.Action.LIVE_END,
            target=ended,
            subject=host,
            reason=reason,
            before=before,
            after={"status": ended.status, "host_live_suspended_until": _iso(until)},
        )


def _user_target(user_id: int) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise TargetNotFound()
    if user.is_staff or user.is_superuser:
        raise StaffProtected()
    return user


def user_mute(*, actor: User, user_id: int, hours: int, reason: str) -> AuditEntry:
    """Keep a user out of every live's chat for so many hours (from now; a longer mute
    already running is kept). Raises NoPermission without mute_user, ReasonRequired,
    InvalidMute, TargetNotFound, StaffProtected for a staff account."""
    _require(actor, "mute_user")
    reason = _reason(reason)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MUTE_MAX_HOURS:
        raise InvalidMute(fields={"hours": [InvalidMute.message]})
    user = _user_target(user_id)
    until = timezone.now() + timedelta(hours=hours)
    if user.chat_muted_until is not None and user.chat_muted_until > until:
        until = user.chat_muted_until
    with transaction.atomic():
        accounts_services.user_mute_until(user_id=user.pk, until=until)
        return _record(
            actor=actor,
            action=AuditEntry.Action.USER_MUTE,
            target=user,
            subject=user,
            reason=reason,
            before={"chat_muted_until": _iso(user.chat_muted_until)},
            after={"chat_muted_until": _iso(until)},
        )


def user_ban(*, actor: User, user_id: int, reason: str) -> AuditEntry:
    """Ban a user: the account is deactivated (signed out everywhere at its next request,
    its API tokens deleted), its lives on air are ended and its scheduled ones cancelled,
    and after commit its open live sockets are closed. Raises NoPermission without
    ban_user, ReasonRequired, TargetNotFound, StaffProtected for a staff account."""
    _require(actor, "ban_user")
    reason = _reason(reason)
    user = _user_target(user_id)
    lives = list(
        Stream.objects.filter(
            host=user, status__in=[Stream.Status.LIVE, Stream.Status.SCHEDULED]
        ).order_by("pk")
    )
    with transaction.atomic():
        banned = accounts_services.user_deactivate(user_id=user.pk)
        ended = []
        for stream in lives:
            try:
                if stream.status == Stream.Status.LIVE:
                    streams_services.stream_end(
                        stream=stream, actor=None, reason=f"staff: {reason}"
                    )
                else:
                    streams_services.stream_cancel(stream=stream, actor=actor)
            except InvalidTransition:
                continue  # it ended or started meanwhile: the ban goes on without it
            ended.append(stream.pk)
        events.user_sign_out(user.pk)
        return _record(
            actor=actor,
            action=AuditEntry.Action.USER_BAN,
            target=user,
            subject=user,
            reason=reason,
            before={"is_active": user.is_active},
            after={"is_active": False, "lives_ended": ended, "was_active": banned},
        )


def chat_message_hide(*, actor: User, message_id: int, reason: str) -> AuditEntry:
    """Hide a chat line for everyone at once (chat.deleted to the live after commit).
    Raises NoPermission without moderate_chat, ReasonRequired, TargetNotFound."""
    return _chat_message_set(actor=actor, message_id=message_id, reason=reason, hidden=True)


def chat_message_restore(*, actor: User, message_id: int, reason: str) -> AuditEntry:
    """Show a hidden chat line again: in the chat history of every snapshot from now on
    (the live is not sent the line a second time). Same errors as chat_message_hide."""
    return _chat_message_set(actor=actor, message_id=message_id, reason=reason, hidden=False)


def _chat_message_set(*, actor: User, message_id: int, reason: str, hidden: bool) -> AuditEntry:
    _require(actor, "moderate_chat")
    reason = _reason(reason)
    message = ChatMessage.objects.select_related("user").filter(pk=message_id).first()
    if message is None:
        raise TargetNotFound()
    before = {"hidden": message.hidden}
    with transaction.atomic():
        if hidden:
            streams_services.chat_delete(actor=actor, message_id=message_id)
        else:
            streams_services.chat_restore(actor=actor, message_id=message_id)
        return _record(
            actor=actor,
            action=AuditEntry.Action.CHAT_HIDE if hidden else AuditEntry.Action.CHAT_RESTORE,
            target=message,
            subject=message.user,
            reason=reason,
            before=before,
            after={"hidden": hidden},
        )


def product_take_down(*, actor: User, product_id: int, reason: str) -> AuditEntry:
    """Take a product down: off every public page and list, not for sale, out of every
    live's carousel (the viewers get carousel.updated, a running deal on it ends), its
    merchant told why and unable to publish it again. Raises NoPermission without
    take_down_product, ReasonRequired, TargetNotFound, and shops' InvalidTransition for a
    product taken down already."""
    _require(actor, "take_down_product")
    reason = _reason(reason)
    product = Product.objects.select_related("shop__owner").filter(pk=product_id).first()
    if product is None:
        raise TargetNotFound()
    with transaction.atomic():
        before = shops_services.product_take_down(product_id=product.pk, reason=reason)
        lives = streams_services.products_withdraw(product_ids=[product.pk], reason="taken_down")
        return _record(
            actor=actor,
            action=AuditEntry.Action.PRODUCT_TAKE_DOWN,
            target=product,
            subject=product.shop.owner,
            reason=reason,
            before={"status": before},
            after={"status": Product.Status.TAKEN_DOWN, "removed_from_lives": lives},
        )


def product_restore(*, actor: User, product_id: int, reason: str) -> AuditEntry:
    """Lift a takedown: the product returns to the status it had when it was taken down
    (from the audit log; draft if no entry says), and its merchant is in charge of it
    again. It is not put back into any carousel. Same errors as product_take_down, with
    InvalidTransition for a product that is not taken down."""
    _require(actor, "take_down_product")
    reason = _reason(reason)
    product = Product.objects.select_related("shop__owner").filter(pk=product_id).first()
    if product is None:
        raise TargetNotFound()
    taken = (
        AuditEntry.objects.filter(
            action=AuditEntry.Action.PRODUCT_TAKE_DOWN,
            target_type=Product._meta.label_lower,
            target_id=product.pk,
        )
        .order_by("-pk")
        .values_list("before", flat=True)
        .first()
    )
    to = (taken or {}).get("status")
    if to not in Product.SELLER_STATUSES:
        to = Product.Status.DRAFT
    with transaction.atomic():
        shops_services.product_restore(product_id=product.pk, to=to)
        return _record(
            actor=actor,
            action=AuditEntry.Action.PRODUCT_RESTORE,
            target=product,
            subject=product.shop.owner,
            reason=reason,
            before={"status": product.status},
            after={"status": to},
        )


def order_refund(*, actor: User, order_id: int, reason: str) -> AuditEntry:
    """Give a buyer their money back: an order not yet shipped is cancelled (stock back,
    the payment voided or refunded), a delivered one refunded (what the buyer asked for,
    else all that is left), through the orders services. The provider is called outside
    any transaction, so the entry is written once the refund has gone through. Raises
    NoPermission without refund_order (finance), ReasonRequired, TargetNotFound, and
    orders' InvalidTransition for an order in transit or closed."""
    _require(actor, "refund_order")
    reason = _reason(reason)
    order = Order.objects.select_related("buyer").filter(pk=order_id).first()
    if order is None:
        raise TargetNotFound()
    before = {
        "status": order.status,
        "payment_state": order.payment_state,
        "refunded_minor": order.refunded_minor,
    }
    if order.status in (Order.Status.PENDING_PAYMENT, Order.Status.PAID):
        orders_services.order_cancel(order_id=order.pk, actor=actor, reason=f"staff: {reason}")
    else:
        orders_services.order_refund(actor=actor, order_id=order.pk, reason=f"staff: {reason}")
    order.refresh_from_db()
    return _record(
        actor=actor,
        action=AuditEntry.Action.ORDER_REFUND,
        target=order,
        subject=order.buyer,
        reason=reason,
        before=before,
        after={
            "status": order.status,
            "payment_state": order.payment_state,
            "refunded_minor": order.refunded_minor,
        },
    )


# --- reports --------------------------------------------------------------------------------

# A report's kind: the model it names, and the audit log's name for that model.
REPORT_MODELS = {
    Report.Target.LIVE: Stream,
    Report.Target.CHAT_MESSAGE: ChatMessage,
    Report.Target.PRODUCT: Product,
    Report.Target.SHOP: Shop,
    Report.Target.USER: User,
}


def _resolve_action(actor: User, kind: str, target, reason: str, options: dict):
    """Act on a reported target as resolving its reports does, through the action's own
    service (with its own permission check and audit entry). Returns that entry, or None
    when the target is in that state already (a live ended, a message hidden...)."""
    if kind == Report.Target.LIVE:
        if target.status != Stream.Status.LIVE:
            return None
        return live_end_now(
            actor=actor,
            stream_id=target.pk,
            reason=reason,
            suspend_days=options.get("suspend_days", 0),
        )
    if kind == Report.Target.CHAT_MESSAGE:
        if target.hidden:
            return None
        return chat_message_hide(actor=actor, message_id=target.pk, reason=reason)
    if kind == Report.Target.PRODUCT:
        if target.status == Product.Status.TAKEN_DOWN:
            return None
        return product_take_down(actor=actor, product_id=target.pk, reason=reason)
    if kind == Report.Target.SHOP:
        if target.status != Shop.Status.APPROVED:
            return None
        return shop_decide(actor=actor, shop_id=target.pk, decision="suspend", reason=reason)
    if options.get("ban"):
        if not target.is_active:
            return None
        return user_ban(actor=actor, user_id=target.pk, reason=reason)
    return user_mute(actor=actor, user_id=target.pk, hours=options.get("hours", 24), reason=reason)


def report_resolve(
    *, actor: User, target_type: str, target_id: int, reason: str, **options
) -> AuditEntry:
    """Uphold the open reports of one target and act on it: a live is ended (options:
    suspend_days for its host), a chat message hidden, a product taken down, a shop
    suspended, a user muted (options: hours, default 24) or banned (ban=True). The action
    is the one staff would take directly (its audit entry, its events); the reports close
    with one entry more, linked from each. A target already dealt with closes its reports
    without acting again. Raises NoPermission without resolve_report (or the action's
    permission), ReasonRequired, TargetNotFound, NothingToDecide when no report is open,
    and the action's own errors."""
    _require(actor, "resolve_report")
    reason = _reason(reason)
    model = REPORT_MODELS.get(target_type)
    target = model.objects.filter(pk=target_id).first() if model is not None else None
    if target is None:
        raise TargetNotFound()
    with transaction.atomic():
        # Staff deciding the same target at once: the second waits here, then finds the
        # reports closed.
        reports = list(
            Report.objects.select_for_update()
            .filter(status=Report.Status.OPEN, target_type=target_type, target_id=target.pk)
            .order_by("pk")
        )
        if not reports:
            raise NothingToDecide()
        acted = _resolve_action(actor, target_type, target, reason, options)
        return _close_reports(
            actor=actor,
            reports=reports,
            status=Report.Status.RESOLVED,
            action=AuditEntry.Action.REPORT_RESOLVE,
            reason=reason,
            after={
                "action": acted.action if acted else None,
                "action_entry": acted.pk if acted else None,
            },
        )


def report_dismiss(*, actor: User, target_type: str, target_id: int, reason: str) -> AuditEntry:
    """Close the open reports of one target without acting on it (the target may be gone).
    Raises NoPermission without resolve_report, ReasonRequired, NothingToDecide."""
    _require(actor, "resolve_report")
    reason = _reason(reason)
    with transaction.atomic():
        reports = list(
            Report.objects.select_for_update()
            .filter(status=Report.Status.OPEN, target_type=target_type, target_id=target_id)
            .order_by("pk")
        )
        if not reports:
            raise NothingToDecide()
        return _close_reports(
            actor=actor,
            reports=reports,
            status=Report.Status.DISMISSED,
            action=AuditEntry.Action.REPORT_DISMISS,
            reason=reason,
            after={},
        )


def _close_reports(
    *, actor: User, reports: list[Report], status: str, action: str, reason: str, after: dict
) -> AuditEntry:
    first = reports[0]
    model = REPORT_MODELS.get(first.target_type)
    ids = [report.pk for report in reports]
    entry = _record(
        actor=actor,
        action=action,
        target=first.target_id,
        target_type=model._meta.label_lower if model else first.target_type,
        target_repr=first.target_repr,
        subject=first.target_user,
        reason=reason,
        before={"status": Report.Status.OPEN, "reports": ids},
        after={"status": status, **after},
    )
    Report.objects.filter(pk__in=ids).update(
        status=status, decided_by=actor, decided_at=timezone.now(), decision=entry
    )
    return entry


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
