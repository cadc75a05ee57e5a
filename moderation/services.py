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
from gifting import payouts
from gifting.models import Payout
from shops import errors as shops_errors
from shops import services as shops_services
from shops.models import Shop
from streams import events
from streams import services as streams_services
from streams.errors import InvalidTransition
from streams.models import ChatMessage, Stream

from .errors import (
    InvalidMute,
    InvalidSuspension,
    NoPermission,
    ReasonRequired,
    StaffProtected,
    TargetNotFound,
)
from .models import AuditEntry

REASON_MIN, REASON_MAX = 3, 1000
SUSPENSION_MAX_DAYS = 365
MUTE_MAX_HOURS = 720


def _require(actor: User, permission: str) -> None:
    if not (actor.is_active and actor.is_staff and actor.has_perm(f"moderation.{permission}")):
        raise NoPermission()


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise ReasonRequired(fields={"reason": [ReasonRequired.message]})
    return reason


def _record(
    *, actor: User, action: str, target, subject: User | None, reason: str, before, after
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        target_type=target._meta.label_lower,
        target_id=target.pk,
        target_repr=str(target)[:200],
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
            User.objects.filter(pk=host.pk).update(live_suspended_until=until)
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


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
