"""Posting to the ledger, and checking it.

ledger_post is the only writer of entries. It refuses a posting that does not balance per
unit, applies cached balances with one conditional UPDATE per account (so a wallet can
never go below zero, whatever runs at the same time), and is idempotent on its key.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from accounts.models import User
from config.bulk import array, column_list, execute, insert_rows, lock_rows, rows_source

from .errors import InsufficientFunds, PostingConflict, UnbalancedTransaction
from .ledger_models import LedgerAccount, LedgerEntry, LedgerTransaction


@dataclass(frozen=True)
class Line:
    account: LedgerAccount
    amount: int  # positive credits the account, negative debits it


def account_get(
    *,
    code: str,
    kind: str,
    unit: str,
    owner: User | None = None,
    allow_negative: bool = False,
    track_balance: bool = True,
) -> LedgerAccount:
    """The account with this code, created on first use."""
    account, _ = LedgerAccount.objects.get_or_create(
        code=code,
        defaults={
            "kind": kind,
            "unit": unit,
            "owner": owner,
            "allow_negative": allow_negative,
            "track_balance": track_balance,
        },
    )
    return account


def accounts_get(specs: list[dict], *, create: bool = True) -> dict[str, LedgerAccount]:
    """The accounts of these specs (account_get's keyword arguments), by code: one query
    when they all exist; the missing ones inserted together (a concurrent creator of the
    same code wins, its row is read), or, with create=False, left out."""
    codes = [spec["code"] for spec in specs]
    found = {a.code: a for a in LedgerAccount.objects.filter(code__in=codes)}
    missing = [spec for spec in specs if spec["code"] not in found]
    if create and missing:
        LedgerAccount.objects.bulk_create(
            [LedgerAccount(**spec) for spec in missing], ignore_conflicts=True
        )
        found.update(
            (a.code, a)
            for a in LedgerAccount.objects.filter(code__in=[spec["code"] for spec in missing])
        )
    return found


def _check_balanced(lines: list[Line]) -> None:
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        if not isinstance(line.amount, int) or isinstance(line.amount, bool) or line.amount == 0:
            raise UnbalancedTransaction(f"entry amounts are non-zero integers, got {line.amount!r}")
        totals[line.account.unit] += line.amount
    unbalanced = {unit: total for unit, total in totals.items() if total}
    if unbalanced:
        raise UnbalancedTransaction(f"entries do not sum to zero: {unbalanced}")


def ledger_post(*, kind: str, key: str, lines: list[Line], memo: str = "") -> LedgerTransaction:
    """Post one balanced transaction. Posting the same key again with the same lines returns
    the first transaction (a retried payment posts once); with other lines it raises
    PostingConflict. A debit that would take a non-negative account below zero raises
    InsufficientFunds and posts nothing. Runs in the caller's transaction if there is one;
    accounts are locked in primary-key order so two postings never deadlock."""
    if len(lines) < 2:
        raise UnbalancedTransaction("a transaction has at least two entries")
    _check_balanced(lines)
    with transaction.atomic():
        try:
            with transaction.atomic():
                txn = LedgerTransaction.objects.create(kind=kind, key=key, memo=memo[:200])
        except IntegrityError:
            existing = LedgerTransaction.objects.get(key=key)
            stored = sorted(existing.entries.values_list("account_id", "amount"))
            if stored != sorted((line.account.pk, line.amount) for line in lines):
                raise PostingConflict() from None
            return existing
        for line in sorted(lines, key=lambda item: item.account.pk):
            account = line.account
            if not account.track_balance:
                continue
            guard = Q(pk=account.pk)
            if not account.allow_negative and line.amount < 0:
                guard &= Q(balance__gte=-line.amount)
            if not LedgerAccount.objects.filter(guard).update(balance=F("balance") + line.amount):
                raise InsufficientFunds(account.code)
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    transaction=txn,
                    account=line.account,
                    unit=line.account.unit,
                    amount=line.amount,
                )
                for line in lines
            ]
        )
    return txn


@dataclass(frozen=True)
class Posting:
    """One transaction of a ledger_post_many batch."""

    kind: str
    key: str
    lines: list[Line]
    memo: str = ""


def ledger_post_many(postings: list[Posting]) -> list[LedgerTransaction | InsufficientFunds]:
    """Post many new balanced transactions at once: what ledger_post does for each, in a
    few statements for all. Per posting, in order, its transaction or the InsufficientFunds
    that refused it (a refused posting writes nothing; the others are posted).

    An account with a cached balance that a posting debits under its guard (never below
    zero) may appear in that posting only (a caller batching gifts takes one gift per
    wallet; ValueError otherwise); other cached balances may be in any number of postings
    (settlement credits one host's settled balance with gifts and commissions). The
    accounts are locked in primary-key order, as ledger_post locks them, then changed by
    one conditional UPDATE. Keys must be new: a key posted before raises IntegrityError
    (the caller falls back to ledger_post, which answers a replay). Runs in the caller's
    transaction, which it requires."""
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("ledger_post_many runs in a transaction")
    # Per account with a cached balance: the postings' lines on it, as (posting, amount).
    tracked: dict[int, list[tuple[int, int]]] = defaultdict(list)
    guarded: dict[int, LedgerAccount] = {}
    for index, posting in enumerate(postings):
        if len(posting.lines) < 2:
            raise UnbalancedTransaction("a transaction has at least two entries")
        _check_balanced(posting.lines)
        for line in posting.lines:
            account = line.account
            if account.track_balance:
                tracked[account.pk].append((index, line.amount))
                if not account.allow_negative and line.amount < 0:
                    guarded[account.pk] = account
    for pk, account in guarded.items():
        if len({index for index, _ in tracked[pk]}) > 1:
            raise ValueError(f"account {account.code} is debited in two postings of one batch")
    refused: set[int] = set()
    if tracked:
        changes = {
            pk: (sum(amount for _, amount in lines), pk in guarded) for pk, lines in tracked.items()
        }
        applied = _apply_balances(changes)
        # A guarded account is in one posting: that posting is refused.
        refused = {tracked[pk][0][0] for pk in changes if pk not in applied}
        if refused:
            # A refused posting gives back what it added to its other accounts.
            undo: dict[int, int] = defaultdict(int)
            for pk, lines in tracked.items():
                if pk in applied:
                    for index, amount in lines:
                        if index in refused:
                            undo[pk] -= amount
            undo = {pk: (amount, False) for pk, amount in undo.items() if amount}
            if undo:
                _apply_balances(undo)
    accepted = [p for i, p in enumerate(postings) if i not in refused]
    txns = _insert(accepted)
    made = iter(txns)
    return [
        InsufficientFunds(_code_of(postings[i])) if i in refused else next(made)
        for i in range(len(postings))
    ]


def _insert(postings: list[Posting]) -> list[LedgerTransaction]:
    """The postings' transactions and entries: two multi-row INSERTs (config.bulk: the
    ORM's per-object preparation of a batch's entries costs more than the statements)."""
    if not postings:
        return []
    now = timezone.now()
    txn_fields = ["key", "kind", "memo", "created_at"]
    txn_rows = [(p.key, p.kind, p.memo[:200], now) for p in postings]
    if connection.vendor == "postgresql":
        ids = dict(_insert_together(txn_fields, txn_rows, postings, now))
    else:
        ids = dict(insert_rows(LedgerTransaction, txn_fields, txn_rows, returning=["key", "id"]))
        insert_rows(
            LedgerEntry,
            ["transaction", "account", "unit", "amount", "created_at"],
            [
                (ids[posting.key], line.account.pk, line.account.unit, line.amount, now)
                for posting in postings
                for line in posting.lines
            ],
        )
    return [
        LedgerTransaction(pk=ids[p.key], kind=p.kind, key=p.key, memo=p.memo[:200])
        for p in postings
    ]


def _insert_together(txn_fields, txn_rows, postings: list[Posting], now) -> list[tuple]:
    """PostgreSQL: the transactions and their entries in one statement, the entries joined
    to the transactions the same statement inserts by key (a round trip less for a batch
    of gifts, whose leader waits on each). Returns (key, id) of each transaction. The
    entries' statement trigger runs at the end of the statement and sees both."""
    txns = connection.ops.quote_name(LedgerTransaction._meta.db_table)
    entries = connection.ops.quote_name(LedgerEntry._meta.db_table)
    source, params = rows_source(LedgerTransaction, txn_fields, txn_rows)
    lines = [(posting.key, line) for posting in postings for line in posting.lines]
    sql = (
        f"WITH t AS (INSERT INTO {txns} ({column_list(LedgerTransaction, txn_fields)}) "  # noqa: S608
        f"{source} RETURNING key, id), "
        f"e AS (INSERT INTO {entries} (transaction_id, account_id, unit, amount, created_at) "
        "SELECT t.id, l.account_id, l.unit, l.amount, %s::timestamptz "
        "FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[]) "
        "AS l (key, account_id, unit, amount) JOIN t ON t.key = l.key) "
        "SELECT key, id FROM t"
    )
    return execute(
        sql,
        [
            *params,
            now,
            array(key for key, _ in lines),
            array(line.account.pk for _, line in lines),
            array(line.account.unit for _, line in lines),
            array(line.amount for _, line in lines),
        ],
        fetch=True,
    )


def _code_of(posting: Posting) -> str:
    return next(
        line.account.code
        for line in posting.lines
        if line.account.track_balance and not line.account.allow_negative and line.amount < 0
    )


def _apply_balances(changes: dict[int, tuple[int, bool]]) -> set[int]:
    """Add each amount to its account's cached balance, a guarded one only while it stays
    at or above zero: rows locked in primary-key order, then one UPDATE. The accounts
    changed."""
    ids = sorted(changes)
    lock_rows(LedgerAccount, ids)
    table = connection.ops.quote_name(LedgerAccount._meta.db_table)
    amounts = [changes[pk][0] for pk in ids]
    guards = [1 if changes[pk][1] else 0 for pk in ids]
    if connection.vendor == "postgresql":
        source = "unnest(%s::bigint[], %s::bigint[], %s::int[]) AS v (id, amount, guarded)"
        params: list = [array(ids), array(amounts), array(guards)]
        prefix = ""
    else:
        values = ", ".join(["(%s, %s, %s)"] * len(ids))
        prefix = f"WITH v (id, amount, guarded) AS (VALUES {values}) "
        source = "v"
        params = [value for row in zip(ids, amounts, guards, strict=True) for value in row]
    # RETURNING says which rows the guard let through. Only names are formatted in.
    sql = (
        f"{prefix}UPDATE {table} SET balance = {table}.balance + v.amount "  # noqa: S608
        f"FROM {source} "
        f"WHERE {table}.id = v.id AND (v.guarded = 0 OR {table}.balance + v.amount >= 0) "
        f"RETURNING {table}.id"
    )
    return {row[0] for row in execute(sql, params, fetch=True)}


def account_balance(*, account: LedgerAccount) -> int:
    """The balance: the cached one where it is kept, else the sum of the entries."""
    if account.track_balance:
        return LedgerAccount.objects.values_list("balance", flat=True).get(pk=account.pk)
    return LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0


def ledger_problems(*, limit: int = 20) -> list[str]:
    """Everything that breaks the ledger's rules: a transaction whose entries do not sum
    to zero per unit, an entry in another unit than its account, a cached balance that is
    not the sum of its entries, a negative balance where none is allowed. Empty when sound."""
    problems = []
    unbalanced = (
        LedgerEntry.objects.values("transaction_id", "unit")
        .annotate(total=Sum("amount"))
        .exclude(total=0)[:limit]
    )
    problems += [
        f"transaction {row['transaction_id']} sums to {row['total']} {row['unit']}"
        for row in unbalanced
    ]
    # Entries have no foreign-key constraints (ledger_models): a missing account or
    # transaction is a problem of its own.
    orphans = LedgerEntry.objects.filter(
        ~Exists(LedgerAccount.objects.filter(pk=OuterRef("account_id")))
        | ~Exists(LedgerTransaction.objects.filter(pk=OuterRef("transaction_id")))
    ).values_list("pk", flat=True)
    problems += [
        f"entry {pk} references a missing account or transaction" for pk in orphans[:limit]
    ]
    wrong_unit = LedgerEntry.objects.exclude(unit=F("account__unit")).values_list("pk", flat=True)
    problems += [f"entry {pk} is not in its account's unit" for pk in wrong_unit[:limit]]
    sums = dict(
        LedgerEntry.objects.values("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    for account in LedgerAccount.objects.only(
        "pk", "code", "balance", "track_balance", "allow_negative"
    ):
        total = sums.get(account.pk, 0)
        if account.track_balance and account.balance != total:
            problems.append(f"{account.code}: cached {account.balance} != entries {total}")
        if not account.allow_negative and total < 0:
            problems.append(f"{account.code}: negative balance {total}")
        if len(problems) >= limit:
            break
    return problems


# PostgreSQL also checks every transaction's balance itself: a statement trigger (migration
# 0004) refuses any statement that leaves the entries of a transaction it wrote unbalanced,
# so even a bug that bypassed ledger_post could not write an unbalanced posting. Every
# writer here inserts all of a transaction's entries in one statement. On SQLite,
# ledger_post's own check is the guard.


def on_postgres() -> bool:
    return connection.vendor == "postgresql"
