"""The card form: number, expiry (MM/YY) and security code as people type them, checked
by payments.cards and handed to payment_method_add. It never saves anything itself."""

from __future__ import annotations

from django import forms
from django.conf import settings

from .cards import card_validate, parse_expiry
from .errors import InvalidCard

# payments.cards names its fields after the service's arguments; the form has one
# expiry field for both month and year.
_FIELD_OF = {"number": "number", "exp_month": "expiry", "exp_year": "expiry", "cvc": "cvc"}

TEST_CARDS = [
    ("4242 4242 4242 4242", "succeeds"),
    ("4000 0000 0000 0002", "is declined"),
    ("4000 0000 0000 3220", "succeeds a few seconds later"),
]


class CardForm(forms.Form):
    number = forms.CharField(
        label="Card number",
        max_length=23,  # 19 digits and the spaces people type between groups
        widget=forms.TextInput(
            attrs={
                "autocomplete": "cc-number",
                "inputmode": "numeric",
                "placeholder": "1234 1234 1234 1234",
                "spellcheck": "false",
            }
        ),
    )
    expiry = forms.CharField(
        label="Expiry (MM/YY)",
        max_length=7,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": "MM/YY"}
        ),
    )
    cvc = forms.CharField(
        label="Security code",
        max_length=4,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "placeholder": "CVC"}
        ),
    )
    make_default = forms.BooleanField(label="Use for one-tap buying", required=False, initial=True)

    @property
    def test_cards(self) -> list[tuple[str, str]]:
        """The simulated provider's test cards, shown beside the form while it is in use."""
        if getattr(settings, "PAYMENTS_PROVIDER", "simulated") == "simulated":
            return TEST_CARDS
        return []

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            exp_month, exp_year = parse_expiry(cleaned["expiry"])
            card = card_validate(
                number=cleaned["number"], exp_month=exp_month, exp_year=exp_year, cvc=cleaned["cvc"]
            )
        except InvalidCard as error:
            for field, messages in error.fields.items():
                for message in messages:
                    self.add_error(_FIELD_OF.get(field, field), message)
            return cleaned
        # What payment_method_add takes; the service checks the card again (it is the
        # guard for API callers too), so nothing here is trusted beyond this form.
        cleaned.update(number=card.number, exp_month=card.exp_month, exp_year=card.exp_year)
        return cleaned
