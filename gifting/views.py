"""The wallet page: the coin balance, its history, and the packs on sale with a Buy button
each. Buying uses the default card, or the card form for a buyer who saved none.

The gift panel over a live (an htmx partial in a dialog: the gifts, the balance, Send) and
the host console's earnings summary for the live, and the live's top gifters.

A host's own earnings pages: what gifts earned them (today, this week, per live, pending,
settled, paid out), the Request payout form, every gift received with a CSV export, and
the host's top fans on their profile."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.views import View

from config.csv_lines import csv_lines
from config.errors import DomainError
from payments.forms import CardForm
from payments.money import format_money
from payments.provider_services import payment_method_add, payment_method_default
from shops.views import ProfileView as ShopProfileView
from streams.models import Stream

from . import payouts, reports, selectors, services
from .errors import InvalidPayout, NotEnoughCoins, NotEnoughEarnings, StreamNotLive
from .forms import CoinBuyForm, GiftSendForm, PayoutRequestForm
from .models import CoinPurchase, GiftSend
from .throttles import CoinsThrottle, GiftsThrottle

KIND_LABELS = {"coins.purchased": "Bought coins", "coins.refunded": "Coins refunded"}
# The card form's fields for the names payment_method_add uses in its errors.
CARD_FIELDS = {"number": "number", "exp_month": "expiry", "exp_year": "expiry", "cvc": "cvc"}


def _history(user) -> list[dict]:
    return [
        {
            # A gift's memo says what and where: "3 × Heart in live 12".
            "label": f"Sent {entry.transaction.memo}"
            if entry.transaction.kind == "gift.sent"
            else KIND_LABELS.get(entry.transaction.kind, entry.transaction.kind),
            "coins": entry.amount,
            "at": entry.created_at,
        }
        for entry in selectors.wallet_history(user=user)
    ]


def _refusal(request, throttle_class=CoinsThrottle, what="purchases") -> str:
    """The API's rate for this, per user, for the pages too (one budget for both): "" when
    allowed, else what to tell the user."""
    throttle = throttle_class()
    if throttle.allow_request(request, None):
        return ""
    return f"Too many {what} at once; try again in {max(1, round(throttle.wait() or 1))} s."


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


# --- the gift panel over a live ----------------------------------------------------------------


def _share_percent() -> str:
    """The host's share as people read it: 5000 bp is "50 %", 3750 bp "37.5 %"."""
    return f"{settings.GIFTING_CREATOR_SHARE_BP / 100:g} %"


