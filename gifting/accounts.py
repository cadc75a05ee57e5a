"""The ledger accounts coins and gift earnings move between, as specs (account_get's
arguments, no query) and as accounts (created on first use)."""

from __future__ import annotations

from accounts.models import User
from payments.ledger import account_get
from payments.ledger_models import LedgerAccount

from .selectors import wallet_code

COIN = "COIN"
ISSUED_CODE = "platform:coins:issued"


def earnings_code(*, creator_id: int, currency: str) -> str:
    return f"earnings:gifts:user:{creator_id}:{currency}"


def sales_code(*, currency: str) -> str:
    return f"platform:coin-sales:{currency}"


def commission_code(*, currency: str) -> str:
    return f"platform:gift-commission:{currency}"


def wallet_spec(*, user_id: int) -> dict:
    # Its cached balance guards every debit (a conditional UPDATE in the ledger): it never
    # goes below zero.
    return {
        "code": wallet_code(user_id=user_id),
        "kind": LedgerAccount.Kind.WALLET,
        "unit": COIN,
        "owner": User(pk=user_id),
        "allow_negative": False,
        "track_balance": True,
    }


def issued_spec() -> dict:
    # Every purchase debits it: no cached balance, so issuing coins never waits for its
    # row. It goes negative by the coins in circulation.
    return {
        "code": ISSUED_CODE,
        "kind": LedgerAccount.Kind.PLATFORM,
        "unit": COIN,
        "allow_negative": True,
        "track_balance": False,
    }


def external_spec(*, provider: str, currency: str) -> dict:
    # The same account orders post to: the money that came in from cards.
    return {
        "code": f"external:card:{provider}:{currency}",
        "kind": LedgerAccount.Kind.EXTERNAL,
        "unit": currency,
        "allow_negative": True,
        "track_balance": False,
    }


def sales_spec(*, currency: str) -> dict:
    # Credited by every purchase, debited by the value of every gift sent. Coins given
    # without a sale (demo coins) are spent from it too, so it may go below zero.
    return {
        "code": sales_code(currency=currency),
        "kind": LedgerAccount.Kind.PLATFORM,
        "unit": currency,
        "allow_negative": True,
        "track_balance": False,
    }


def earnings_spec(*, creator_id: int, currency: str) -> dict:
    # Every gift in the host's lives credits it, so it keeps no cached balance: each gift
    # appends an entry and locks no row (settlement sums them).
    return {
        "code": earnings_code(creator_id=creator_id, currency=currency),
        "kind": LedgerAccount.Kind.EARNINGS,
        "unit": currency,
        "owner": User(pk=creator_id),
        "allow_negative": False,
        "track_balance": False,
    }


def commission_spec(*, currency: str) -> dict:
    # The platform's part of every gift: append-only like the earnings.
    return {
        "code": commission_code(currency=currency),
        "kind": LedgerAccount.Kind.PLATFORM,
        "unit": currency,
        "allow_negative": False,
        "track_balance": False,
    }


def wallet_account(*, user: User) -> LedgerAccount:
    """The user's coin wallet, created on first use."""
    return account_get(**wallet_spec(user_id=user.pk))


def earnings_account(*, creator: User, currency: str) -> LedgerAccount:
    """The host's unsettled gift earnings, created on first use."""
    return account_get(**earnings_spec(creator_id=creator.pk, currency=currency))
