"""Settling hosts' gift earnings: from the unsettled, append-only earnings account into a
statement per host, currency and period, and into the host's settled (payable) balance.

Each gift credits `earnings:gifts:user:<id>:<CUR>` with an appended entry and leaves its
GiftSend unsettled (statement NULL). earnings_settle takes hosts in batches; for each batch,
one transaction:

1. INSERT the batch's statements for the period (ON CONFLICT DO NOTHING: a rerun or a second
   worker finds the same rows), then lock them in (creator, currency) order, the order the
   INSERT took its locks in, so that two runs over overlapping batches never deadlock and the
   second waits for the first to commit.
2. One UPDATE attaches every unsettled gift of those hosts sent before the period's end to
   its statement. `statement IS NULL` is the compare-and-set: a row is attached once.
3. Per statement, the sums of all its attached gifts; what they add to the statement's
   totals is what this transaction attached. It is posted to the ledger (unsettled earnings
   debited, settled earnings credited) under a key made of the statement and its last gift,
   and the totals are stored, all before commit.

A worker killed at any point leaves each batch either done (attached, posted, totalled) or
not begun; a rerun attaches what is left. Nothing depends on the task being acknowledged
late: running it again is always safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Subquery, Sum
from django.utils import timezone

from accounts.models import User
from payments.ledger import Line, account_get, ledger_post
from payments.ledger_models import LedgerAccount

from .models import EarningsStatement, GiftSend


def settled_account(*, creator_id: int, currency: str) -> LedgerAccount:
    """The host's settled earnings: what Tapbuy owes them, which a payout draws on. Only
    settlement credits it (once per batch, not per gift), so it keeps a cached balance
    that a payout's debit can guard."""
    return account_get(
        code=f"earnings:settled:user:{creator_id}:{currency}",
        kind=LedgerAccount.Kind.EARNINGS,
        unit=currency,
        owner=User(pk=creator_id),
        allow_negative=False,
        track_balance=True,
    )


def _unsettled_account(*, creator_id: int, currency: str) -> LedgerAccount:
    # The same account gift_send credits (made there on the first gift).
    return account_get(
        code=f"earnings:gifts:user:{creator_id}:{currency}",
        kind=LedgerAccount.Kind.EARNINGS,
        unit=currency,
        owner=User(pk=creator_id),
        allow_negative=False,
        track_balance=False,
    )


def settlement_cutoff(*, now: datetime | None = None) -> datetime:
    """The end of the last whole period before now (GIFTING_SETTLEMENT_PERIOD_SECONDS,
    counted from the Unix epoch in UTC): the `until` of a scheduled settlement. Every run
    within one period settles into the same statements."""
    now = now or timezone.now()
    period = settings.GIFTING_SETTLEMENT_PERIOD_SECONDS
    seconds = int(now.timestamp()) // period * period
    return datetime.fromtimestamp(seconds, tz=UTC)


def _unsettled(until: datetime):
    return GiftSend.objects.filter(statement__isnull=True, created_at__lt=until)


def _creator_batches(until: datetime, size: int) -> Iterator[list[int]]:
    """Hosts with unsettled earnings before until, `size` at a time in id order. Read
    outside any transaction; each batch re-checks its rows when it attaches them."""
    after = 0
    while True:
        batch = list(
            _unsettled(until)
            .filter(creator_id__gt=after)
            .order_by("creator_id")
            .values_list("creator_id", flat=True)
            .distinct()[:size]
        )
        if not batch:
            return
        yield batch
        after = batch[-1]


