"""Settling hosts' earnings: their gift earnings and affiliate commissions, from the
unsettled earnings accounts into a statement per host, currency and period, and into the
host's settled (payable) balance.

Each gift credits `earnings:gifts:user:<id>:<CUR>` with an appended entry and leaves its
GiftSend unsettled (statement NULL). Each paid order from a live credits its host's
`earnings:affiliate:user:<id>:<CUR>`, and each refund of it debits the same account.
earnings_settle takes hosts in batches (those with unsettled gifts or an affiliate
account, in id order); for each batch, one transaction:

1. Lock the batch's affiliate accounts (primary-key order) and sum what is unsettled in
   each as of the period's end: its entries made before then, plus every settlement
   posting on it whenever made. The lock serializes two runs over the same host, even for
   different periods: the second sums after the first committed, and sees its postings.
2. INSERT the batch's statements for the period, where there is something to settle (ON
   CONFLICT DO NOTHING: a rerun or a second worker finds the same rows), then lock them in
   (creator, currency) order, the order the INSERT took its locks in, so that two runs over
   overlapping batches never deadlock and the second waits for the first to commit.
3. One UPDATE, a join with the statements, attaches every unsettled gift of those hosts
   sent before the period's end to its statement. `statement IS NULL` is the
   compare-and-set: a row is attached once.
4. Per statement, the sums of all its attached gifts; what they add to the statement's
   totals is what this transaction attached. That, and each positive affiliate net, is
   posted to the ledger (unsettled earnings debited, settled earnings credited) under keys
   made of the statement and its last gift or last counted entry, all postings of the
   batch in a few statements; the totals are stored with one UPDATE, all before commit.

A worker killed at any point leaves each batch either done (attached, posted, totalled) or
not begun; a rerun attaches what is left. Nothing depends on the task being acknowledged
late: running it again is always safe.

Affiliate commissions are not rows of their own: a refund after settlement debits the
unsettled account below zero, and that negative net is taken off the next settlement. A
net at or below zero (refunds beyond the commissions) moves nothing and waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from accounts.models import User
from config.bulk import one_of, select
from payments.ledger import Line, Posting, account_get, accounts_get, ledger_post_many
from payments.ledger_models import LedgerAccount, LedgerEntry

from .models import EarningsStatement, GiftSend

SETTLED_KIND = "earnings.settled"
AFFILIATE_PREFIX = "earnings:affiliate:user:"


def _settled_spec(creator_id: int, currency: str) -> dict:
    # Only settlement credits it (once per batch, not per gift or order), so it keeps a
    # cached balance that a payout's debit can guard.
    return {
        "code": f"earnings:settled:user:{creator_id}:{currency}",
        "kind": LedgerAccount.Kind.EARNINGS,
        "unit": currency,
        "owner_id": creator_id,
        "allow_negative": False,
        "track_balance": True,
    }


def _gifts_spec(creator_id: int, currency: str) -> dict:
    # The same account gift_send credits (made there on the first gift).
    return {
        "code": f"earnings:gifts:user:{creator_id}:{currency}",
        "kind": LedgerAccount.Kind.EARNINGS,
        "unit": currency,
        "owner_id": creator_id,
        "allow_negative": False,
        "track_balance": False,
    }


def settled_account(*, creator_id: int, currency: str) -> LedgerAccount:
    """The host's settled earnings: what Tapbuy owes them, which a payout draws on."""
    spec = _settled_spec(creator_id, currency)
    return account_get(owner=User(pk=spec.pop("owner_id")), **spec)


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


def _affiliate_accounts():
    return LedgerAccount.objects.filter(code__startswith=AFFILIATE_PREFIX, owner__isnull=False)


