"""Reads for coins and gifts: the packs on sale, a wallet's balance and its history, a
live's gift totals and its top gifters."""

from __future__ import annotations

import functools

from django.db.models import Count, QuerySet, Sum

from accounts.models import User
from config.bulk import select
from payments.ledger_models import LedgerAccount, LedgerEntry

from .errors import PayoutNotFound
from .models import CoinPack, CoinPurchase, Gift, GiftSend, GiftTotal, Payout


def wallet_code(*, user_id: int) -> str:
    return f"wallet:coins:user:{user_id}"


def coin_packs_active() -> QuerySet[CoinPack]:
    """The packs on sale, in the order staff set."""
    return CoinPack.objects.filter(active=True).order_by("position", "coins", "pk")


def gifts_active() -> QuerySet[Gift]:
    return Gift.objects.filter(active=True).order_by("position", "coins", "pk")


def wallet_balance(*, user: User) -> int:
    """The user's coins: the wallet's cached balance, which ledger_post keeps equal to the
    sum of its entries. 0 before the first purchase (no account yet)."""
    balance = (
        LedgerAccount.objects.filter(code=wallet_code(user_id=user.pk))
        .values_list("balance", flat=True)
        .first()
    )
    return balance or 0


def wallet_history(*, user: User, limit: int = 50) -> list[LedgerEntry]:
    """The wallet's entries, newest first, each with its transaction (entry.transaction.kind
    says what moved the coins: "coins.purchased", later gifts sent). One query."""
    return list(
        LedgerEntry.objects.filter(account__code=wallet_code(user_id=user.pk))
        .select_related("transaction")
        .order_by("-created_at", "-pk")[:limit]
    )


def coin_purchases_for(*, buyer: User) -> QuerySet[CoinPurchase]:
    """The buyer's purchases, newest first."""
    return CoinPurchase.objects.filter(buyer=buyer).order_by("-created_at", "-pk")


def coin_purchase_for(*, buyer: User, purchase_id: int) -> CoinPurchase | None:
    return CoinPurchase.objects.filter(buyer=buyer, pk=purchase_id).first()


def gift_totals_for_stream(*, stream_id: int) -> dict:
    """What a live has received in gifts: {"gifts", "coins", "creator_minor"}, one query."""
    totals = GiftSend.objects.filter(stream_id=stream_id).aggregate(
        gifts=Count("pk"), coins=Sum("coins"), creator_minor=Sum("creator_minor")
    )
    return {
        "gifts": totals["gifts"],
        "coins": totals["coins"] or 0,
        "creator_minor": totals["creator_minor"] or 0,
    }


LEADERBOARD_SIZE = 5


def _ranked(totals: QuerySet[GiftTotal], limit: int) -> list[dict]:
    rows = totals.order_by("-coins", "last_send").values_list(
        "sender__handle", "sender__display_name", "coins"
    )[:limit]
    return [leader(*row) for row in rows]


def leader(handle: str, display_name: str, coins: int) -> dict:
    """One line of a leaderboard. The name as User.name says it: the display name, else
    the handle."""
    return {"handle": handle, "name": display_name or handle, "coins": coins}


def top_gifters_for_stream(*, stream_id: int, limit: int = LEADERBOARD_SIZE) -> list[dict]:
    """The live's top gifters: [{"handle", "name", "coins"}], most coins sent first, one
    query on the totals gift sending keeps (one row per gifter, however long the live). A tie
    goes to the sender who reached that total first (whose latest send is the oldest), so
    that someone who only matches a total does not overtake.

    Every batch of gift sends reads it: plain SQL, whose text is made once, where building
    the ORM's query cost more than running it."""
    return [leader(*row) for row in select(_top_gifters_sql(), [stream_id, limit])]


@functools.cache
def _top_gifters_sql() -> str:
    totals, users = GiftTotal._meta.db_table, User._meta.db_table
    return (
        f"SELECT u.handle, u.display_name, t.coins FROM {totals} AS t "  # noqa: S608
        f"JOIN {users} AS u ON u.id = t.sender_id WHERE t.stream_id = %s "
        "ORDER BY t.coins DESC, t.last_send LIMIT %s"
    )


TOP_FANS_SIZE = 10


def top_fans_for_creator(*, creator_id: int, limit: int = TOP_FANS_SIZE) -> list[dict]:
    """A host's all-time top fans across all their lives, as top_gifters_for_stream."""
    return _ranked(GiftTotal.objects.filter(creator_id=creator_id, stream__isnull=True), limit)


def payouts_for(*, creator: User) -> QuerySet[Payout]:
    """The host's own payouts, newest first."""
    return Payout.objects.filter(creator=creator).order_by("-created_at", "-pk")


def payout_for(*, creator: User, payout_id: int) -> Payout:
    """One of the host's payouts; another host's is PayoutNotFound like a missing one."""
    payout = payouts_for(creator=creator).filter(pk=payout_id).first()
    if payout is None:
        raise PayoutNotFound()
    return payout