def _settle_batch(creator_ids: list[int], until: datetime) -> int:
    """Settle the unsettled earnings of these hosts before until, in one transaction.
    Returns the number of gift sends it attached."""
    pairs = sorted(
        set(
            _unsettled(until)
            .filter(creator_id__in=creator_ids)
            .values_list("creator_id", "currency")
            .distinct()
        )
    )
    if not pairs:
        return 0
    # Accounts are made (on first use) before the transaction, which stays short.
    accounts = {
        pair: (
            _unsettled_account(creator_id=pair[0], currency=pair[1]),
            settled_account(creator_id=pair[0], currency=pair[1]),
        )
        for pair in pairs
    }
    now = timezone.now()
    with transaction.atomic():
        EarningsStatement.objects.bulk_create(
            [
                EarningsStatement(creator_id=creator_id, currency=currency, period_end=until)
                for creator_id, currency in pairs
            ],
            ignore_conflicts=True,
        )
        # Locked in the INSERT's order (creator, currency): a second run over the same hosts
        # waits here until this one commits, then finds their gifts attached.
        statements = {
            (s.creator_id, s.currency): s
            for s in EarningsStatement.objects.select_for_update()
            .filter(creator_id__in=creator_ids, period_end=until)
            .order_by("creator_id", "currency")
        }
        statement_of = EarningsStatement.objects.filter(
            creator_id=OuterRef("creator_id"), currency=OuterRef("currency"), period_end=until
        )
        # The compare-and-set: only rows still unattached, and only where the statement
        # exists (a gift in a currency that appeared since the pairs were read waits for
        # the next run rather than being marked settled without one).
        attached = (
            _unsettled(until)
            .filter(creator_id__in=creator_ids)
            .filter(Exists(statement_of))
            .update(statement_id=Subquery(statement_of.values("pk")[:1]), settled_at=now)
        )
        if not attached:
            return 0
        sums = (
            GiftSend.objects.filter(statement__in=[s.pk for s in statements.values()])
            .values("statement_id")
            .annotate(
                gift_count=Count("pk"),
                coins=Sum("coins"),
                value_minor=Sum("value_minor"),
                creator_minor=Sum("creator_minor"),
                last_gift=Max("pk"),
            )
        )
        by_id = {s.pk: s for s in statements.values()}
        for row in sums:
            statement = by_id[row["statement_id"]]
            if row["gift_count"] == statement.gift_count:
                continue  # nothing attached to it by this transaction
            _post(statement, row, accounts[(statement.creator_id, statement.currency)])
            EarningsStatement.objects.filter(pk=statement.pk).update(
                gift_count=row["gift_count"],
                coins=row["coins"],
                value_minor=row["value_minor"],
                creator_minor=row["creator_minor"],
                updated_at=now,
            )
    return attached


def _post(statement: EarningsStatement, row: dict, accounts: tuple) -> None:
    """Move what this transaction added to the statement from the host's unsettled
    earnings to their settled balance. The key names the statement (and, for a later
    addition to it, its last gift): a replay of the same attachment posts once."""
    amount = row["creator_minor"] - statement.creator_minor
    if not amount:
        return  # gifts whose share rounded to nothing: counted, no money to move
    key = f"settlement:{statement.pk}"
    if statement.gift_count:
        key += f":{row['last_gift']}"
    unsettled, settled = accounts
    ledger_post(
        kind="earnings.settled",
        key=key,
        memo=f"gift earnings to {statement.period_end.isoformat()}",
        lines=[Line(unsettled, -amount), Line(settled, amount)],
    )


def earnings_settle(*, until: datetime, batch_size: int | None = None) -> int:
    """Settle every unsettled gift earning sent before until into one statement per host,
    currency and period (the period is until itself), and move its sum from the host's
    unsettled earnings to their settled balance. Returns the number of gift sends settled.

    Safe to run twice, beside itself and after being killed halfway: each batch of hosts
    (batch_size, default GIFTING_SETTLEMENT_BATCH) is one transaction, and a gift is
    attached to a statement only while it has none. The caller holds no transaction."""
    size = batch_size or settings.GIFTING_SETTLEMENT_BATCH
    total = 0
    for creator_ids in _creator_batches(until, size):
        total += _settle_batch(creator_ids, until)
    return total
