"""Reads for staff: the queues on the admin index, a user's moderation history."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import User
from gifting.models import Payout
from shops.models import Shop

from .models import AuditEntry

HISTORY_SIZE = 100


def queues_for(*, user: User) -> list[dict]:
    """What waits for staff, as [{"label", "count", "url"}]: only the queues this user can
    act on. Each count reads one status's rows of an index (shop_status_idx,
    payout_status_idx), small however big the tables grow."""
    queues = []
    if user.has_perm("moderation.decide_shop"):
        queues.append(
            {
                "label": "Shops awaiting approval",
                "count": Shop.objects.filter(status=Shop.Status.PENDING).count(),
                "url": reverse("admin:shops_shop_changelist") + "?status__exact=pending",
            }
        )
    if user.has_perm("moderation.decide_payout"):
        queues.append(
            {
                "label": "Payout requests awaiting approval",
                "count": Payout.objects.filter(status=Payout.Status.REQUESTED).count(),
                "url": reverse("admin:gifting_payout_changelist") + "?status__exact=requested",
            }
        )
    return queues


def moderation_history(*, user: User, limit: int = HISTORY_SIZE) -> dict:
    """{"about": staff actions about this user, newest first; "by": the actions this user
    took as staff}: two index reads (audit_subject_idx, audit_actor_idx), at most limit
    each."""
    entries = AuditEntry.objects.select_related("actor", "subject")
    return {
        "about": list(entries.filter(subject=user)[:limit]),
        "by": list(entries.filter(actor=user)[:limit]),
    }
