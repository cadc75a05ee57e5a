"""Reads for staff: the queues on the admin index, a user's moderation history."""

from __future__ import annotations

from django.db.models import Count, Max, Min
from django.urls import reverse

from accounts.models import User
from gifting.models import Payout
from shops.models import Shop

from .models import AuditEntry, Report

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
    if user.has_perm("moderation.resolve_report"):
        queues.append(
            {
                "label": "Open reports",
                "count": Report.objects.filter(status=Report.Status.OPEN).count(),
                "url": reverse("admin:moderation_report_queue"),
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
    took as staff; "reports": reports against this user or what is theirs}: three index
    reads (audit_subject_idx, audit_actor_idx, report_against_idx), at most limit each."""
    entries = AuditEntry.objects.select_related("actor", "subject")
    return {
        "about": list(entries.filter(subject=user)[:limit]),
        "by": list(entries.filter(actor=user)[:limit]),
        "reports": list(
            Report.objects.filter(target_user=user)
            .select_related("reporter", "decided_by")
            .order_by("-created_at", "-pk")[:limit]
        ),
    }


QUEUE_PAGE = 50


def report_queue(*, page: int = 1, size: int = QUEUE_PAGE) -> dict:
    """The open reports grouped by target, most-reported first (the oldest first among
    equals): {"groups": [{"target_type", "target_id", "label", "reports", "first",
    "last", "reasons": [(label, count)], "owner"}], "total": groups in all, "page",
    "pages"}. Three queries, each over the open reports only (report_open_target_idx)."""
    open_reports = Report.objects.filter(status=Report.Status.OPEN)
    grouped = open_reports.values("target_type", "target_id")
    total = grouped.annotate(n=Count("pk")).count()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    groups = list(
        grouped.annotate(
            reports=Count("pk"),
            first=Min("created_at"),
            last=Max("created_at"),
            label=Max("target_repr"),
            owner=Max("target_user_id"),
        ).order_by("-reports", "first", "target_type", "target_id")[(page - 1) * size : page * size]
    )
    reasons: dict[tuple, list] = {}
    if groups:
        labels = dict(Report.Reason.choices)
        keys = {(g["target_type"], g["target_id"]) for g in groups}
        rows = (
            open_reports.filter(target_id__in={key[1] for key in keys})
            .values_list("target_type", "target_id", "reason")
            .annotate(n=Count("pk"))
            .order_by("-n", "reason")
        )
        for target_type, target_id, reason, n in rows:
            if (target_type, target_id) in keys:
                reasons.setdefault((target_type, target_id), []).append((labels[reason], n))
    kinds = dict(Report.Target.choices)
    for group in groups:
        key = (group["target_type"], group["target_id"])
        group["reasons"] = reasons.get(key, [])
        group["kind"] = kinds.get(group["target_type"], group["target_type"])
    return {"groups": groups, "total": total, "page": page, "pages": pages}


def reports_of_target(*, target_type: str, target_id: int, limit: int = 200) -> list[Report]:
    """The open reports of one target, oldest first, for staff deciding them."""
    return list(
        Report.objects.filter(
            status=Report.Status.OPEN, target_type=target_type, target_id=target_id
        )
        .select_related("reporter")
        .order_by("pk")[:limit]
    )
