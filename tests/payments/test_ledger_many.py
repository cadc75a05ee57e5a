"""ledger_post_many: many postings in a few statements, each keeping ledger_post's rules."""

import pytest
from django.db import IntegrityError, transaction

from payments.errors import InsufficientFunds, UnbalancedTransaction
from payments.ledger import (
    Line,
    Posting,
    account_balance,
    account_get,
    ledger_post,
    ledger_post_many,
    ledger_problems,
)
from payments.ledger_models import LedgerEntry, LedgerTransaction
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _wallet(coins: int):
    user = UserFactory()
    wallet = account_get(code=f"wallet:coins:user:{user.pk}", kind="wallet", unit="COIN")
    if coins:
        ledger_post(
            kind="coins.purchase",
            key=f"fund:{user.pk}",
            lines=[Line(wallet, coins), Line(_issued(), -coins)],
        )
    return wallet


def _issued():
    return account_get(
        code="platform:coins:issued",
        kind="platform",
        unit="COIN",
        allow_negative=True,
        track_balance=False,
    )


def _spend(wallet, coins: int, key: str) -> Posting:
    return Posting(kind="gift", key=key, lines=[Line(wallet, -coins), Line(_issued(), coins)])


def test_each_posting_is_made_or_refused_on_its_own():
    rich, poor, exact = _wallet(100), _wallet(5), _wallet(30)
    with transaction.atomic():
        results = ledger_post_many(
            [_spend(rich, 40, "a"), _spend(poor, 10, "b"), _spend(exact, 30, "c")]
        )
    assert isinstance(results[0], LedgerTransaction) and results[0].key == "a"
    assert isinstance(results[1], InsufficientFunds)
    assert isinstance(results[2], LedgerTransaction) and results[2].key == "c"
    assert [account_balance(account=w) for w in (rich, poor, exact)] == [60, 5, 0]
    assert not LedgerTransaction.objects.filter(key="b").exists()
    assert LedgerEntry.objects.filter(transaction__key__in=["a", "c"]).count() == 4
    assert ledger_problems() == []


def test_a_refused_posting_gives_back_what_it_added_to_its_other_tracked_accounts():
    payer, payee = _wallet(5), _wallet(0)
    with transaction.atomic():
        (result,) = ledger_post_many(
            [Posting(kind="transfer", key="t", lines=[Line(payer, -10), Line(payee, 10)])]
        )
    assert isinstance(result, InsufficientFunds)
    assert account_balance(account=payer) == 5
    assert account_balance(account=payee) == 0
    assert ledger_problems() == []


def test_an_account_with_a_cached_balance_is_in_one_posting_of_a_batch():
    wallet = _wallet(100)
    with pytest.raises(ValueError), transaction.atomic():
        ledger_post_many([_spend(wallet, 1, "x"), _spend(wallet, 1, "y")])
    assert account_balance(account=wallet) == 100


def test_an_unbalanced_posting_refuses_the_batch():
    wallet = _wallet(100)
    with pytest.raises(UnbalancedTransaction), transaction.atomic():
        ledger_post_many(
            [Posting(kind="gift", key="u", lines=[Line(wallet, -5), Line(_issued(), 4)])]
        )
    assert account_balance(account=wallet) == 100


def test_a_key_posted_before_is_an_integrity_error_and_nothing_is_kept():
    wallet = _wallet(100)
    ledger_post(kind="gift", key="dup", lines=[Line(wallet, -1), Line(_issued(), 1)])
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger_post_many([_spend(wallet, 10, "dup")])
    assert account_balance(account=wallet) == 99
    assert ledger_problems() == []
