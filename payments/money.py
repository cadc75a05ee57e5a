"""Money at the edges: amounts are integers in minor units with a currency everywhere
inside Tapbuy; Decimal appears only when parsing what people type and when displaying."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

# ISO 4217 minor-unit exponents for the currencies Tapbuy accepts.
EXPONENTS = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "CHF": 2,
    "CNY": 2,
    "SGD": 2,
    "HKD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "INR": 2,
    "BRL": 2,
    "MXN": 2,
    "JPY": 0,
    "KRW": 0,
}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "KRW": "₩", "INR": "₹"}
CURRENCY_CHOICES = [(code, code) for code in sorted(EXPONENTS)]
MAX_MINOR = 10**12  # a sanity bound: no single price above ten billion in major units


class MoneyError(ValueError):
    pass


def default_currency() -> str:
    return settings.TAPBUY_CURRENCY


def parse_minor(value: str | int | Decimal, currency: str) -> int:
    """'19.99' in USD → 1999. Refuses more decimals than the currency has, negatives,
    thousands separators and anything that is not a plain number."""
    if currency not in EXPONENTS:
        raise MoneyError(f"Unknown currency {currency!r}.")
    text = str(value).strip()
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{text!r} is not a price (use digits, like 19.99).") from None
    if not amount.is_finite():
        raise MoneyError(f"{text!r} is not a price (use digits, like 19.99).")
    if amount < 0:
        raise MoneyError("A price cannot be negative.")
    exponent = EXPONENTS[currency]
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise MoneyError(f"{text!r} has more than {exponent} decimals for {currency}.")
    result = int(minor)
    if result > MAX_MINOR:
        raise MoneyError(f"{text!r} is too large.")
    return result


def to_decimal(minor: int, currency: str) -> Decimal:
    exponent = EXPONENTS.get(currency, 2)
    return (Decimal(minor).scaleb(-exponent)).quantize(
        Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP
    )


def format_plain(minor: int, currency: str) -> str:
    """1999, USD → '19.99' (the form CSV files and inputs use)."""
    return f"{to_decimal(minor, currency):f}"


def format_money(minor: int | None, currency: str) -> str:
    """1999, USD → '$19.99'; 1999, SEK → '19.99 SEK'."""
    if minor is None:
        return ""
    amount = to_decimal(minor, currency)
    exponent = EXPONENTS.get(currency, 2)
    text = f"{amount:,.{exponent}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"