class GiftPanelView(View):
    """GET: the panel for a signed-in viewer who is not the host (a log-in link for
    anyone signed out). POST: send the chosen gift, then the panel again with the new
    balance and a fresh token, or with the refusal in it (same status as the API's)."""

    template_name = "gifting/partials/gift_panel.html"

    def _stream(self, pk: int) -> Stream:
        stream = get_object_or_404(Stream.objects.select_related("host"), pk=pk)
        if self.request.user.is_authenticated and stream.host_id == self.request.user.pk:
            raise PermissionDenied("Hosts do not send gifts to their own live.")
        return stream

    def get(self, request, pk: int):
        stream = self._stream(pk)
        error = "" if stream.status == Stream.Status.LIVE else StreamNotLive.message
        return self.render(request, stream, error=error)

    def post(self, request, pk: int):
        if not request.user.is_authenticated:
            return self.render(request, self._stream(pk), status=403)
        stream = self._stream(pk)
        form = GiftSendForm(request.POST)
        if not form.is_valid():
            maximum = settings.GIFTING_MAX_QUANTITY
            return self.render(
                request,
                stream,
                error=f"Choose a gift and a quantity from 1 to {maximum:,}.",
                chosen=request.POST.get("gift", ""),
                status=400,
            )
        data = form.cleaned_data
        refusal = _refusal(request, GiftsThrottle, "gifts")
        if refusal:
            return self.render(request, stream, error=refusal, chosen=str(data["gift"]), status=429)
        try:
            send = services.gift_send(
                sender=request.user,
                stream_id=stream.pk,
                gift_id=data["gift"],
                quantity=data["quantity"],
                idempotency_key=f"panel:{data['token']}",
            )
        except DomainError as exc:
            return self.render(
                request,
                stream,
                error=exc.message,
                error_code=exc.code,
                chosen=str(data["gift"]),
                quantity=data["quantity"],
                status=exc.status,
            )
        return self.render(request, stream, sent=send, chosen=str(send.gift_id))

    def render(
        self,
        request,
        stream: Stream,
        *,
        error: str = "",
        error_code: str = "",
        sent: GiftSend | None = None,
        chosen: str = "",
        quantity: int = 1,
        status: int = 200,
    ):
        signed_in = request.user.is_authenticated
        return render(
            request,
            self.template_name,
            {
                "stream": stream,
                "signed_in": signed_in,
                "gifts": list(selectors.gifts_active()) if signed_in else [],
                "balance": selectors.wallet_balance(user=request.user) if signed_in else 0,
                "share": _share_percent(),
                # A fresh token per rendered panel: each Send from it is one gift, however
                # often the request is retried.
                "token": uuid.uuid4(),
                "error": error,
                "not_enough_coins": error_code == NotEnoughCoins.code,
                "on_air": stream.status == Stream.Status.LIVE,
                "sent": sent,
                "chosen": chosen,
                "quantity": quantity,
            },
            status=status,
        )


class GiftSummaryView(LoginRequiredMixin, View):
    """The host console's gift earnings for this live: coins received and the host's
    share in money. Loaded by htmx and reloaded by the page on each gift.sent."""

    template_name = "gifting/partials/gift_summary.html"

    def get(self, request, pk: int):
        stream = get_object_or_404(Stream.objects.only("pk", "host_id"), pk=pk)
        if stream.host_id != request.user.pk:
            raise PermissionDenied("Only the host sees this live's earnings.")
        totals = selectors.gift_totals_for_stream(stream_id=stream.pk)
        return render(
            request,
            self.template_name,
            {
                "stream": stream,
                **totals,
                "currency": settings.TAPBUY_CURRENCY,
                "share": _share_percent(),
            },
        )


class TopGiftersView(View):
    """The live's top gifters, for anyone watching (signed in or not). Loaded by htmx on
    the live page; gift.sent carries the same list, which static/gifting/gifts.js renders
    in place of this partial."""

    template_name = "gifting/partials/leaderboard.html"

    def get(self, request, pk: int):
        stream = get_object_or_404(Stream.objects.only("pk"), pk=pk)
        return render(
            request,
            self.template_name,
            {
                "stream": stream,
                "leaders": selectors.top_gifters_for_stream(stream_id=stream.pk),
            },
        )


# --- the host's earnings -------------------------------------------------------------------


RECENT_GIFTS = 20
RECENT_PAYOUTS = 20


class EarningsView(LoginRequiredMixin, View):
    """/earnings/: the signed-in host's own figures, lives, recent gifts with their split,
    statements and payouts, and the Request payout form."""

    template_name = "gifting/earnings.html"

    def get(self, request):
        return self.render(request, PayoutRequestForm(use_required_attribute=False))

    def render(self, request, form: PayoutRequestForm, *, error: str = "", status: int = 200):
        user = request.user
        payout_list = list(selectors.payouts_for(creator=user)[:RECENT_PAYOUTS])
        if not form.is_bound and payout_list:
            # The account the host was paid to last time, so that asking again is one tap.
            form.initial["destination"] = payout_list[0].destination
        return render(
            request,
            self.template_name,
            {
                **reports.earnings_overview(creator=user),
                "lives": reports.earnings_per_live(creator=user),
                "recent": list(reports.gifts_received(creator=user)[:RECENT_GIFTS]),
                "statements": list(reports.statements_for(creator=user)),
                "payouts": payout_list,
                "form": form,
                # A fresh token per page: each Request from it is one payout, however often
                # it is submitted.
                "token": uuid.uuid4(),
                "minimum_minor": settings.GIFTING_PAYOUT_MINIMUM_MINOR,
                "share": _share_percent(),
                "error": error,
            },
            status=status,
        )


