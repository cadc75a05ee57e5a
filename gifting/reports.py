"""Reads for a host's own earnings pages: what gifts earned them today and this week, per
live, what is pending settlement, settled and paid out, every gift they received and their
statements. Each function runs a fixed number of queries, however many gifts there were.

Money is in minor units of settings.TAPBUY_CURRENCY, the currency gifts are valued in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Case, Count, F, Max, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from payments.ledger_models import LedgerAccount, LedgerEntry

from .models import EarningsStatement, GiftSend, Payout

# Payouts asked for and not finished: their amount is held, out of the settled balance.
PAYOUT_IN_PROGRESS = [Payout.Status.REQUESTED, Payout.Status.APPROVED, Payout.Status.SENDING]


def _period_starts(now: datetime) -> tuple[datetime, datetime]:
    """The start of today and of this week (Monday) in the site's time zone."""
    # From dates, not by subtracting days from a time: a week that crosses a daylight
    # saving change still starts at midnight.
    date = timezone.localdate(now)
    monday = date - timedelta(days=date.weekday())
    return (
        timezone.make_aware(datetime.combine(date, time.min)),
        timezone.make_aware(datetime.combine(monday, time.min)),
    )


def _balances(codes: list[str]) -> dict[str, int]:
    """The balances of these ledger accounts by code, in one query; a missing account is
    absent. An account with a cached balance answers with it; one without (credited by
    every sale, so it keeps none) with the sum of its entries."""
    entries_sum = (
        LedgerEntry.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    # The entries are summed only where no balance is cached (CASE evaluates one branch).
    balance = Case(
        When(track_balance=True, then=F("balance")),
        default=Coalesce(Subquery(entries_sum), 0),
    )
    rows = (
        LedgerAccount.objects.filter(code__in=codes)
        .annotate(current=balance)
        .values_list("code", "current")
    )
    return dict(rows)


def earnings_overview(*, creator: User, now: datetime | None = None) -> dict:
    """The host's figures in the site currency, in three queries: today_minor and
    week_minor (their share of gifts sent since the start of today and of this week, settled
    or not), pending_minor and pending_gifts (gifts not yet settled), affiliate_minor
    (affiliate commission credited and not yet settled; 0 without an account),
    available_minor (the settled balance a payout draws on), held_minor (payouts under way)
    and paid_out_minor (payouts paid)."""
    currency = settings.TAPBUY_CURRENCY
    today, week = _period_starts(now or timezone.now())
    unsettled = Q(statement__isnull=True)
    gifts = (
        GiftSend.objects.filter(creator=creator, currency=currency)
        # Only this week's rows and the unsettled ones are summed: older settled gifts,
        # most of a long-time host's, are never read.
        .filter(Q(created_at__gte=week) | unsettled)
        .aggregate(
            today=Sum("creator_minor", filter=Q(created_at__gte=today)),
            week=Sum("creator_minor", filter=Q(created_at__gte=week)),
            pending=Sum("creator_minor", filter=unsettled),
            pending_gifts=Count("pk", filter=unsettled),
        )
    )
    settled_code = f"earnings:settled:user:{creator.pk}:{currency}"
    affiliate_code = f"earnings:affiliate:user:{creator.pk}:{currency}"
    balances = _balances([settled_code, affiliate_code])
    paid = Payout.objects.filter(creator=creator, currency=currency).aggregate(
        paid=Sum("amount_minor", filter=Q(status=Payout.Status.PAID)),
        held=Sum("amount_minor", filter=Q(status__in=PAYOUT_IN_PROGRESS)),
    )
    return {
        "currency": currency,
        "today_minor": gifts["today"] or 0,
        "week_minor": gifts["week"] or 0,
        "pending_minor": gifts["pending"] or 0,
        "pending_gifts": gifts["pending_gifts"],
        "affiliate_minor": balances.get(affiliate_code, 0),
        "available_minor": balances.get(settled_code, 0),
        "held_minor": paid["held"] or 0,
        "paid_out_minor": paid["paid"] or 0,
    }


def earnings_per_live(*, creator: User, limit: int = 20) -> list[dict]:
    """The host's lives that received gifts, the latest gift first: [{"stream_id",
    "title", "started_at", "gifts", "coins", "creator_minor"}]. One query."""
    rows = (
        GiftSend.objects.filter(creator=creator)
        .values("stream_id", "stream__title", "stream__started_at", "stream__scheduled_at")
        .annotate(
            gifts=Count("pk"),
            coins=Sum("coins"),
            creator_minor=Sum("creator_minor"),
            last=Max("created_at"),
        )
        .order_by("-last", "-stream_id")[:limit]
    )
    return [
        {
            "stream_id": row["stream_id"],
            "title": row["stream__title"],
            # A live that never started (gifts only go to lives on air, but a row can be
            # edited by staff) falls back to when it was scheduled.
            "started_at": row["stream__started_at"] or row["stream__scheduled_at"],
            "gifts": row["gifts"],
            "coins": row["coins"],
            "creator_minor": row["creator_minor"],
        }
        for row in rows
    ]


def gifts_received(*, creator: User) -> QuerySet[GiftSend]:
    """Every gift the host received, newest first, with its sender, gift and live loaded
    (one query per page or slice)."""
    return (
        GiftSend.objects.filter(creator=creator)
        .select_related("sender", "gift", "stream")
        .order_by("-created_at", "-pk")
    )


CSV_FIELDS = (
    "created_at",
    "sender__handle",
    "gift__name",
    "quantity",
    "coins",
    "value_minor",
    "creator_minor",
    "platform_minor",
    "currency",
    "stream_id",
    "stream__title",
)


def gifts_received_rows(*, creator: User, chunk_size: int = 2000) -> Iterator[tuple]:
    """Every gift the host received as plain tuples in CSV_FIELDS order, newest first,
    read in chunks so that a host with many gifts is not loaded into memory at once."""
    return (
        GiftSend.objects.filter(creator=creator)
        .order_by("-created_at", "-pk")
        .values_list(*CSV_FIELDS)
        .iterator(chunk_size=chunk_size)
    )


def statements_for(*, creator: User, limit: int = 20) -> QuerySet[EarningsStatement]:
    """The host's settlement statements, the latest period first."""
    return EarningsStatement.objects.filter(creator=creator).order_by("-period_end", "-pk")[:limit]
