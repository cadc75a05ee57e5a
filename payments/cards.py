"""Card numbers as people type them: digits, the Luhn check, the brand, the last four
digits, the expiry and the security code.

Only the simulated provider sees a full number (a real provider's form posts it straight
to the provider from the browser). Nothing here stores it: callers keep the brand, the
last four digits and the expiry, never the number nor the security code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from .errors import InvalidCard

# Prefix ranges (inclusive, compared on the number's leading digits) and the lengths each
# brand issues. Checked in this order; the first match names the brand.
_BRANDS: list[tuple[str, list[tuple[int, int]], set[int]]] = [
    ("amex", [(34, 34), (37, 37)], {15}),
    ("diners", [(300, 305), (36, 36), (38, 39)], {14, 15, 16, 17, 18, 19}),
    ("jcb", [(3528, 3589)], {16, 17, 18, 19}),
    ("discover", [(6011, 6011), (644, 649), (65, 65)], {16, 17, 18, 19}),
    ("unionpay", [(62, 62)], {16, 17, 18, 19}),
    ("mastercard", [(51, 55), (2221, 2720)], {16}),
    ("visa", [(4, 4)], {13, 16, 19}),
]
BRAND_NAMES = {
    "amex": "American Express",
    "diners": "Diners Club",
    "jcb": "JCB",
    "discover": "Discover",
    "unionpay": "UnionPay",
    "mastercard": "Mastercard",
    "visa": "Visa",
    "unknown": "Card",
}
MIN_LENGTH, MAX_LENGTH = 12, 19
# Cards are issued for at most a few years; a year far ahead is a typing mistake.
MAX_YEARS_AHEAD = 20

_SEPARATORS = re.compile(r"[\s-]+")
_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


@dataclass(frozen=True)
class CardDetails:
    """A checked card. `number` is for handing to the provider's tokenizer only."""

    number: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int

    def __repr__(self) -> str:
        # Keep the full number out of logs and tracebacks.
        return f"CardDetails({self.brand} •••• {self.last4}, {self.exp_month:02d}/{self.exp_year})"


def normalize_number(number: str) -> str:
    """'4242 4242-4242 4242' → '4242424242424242'. Spaces and hyphens only are removed;
    anything else that is not a digit stays and makes the number invalid."""
    return _SEPARATORS.sub("", number or "")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check digit test that every card number passes."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_brand(digits: str) -> str:
    """The brand a number's prefix belongs to ('visa', 'mastercard', ...) or 'unknown'."""
    for brand, ranges, _lengths in _BRANDS:
        for low, high in ranges:
            width = len(str(low))
            prefix = digits[:width]
            if len(prefix) == width and prefix.isdigit() and low <= int(prefix) <= high:
                return brand
    return "unknown"


def parse_expiry(text: str) -> tuple[int, int]:
    """'04/29' or '4 / 2029' → (4, 2029). Raises InvalidCard on anything else."""
    match = _EXPIRY.match(text or "")
    if not match:
        raise InvalidCard(fields={"expiry": ["Enter the expiry as MM/YY, like 04/29."]})
    month, year = int(match.group(1)), int(match.group(2))
    return month, (2000 + year if year < 100 else year)


def _number_errors(digits: str) -> tuple[str, list[str]]:
    if not digits:
        return "unknown", ["Enter the card number."]
    if not (digits.isdigit() and digits.isascii()):
        return "unknown", ["A card number has digits only."]
    if not MIN_LENGTH <= len(digits) <= MAX_LENGTH:
        return "unknown", [f"A card number has {MIN_LENGTH} to {MAX_LENGTH} digits."]
    brand = card_brand(digits)
    lengths = next((lengths for name, _ranges, lengths in _BRANDS if name == brand), None)
    if lengths is not None and len(digits) not in lengths:
        return brand, [f"{BRAND_NAMES[brand]} numbers do not have {len(digits)} digits."]
    if not luhn_valid(digits):
        return brand, ["This card number is not valid; check it for a typing mistake."]
    return brand, []


def _expiry_errors(exp_month, exp_year, today: date) -> dict[str, list[str]]:
    if isinstance(exp_month, bool) or not isinstance(exp_month, int) or not 1 <= exp_month <= 12:
        return {"exp_month": ["The expiry month is 1 to 12."]}
    if isinstance(exp_year, bool) or not isinstance(exp_year, int):
        return {"exp_year": ["Enter the expiry year."]}
    if exp_year < 100:
        exp_year += 2000
    # A card is valid until the end of its expiry month.
    if (exp_year, exp_month) < (today.year, today.month):
        return {"exp_year": ["This card has expired."]}
    if exp_year > today.year + MAX_YEARS_AHEAD:
        return {"exp_year": ["The expiry year is too far ahead; check it."]}
    return {}


def card_expired(*, exp_month: int, exp_year: int, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    return (exp_year, exp_month) < (today.year, today.month)


def card_validate(
    *, number: str, exp_month: int, exp_year: int, cvc: str, today: date | None = None
) -> CardDetails:
    """Check a card as typed and return its details. Raises InvalidCard with a message per
    field (number, exp_month, exp_year, cvc) for everything that is wrong at once."""
    today = today or timezone.localdate()
    digits = normalize_number(number)
    brand, number_errors = _number_errors(digits)
    errors: dict[str, list[str]] = {}
    if number_errors:
        errors["number"] = number_errors
    errors.update(_expiry_errors(exp_month, exp_year, today))
    cvc = (cvc or "").strip()
    cvc_length = 4 if brand == "amex" else 3
    if not (cvc.isdigit() and cvc.isascii() and len(cvc) == cvc_length):
        errors["cvc"] = [
            "The security code is 4 digits on the front of the card."
            if brand == "amex"
            else "The security code is the 3 digits on the back of the card."
        ]
    if errors:
        raise InvalidCard(fields=errors)
    return CardDetails(
        number=digits,
        brand=brand,
        last4=digits[-4:],
        exp_month=exp_month,
        exp_year=exp_year + 2000 if exp_year < 100 else exp_year,
    )
