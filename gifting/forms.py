"""The wallet page's Buy form: which pack, and the page's token as the checkout key (a
double click or a resubmitted page buys once). The card form, for a buyer without a saved
card, is payments.forms.CardForm. The gift panel's Send form and the earnings page's
Request payout form are here too."""

from django import forms
from django.conf import settings

from payments.money import MoneyError, parse_minor

from . import payouts


class CoinBuyForm(forms.Form):
    pack = forms.IntegerField(min_value=1)
    token = forms.UUIDField(widget=forms.HiddenInput)


class GiftSendForm(forms.Form):
    """The gift panel's Send: which gift, how many, and the panel's token as the
    idempotency key (a double tap or a retried request sends once)."""

    gift = forms.IntegerField(min_value=1)
    quantity = forms.IntegerField(min_value=1, max_value=settings.GIFTING_MAX_QUANTITY)
    token = forms.UUIDField(widget=forms.HiddenInput)


class PayoutRequestForm(forms.Form):
    """The earnings page's Request payout: an amount as people write it ("25.00"), the
    payout account, and the page's token as the idempotency key (a double click or a
    resubmitted page requests once)."""

    amount = forms.CharField(max_length=20)
    destination = forms.CharField(max_length=payouts.MAX_DESTINATION, label="Payout account")
    token = forms.UUIDField(widget=forms.HiddenInput)

    def clean_amount(self) -> int:
        try:
            return parse_minor(self.cleaned_data["amount"], settings.TAPBUY_CURRENCY)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None