class PayoutRequestView(EarningsView):
    """Request a payout of settled earnings, then back to the earnings page with a message;
    a refusal (below the minimum, more than is available) is shown on the page, nothing
    held."""

    http_method_names = ["post"]

    def post(self, request):
        form = PayoutRequestForm(request.POST, use_required_attribute=False)
        if not form.is_valid():
            return self.render(request, form, error="Check the payout details.", status=400)
        data = form.cleaned_data
        try:
            payout = payouts.payout_request(
                creator=request.user,
                amount_minor=data["amount"],
                destination=data["destination"],
                idempotency_key=f"page:{data['token']}",
            )
        except NotEnoughEarnings as exc:
            form.add_error("amount", "That is more than your available balance.")
            return self.render(request, form, error=exc.message, status=exc.status)
        except InvalidPayout as exc:
            for key, errors in exc.fields.items():
                for message in errors:
                    form.add_error(key if key in form.fields else None, message)
            # A refused amount (below the minimum) is what to fix: said at the top too.
            error = exc.fields.get("amount", [exc.message])[0]
            return self.render(request, form, error=error, status=exc.status)
        messages.success(
            request,
            f"Payout of {format_money(payout.amount_minor, payout.currency)} requested: "
            "staff review it shortly.",
        )
        return redirect("gifting:earnings")


SUPPORTERS_PAGE_SIZE = 50


class SupportersView(LoginRequiredMixin, View):
    """/earnings/supporters/: every gift the host received, newest first, 50 a page, and
    their all-time top fans."""

    template_name = "gifting/supporters.html"

    def get(self, request):
        paginator = Paginator(reports.gifts_received(creator=request.user), SUPPORTERS_PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        return render(
            request,
            self.template_name,
            {
                "page": page,
                "fans": selectors.top_fans_for_creator(creator_id=request.user.pk),
            },
        )


CSV_HEADER = [
    "sent_at",
    "sender_handle",
    "gift",
    "quantity",
    "coins",
    "value_minor",
    "creator_minor",
    "platform_minor",
    "currency",
    "live_id",
    "live_title",
]
# A spreadsheet runs a cell that starts with one of these as a formula (a live title such
# as "=HYPERLINK(...)" typed by anyone): a leading quote keeps it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _supporter_row(row: tuple) -> list:
    sent_at, handle, gift, quantity, coins, value, share, platform, cur, live, title = row
    return [
        sent_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        _csv_text(handle),
        _csv_text(gift),
        quantity,
        coins,
        value,
        share,
        platform,
        _csv_text(cur),
        live,
        _csv_text(title),
    ]


class SupportersCsvView(LoginRequiredMixin, View):
    """/earnings/supporters.csv: the same gifts as a spreadsheet, one row per gift, times
    in UTC (ISO 8601), money in minor units."""

    def get(self, request):
        rows = map(_supporter_row, reports.gifts_received_rows(creator=request.user))
        # Written as it is read: a host with many gifts is never held in memory whole.
        response = StreamingHttpResponse(
            csv_lines(itertools.chain([CSV_HEADER], rows)), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().astimezone(UTC).strftime("%Y%m%d")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"tapbuy-supporters-{request.user.handle}-{stamp}.csv"
        )
        patch_cache_control(response, private=True, no_store=True)  # the host's earnings
        return response


class ProfileView(ShopProfileView):
    """/@handle with the host's all-time top fans under the profile (none shown when no one
    has sent them a gift yet): one query on the per-host gift totals."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["top_fans"] = selectors.top_fans_for_creator(creator_id=context["profile"].pk)
        return context
