"""The wallet page's Buy form: which pack, and the page's token as the checkout key (a
double click or a resubmitted page buys once). The card form, for a buyer without a saved
card, is payments.forms.CardForm."""

from django import forms


class CoinBuyForm(forms.Form):
    pack = forms.IntegerField(min_value=1)
    token = forms.UUIDField(widget=forms.HiddenInput)
