"""The wallet page's Buy form: which pack, and the page's token as the checkout key (a
double click or a resubmitted page buys once). The card form, for a buyer without a saved
card, is payments.forms.CardForm. The gift panel's Send form is here too."""

from django import forms
from django.conf import settings


class CoinBuyForm(forms.Form):
    pack = forms.IntegerField(min_value=1)
    token = forms.UUIDField(widget=forms.HiddenInput)


class GiftSendForm(forms.Form):
    """The gift panel's Send: which gift, how many, and the panel's token as the
    idempotency key (a double tap or a retried request sends once)."""

    gift = forms.IntegerField(min_value=1)
    quantity = forms.IntegerField(min_value=1, max_value=settings.GIFTING_MAX_QUANTITY)
    token = forms.UUIDField(widget=forms.HiddenInput)