def _creator_batches(until: datetime, size: int) -> Iterator[list[int]]:
    """Hosts with unsettled gifts before until or an affiliate account, `size` at a time in
    id order. Read outside any transaction; each batch re-checks its rows when it settles
    them. Two queries a batch, each an index range that stops at `size`."""
    after = 0
    while True:
        with_gifts = _hosts_with_gifts(until, after, size)
        with_commissions = list(
            _affiliate_accounts()
            .filter(owner_id__gt=after)
            .order_by("owner_id")
            .values_list("owner_id", flat=True)
            .distinct()[:size]
        )
        batch = sorted(set(with_gifts) | set(with_commissions))[:size]
        if not batch:
            return
        yield batch
        after = batch[-1]


def _hosts_with_gifts(until: datetime, after: int, size: int) -> list[int]:
    """Up to `size` hosts after `after`, in id order, with unsettled gifts sent before
    until. A skip scan: one probe of the unsettled-gifts index per host found (a recursive
    query), where DISTINCT would read every unsettled gift of every host."""
    table = connection.ops.quote_name(GiftSend._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value(until)
    next_host = (
        f"SELECT creator_id FROM {table} WHERE statement_id IS NULL "  # noqa: S608
        "AND created_at < %s AND creator_id > {after} ORDER BY creator_id LIMIT 1"
    )
    rows = select(
        f"WITH RECURSIVE hosts (id) AS (SELECT ({next_host.format(after='%s')}) "  # noqa: S608
        f"UNION ALL SELECT ({next_host.format(after='hosts.id')}) FROM hosts "
        "WHERE hosts.id IS NOT NULL) SELECT id FROM hosts WHERE id IS NOT NULL LIMIT %s",
        [adapt, after, adapt, size],
    )
    return [row[0] for row in rows]


def _affiliate_nets(creator_ids: list[int], until: datetime) -> dict[tuple[int, str], tuple]:
    """Lock these hosts' affiliate accounts and sum what is unsettled in each as of until:
    {(creator, currency): (account, net, last entry counted)}. Runs in the batch's
    transaction; the lock makes a second settlement of the same host wait for this one. It
    is a no-key lock: an order paying a commission meanwhile (an entry referencing the
    account) does not wait for it."""
    accounts = list(
        _affiliate_accounts()
        .select_for_update(no_key=True)
        .filter(owner_id__in=creator_ids)
        .order_by("pk")
    )
    if not accounts:
        return {}
    # Entries made before until, and every settlement, also one of a later period run
    # first: what was settled is never counted again, whatever the order of the runs.
    sums = {
        row["account_id"]: (row["net"], row["last"])
        for row in LedgerEntry.objects.filter(account__in=accounts)
        .filter(Q(created_at__lt=until) | Q(transaction__kind=SETTLED_KIND))
        .values("account_id")
        .annotate(net=Sum("amount"), last=Max("pk"))
    }
    return {
        (a.owner_id, a.unit): (a, *sums[a.pk])
        for a in accounts
        if a.pk in sums and sums[a.pk][0] > 0
    }


def _settle_batch(creator_ids: list[int], until: datetime) -> int:
    """Settle the unsettled earnings of these hosts before until, in one transaction.
    Returns the number of gift sends it attached."""
    # Without the model's ordering, which DISTINCT would otherwise select too: one row per
    # host and currency, not one per gift.
    gift_pairs = set(
        _unsettled(until)
        .filter(creator_id__in=creator_ids)
        .order_by()
        .values_list("creator_id", "currency")
        .distinct()
    )
    commission_pairs = set(
        _affiliate_accounts().filter(owner_id__in=creator_ids).values_list("owner_id", "unit")
    )
    if not gift_pairs and not commission_pairs:
        return 0
    # Accounts are made (on first use) before the transaction, which stays short: a host
    # with an affiliate account gets a settled one even while their net waits.
    accounts = accounts_get(
        [_gifts_spec(*pair) for pair in sorted(gift_pairs)]
        + [_settled_spec(*pair) for pair in sorted(gift_pairs | commission_pairs)]
    )
    now = timezone.now()
    with transaction.atomic():
        nets = _affiliate_nets(creator_ids, until) if commission_pairs else {}
        pairs = sorted(gift_pairs | set(nets))
        if not pairs:
            return 0
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
        attached, added = _attach(gift_pairs, statements, until, now) if gift_pairs else (0, {})
        # Each statement's totals with what this transaction attached to it.
        sums = {}
        for statement in statements.values():
            delta = added.get(statement.pk)
            if delta:
                sums[statement.pk] = {
                    "gift_count": statement.gift_count + delta[0],
                    "coins": statement.coins + delta[1],
                    "value_minor": statement.value_minor + delta[2],
                    "creator_minor": statement.creator_minor + delta[3],
                    "last_gift": delta[4],
                }
        postings, totals, flagged = [], {}, []
        for pair, statement in statements.items():
            row = sums.get(statement.pk)
            changed = {}
            if row and row["gift_count"] != statement.gift_count:
                # Gifts attached by this transaction.
                amount = row["creator_minor"] - statement.creator_minor
                if amount:  # gifts whose share rounded to nothing move no money
                    # A later addition to the statement is named by the newest gift it
                    # attached: each gift is attached once, so no two share a key.
                    key = f"settlement:{statement.pk}"
                    if statement.gift_count:
                        key += f":{row['last_gift']}"
                    postings.append(
                        (
                            key,
                            f"gift earnings to {until.isoformat()}",
                            [
                                Line(accounts[_gifts_spec(*pair)["code"]], -amount),
                                Line(accounts[_settled_spec(*pair)["code"]], amount),
                            ],
                        )
                    )
                changed.update(
                    gift_count=row["gift_count"],
                    coins=row["coins"],
                    value_minor=row["value_minor"],
                    creator_minor=row["creator_minor"],
                )
            if pair in nets:
                account, net, last = nets[pair]
                # The last entry counted names the posting: a later one counts this
                # posting's own entry, whose id is higher, so no two share a key.
                postings.append(
                    (
                        f"settlement:{statement.pk}:affiliate:{last}",
                        f"affiliate commissions to {until.isoformat()}",
                        [Line(account, -net), Line(accounts[_settled_spec(*pair)["code"]], net)],
                    )
                )
                changed["affiliate_minor"] = statement.affiliate_minor + net
                if not account.allow_negative:
                    flagged.append(account.pk)
            if changed:
                totals[statement.pk] = {
                    "gift_count": statement.gift_count,
                    "coins": statement.coins,
                    "value_minor": statement.value_minor,
                    "creator_minor": statement.creator_minor,
                    "affiliate_minor": statement.affiliate_minor,
                    **changed,
                }
        if flagged:
            # A refund after settlement debits commissions already moved out: from now on
            # the unsettled account may go below zero, until the next settlement nets it.
            LedgerAccount.objects.filter(pk__in=flagged).update(allow_negative=True)
        results = ledger_post_many(
            [
                Posting(kind=SETTLED_KIND, key=key, memo=memo, lines=lines)
                for key, memo, lines in postings
            ]
        )
        # Settlement only credits cached balances; a refusal would mean a broken ledger,
        # and then nothing of this batch is kept.
        for result in results:
            if isinstance(result, Exception):
                raise result
        _store_totals(totals, now)
        # A statement this run found nothing for (another run, of a later period, took
        # its gifts first) is not kept empty.
        empty = [
            s.pk
            for s in statements.values()
            if s.pk not in totals and not s.gift_count and not s.affiliate_minor
        ]
        if empty:
            EarningsStatement.objects.filter(pk__in=empty, gift_count=0).delete()
    return attached


def _attach(gift_pairs, statements, until: datetime, now: datetime) -> tuple[int, dict]:
    """Attach every unsettled gift of these hosts sent before until to its statement: one
    UPDATE joined with the locked statements (a gift in a currency that appeared since the
    pairs were read finds none and waits for the next run rather than being marked
    settled without one). Returns the number of gifts attached and, per statement, what
    they add: (gifts, coins, value, host's share, newest gift id), summed from the rows the
    UPDATE returns (on PostgreSQL in the same statement), without reading them again."""
    ids = [statements[pair].pk for pair in sorted(gift_pairs) if pair in statements]
    if not ids:
        return 0, {}
    creator_ids = sorted({creator_id for creator_id, _ in gift_pairs})
    quote = connection.ops.quote_name
    gifts, stmts = quote(GiftSend._meta.db_table), quote(EarningsStatement._meta.db_table)
    in_statements, statement_params = one_of("s.id", ids)
    in_creators, creator_params = one_of(f"{gifts}.creator_id", creator_ids)
    adapt = connection.ops.adapt_datetimefield_value
    # Only table names and placeholders are formatted in; every value is bound.
    update = (
        f"UPDATE {gifts} SET statement_id = s.id, settled_at = %s "  # noqa: S608
        f"FROM {stmts} AS s WHERE {in_statements} AND {in_creators} "
        f"AND {gifts}.statement_id IS NULL AND {gifts}.created_at < %s "
        f"AND {gifts}.creator_id = s.creator_id AND {gifts}.currency = s.currency "
        f"RETURNING {gifts}.statement_id, {gifts}.id, {gifts}.coins, {gifts}.value_minor, "
        f"{gifts}.creator_minor"
    )
    params = [adapt(now), *statement_params, *creator_params, adapt(until)]
    if connection.vendor == "postgresql":
        rows = select(
            f"WITH attached (statement, id, coins, value_minor, creator_minor) AS ({update}) "  # noqa: S608
            "SELECT statement, COUNT(*), SUM(coins), SUM(value_minor), SUM(creator_minor), "
            "MAX(id) FROM attached GROUP BY statement",
            params,
        )
        added = {row[0]: tuple(int(value) for value in row[1:]) for row in rows}
    else:
        added = {}
        for statement, pk, coins, value, share in select(update, params):
            count, c, v, cr, last = added.get(statement, (0, 0, 0, 0, 0))
            added[statement] = (count + 1, c + coins, v + value, cr + share, max(last, pk))
    return sum(delta[0] for delta in added.values()), added


def _values(rows: list[tuple]) -> tuple[str, list]:
    """A VALUES list of integer rows, which PostgreSQL and SQLite both read; each value
    cast, so that PostgreSQL types the column bigint whatever the first row holds."""
    width = len(rows[0])
    row = "(" + ", ".join(["CAST(%s AS BIGINT)"] * width) + ")"
    return ", ".join([row] * len(rows)), [value for r in rows for value in r]


def _store_totals(totals: dict[int, dict], now: datetime) -> None:
    """Every changed statement's totals in one UPDATE."""
    if not totals:
        return
    fields = ["gift_count", "coins", "value_minor", "creator_minor", "affiliate_minor"]
    values, params = _values([(pk, *(t[f] for f in fields)) for pk, t in totals.items()])
    table = connection.ops.quote_name(EarningsStatement._meta.db_table)
    sets = ", ".join(f"{f} = v.{f}" for f in fields)
    sql = (
        f"WITH v (id, {', '.join(fields)}) AS (VALUES {values}) "  # noqa: S608
        f"UPDATE {table} SET {sets}, updated_at = %s FROM v WHERE {table}.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, connection.ops.adapt_datetimefield_value(now)])


def earnings_settle(*, until: datetime, batch_size: int | None = None) -> int:
    """Settle every unsettled gift earning sent before until, and every host's affiliate
    commissions earned before until and not settled yet, into one statement per host,
    currency and period (the period is until itself), and move their sum from the host's
    unsettled earnings to their settled balance. Returns the number of gift sends settled.

    Safe to run twice, beside itself (also for another until) and after being killed
    halfway: each batch of hosts (batch_size, default GIFTING_SETTLEMENT_BATCH) is one
    transaction, a gift is attached to a statement only while it has none, and a host's
    commissions are summed under a lock on their affiliate account. The caller holds no
    transaction."""
    size = batch_size or settings.GIFTING_SETTLEMENT_BATCH
    total = 0
    for creator_ids in _creator_batches(until, size):
        total += _settle_batch(creator_ids, until)
    return total
