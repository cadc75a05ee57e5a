"""Posting to the ledger, and checking it.

ledger_post is the only writer of entries. It refuses a posting that does not balance per
unit, applies cached balances with one conditional UPDATE per account (so a wallet can
never go below zero, whatever runs at the same time), and is idempotent on its key.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum

from accounts.models import User

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


# PostgreSQL also checks every transaction's balance itself at commit (a deferred
# constraint trigger, migration 0002): even a bug that bypassed ledger_post could not
# commit an unbalanced posting. On SQLite, ledger_post's own check is the guard.


def on_postgres() -> bool:
    return connection.vendor == "postgresql"
