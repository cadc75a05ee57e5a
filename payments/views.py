"""The buyer's saved cards: list, add, make default, remove. One-tap checkout uses the
default one; the card number itself is never stored (the provider keeps a token)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from config.errors import DomainError, DomainErrorMixin

from .forms import _FIELD_OF, CardForm
from .provider_services import (
    payment_method_add,
    payment_method_delete,
    payment_method_set_default,
    payment_methods_list,
)


class CardListView(LoginRequiredMixin, View):
    template_name = "payments/card_list.html"

    def get(self, request):
        return self.render(request, CardForm())

    def post(self, request):
        form = CardForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                payment_method_add(
                    user=request.user,
                    number=data["number"],
                    exp_month=data["exp_month"],
                    exp_year=data["exp_year"],
                    cvc=data["cvc"],
                    make_default=data["make_default"],
                )
            except DomainError as exc:
                for field, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(_FIELD_OF.get(field), error)
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                messages.success(request, "Card saved.")
                return redirect("payments:cards")
        return self.render(request, form, status=400)

    def render(self, request, form, status=200):
        cards = payment_methods_list(user=request.user)
        return render(request, self.template_name, {"cards": cards, "form": form}, status=status)


class CardDefaultView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request, pk):
        payment_method_set_default(user=request.user, payment_method_id=pk)
        messages.success(request, "One-tap buying now pays with this card.")
        return redirect("payments:cards")


class CardDeleteView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request, pk):
        payment_method_delete(user=request.user, payment_method_id=pk)
        messages.success(request, "Card removed.")
        return redirect("payments:cards")
