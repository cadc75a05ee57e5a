"""The wallet page: the coin balance, its history, and the packs on sale with a Buy button
each. Buying uses the default card, or the card form for a buyer who saved none."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from config.errors import DomainError
from payments.forms import CardForm
from payments.provider_services import payment_method_add, payment_method_default

from . import selectors, services
from .api import CoinsThrottle
from .forms import CoinBuyForm
from .models import CoinPurchase

KIND_LABELS = {"coins.purchased": "Bought coins"}
# The card form's fields for the names payment_method_add uses in its errors.
CARD_FIELDS = {"number": "number", "exp_month": "expiry", "exp_year": "expiry", "cvc": "cvc"}


def _history(user) -> list[dict]:
    return [
        {
            "label": KIND_LABELS.get(entry.transaction.kind, entry.transaction.kind),
            "coins": entry.amount,
            "at": entry.created_at,
        }
        for entry in selectors.wallet_history(user=user)
    ]


def _refusal(request) -> str:
    """The API's coin purchase rate, per buyer, for the page too (one budget for both)."""
    throttle = CoinsThrottle()
    if throttle.allow_request(request, None):
        return ""
    return f"Too many purchases at once; try again in {max(1, round(throttle.wait() or 1))} s."


class WalletView(LoginRequiredMixin, View):
    template_name = "gifting/wallet.html"

    def get(self, request):
        return self.render(request, CardForm(prefix="card", use_required_attribute=False))

    def render(self, request, card_form, *, error: str = "", status: int = 200):
        card = payment_method_default(user=request.user)
        return render(
            request,
            self.template_name,
            {
                "balance": selectors.wallet_balance(user=request.user),
                "history": _history(request.user),
                "packs": selectors.coin_packs_active(),
                "card": card,
                "card_form": card_form,
                # A fresh token per page: each Buy from it is one purchase, however often
                # it is submitted.
                "token": uuid.uuid4(),
                "error": error,
            },
            status=status,
        )


class WalletBuyView(WalletView):
    """Buy the pack whose button was pressed, then back to the wallet with a message."""

    http_method_names = ["post"]

    def post(self, request):
        form = CoinBuyForm(request.POST)
        needs_card = payment_method_default(user=request.user) is None
        card_form = CardForm(
            request.POST if needs_card else None, prefix="card", use_required_attribute=False
        )
        refusal = _refusal(request)
        if refusal:
            return self.render(request, card_form, error=refusal, status=429)
        if not form.is_valid():
            return self.render(request, card_form, error="Choose a coin pack.", status=400)
        if needs_card and not card_form.is_valid():
            return self.render(request, card_form, error="Check the card details.", status=400)
        payment_method = None
        try:
            if needs_card:
                data = card_form.cleaned_data
                try:
                    card = payment_method_add(
                        user=request.user,
                        number=data["number"],
                        exp_month=data["exp_month"],
                        exp_year=data["exp_year"],
                        cvc=data["cvc"],
                        make_default=data["make_default"],
                    )
                except DomainError as exc:
                    for key, errors in exc.fields.items():
                        for message in errors:
                            card_form.add_error(CARD_FIELDS.get(key), message)
                    raise
                payment_method = str(card.pk)
            purchase = services.coins_buy(
                buyer=request.user,
                pack_id=form.cleaned_data["pack"],
                payment_method=payment_method,
                checkout_key=f"page:{form.cleaned_data['token']}",
            )
        except DomainError as exc:
            return self.render(request, card_form, error=exc.message, status=exc.status)
        if purchase.status == CoinPurchase.Status.PAID:
            messages.success(request, f"{purchase.coins:,} coins added to your wallet.")
        elif purchase.status == CoinPurchase.Status.PENDING_PAYMENT:
            messages.info(
                request,
                f"Your card issuer is confirming the payment: your {purchase.coins:,} coins "
                "arrive as soon as it does.",
            )
        else:
            messages.error(request, "That payment failed: nothing was charged.")
        return redirect("gifting:wallet")
