"""The buyer's pages: orders, the buy sheet of a live, the bag and addresses.

Each view parses a form, calls the service that does the work and renders the result.
The buy sheet is one partial, answered alone to htmx (the dialog over a live) and inside
a full page otherwise; it shows a service's error in place and keeps what was typed.
"""

from __future__ import annotations

import uuid
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import ListView

from config.errors import DomainError, DomainErrorMixin
from payments.forms import CardForm
from payments.money import format_money
from payments.provider_services import payment_method_add, payment_methods_list
from shops.selectors import product_get_public
from streams.selectors import deal_running

from . import selectors, services
from .errors import InvalidOrder, PriceChanged
from .forms import (
    AddressForm,
    BagAddForm,
    BagQuantityForm,
    BuyForm,
    RefundForm,
    ShipPayForm,
)
from .models import ORDER_TRANSITIONS, Order
from .throttles import CheckoutThrottle

# The card form's fields for the names payment_method_add uses in its errors.
CARD_FIELDS = {"number": "number", "exp_month": "expiry", "exp_year": "expiry", "cvc": "cvc"}
HISTORY_LABELS = {
    "placed": "Order placed",
    "paid": "Payment received",
    "shipped": "Shipped",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "refund_requested": "Refund requested",
    "refunded": "Refunded",
    "refund_rejected": "Refund declined by the shop",
}
NOTE_KINDS = {"shipped", "refund_requested", "refund_rejected", "refunded"}


def _remember_bag_count(request, count: int) -> None:
    # The nav shows the bag's count from the session: no query on every page.
    if request.session.get("bag_count") != count:
        request.session["bag_count"] = count


def _bag_units(user) -> int:
    return sum(item.quantity for item in selectors.bag_for(user=user))


def _put_errors(form, exc: DomainError, names: dict[str, str] | None = None) -> bool:
    """Show a service's field errors on the form's fields; False when none fits."""
    placed = False
    for key, errors in exc.fields.items():
        field = (names or {}).get(key, key)
        if field in form.fields:
            for error in errors:
                form.add_error(field, error)
            placed = True
    return placed


# --- orders ---------------------------------------------------------------------------------


class OrderListView(LoginRequiredMixin, ListView):
    template_name = "orders/order_list.html"
    context_object_name = "orders"
    paginate_by = 20

    def get_queryset(self):
        return selectors.orders_for_buyer(buyer=self.request.user)


def _order_or_404(request, pk: int) -> Order:
    order = selectors.order_for_buyer(buyer=request.user, order_id=pk)
    if order is None:
        raise Http404("No such order.")
    return order


def _may_become(order: Order, status: str) -> bool:
    return status in ORDER_TRANSITIONS.get(order.status, ())


class OrderDetailView(LoginRequiredMixin, View):
    template_name = "orders/order_detail.html"

    def get(self, request, pk):
        return self.render(request, _order_or_404(request, pk))

    def render(self, request, order: Order, *, refund_form=None, status: int = 200):
        can_refund = _may_become(order, Order.Status.REFUND_REQUESTED)
        if can_refund and refund_form is None:
            refund_form = RefundForm(order=order)
        history = [
            {
                "event": e,
                "label": HISTORY_LABELS.get(e.kind, e.kind.replace("_", " ").capitalize()),
                # Carrier and tracking, the buyer's and the shop's reasons; not codes.
                "note": e.note if e.kind in NOTE_KINDS else "",
            }
            for e in order.events.all()
            if not e.kind.startswith("email.")
        ]
        return render(
            request,
            self.template_name,
            {
                "order": order,
                "history": history,
                "can_cancel": _may_become(order, Order.Status.CANCELLED),
                "can_confirm": _may_become(order, Order.Status.DELIVERED),
                "refund_form": refund_form if can_refund else None,
            },
            status=status,
        )


class OrderActionView(LoginRequiredMixin, DomainErrorMixin, View):
    """A small POST on one of the buyer's orders: another buyer's order is a 404, and a
    service's refusal comes back as a message on the page the buyer was on."""

    def post(self, request, pk):
        order = _order_or_404(request, pk)
        response = self.act(request, order)
        return response or redirect(order)

    def act(self, request, order: Order):
        raise NotImplementedError


class OrderCancelView(OrderActionView):
    def act(self, request, order):
        was_paid = order.status == Order.Status.PAID
        services.order_cancel_by_buyer(buyer=request.user, order_id=order.pk)
        messages.success(
            request,
            f"Order {order.reference} is cancelled."
            + (" Your money is on its way back to your card." if was_paid else ""),
        )


class OrderReceivedView(OrderActionView):
    def act(self, request, order):
        services.order_deliver(actor=request.user, order_id=order.pk)
        messages.success(request, f"Thanks! Order {order.reference} is marked delivered.")


class OrderRefundView(OrderActionView):
    def act(self, request, order):
        form = RefundForm(request.POST, order=order)
        if not _may_become(order, Order.Status.REFUND_REQUESTED):
            messages.error(request, "A refund can be requested once the order is delivered.")
            return None
        if not form.is_valid():
            return OrderDetailView().render(request, order, refund_form=form, status=400)
        services.order_request_refund(
            buyer=request.user,
            order_id=order.pk,
            reason=form.cleaned_data["reason"],
            lines=form.cleaned_data["lines"],
        )
        messages.success(request, "Refund requested: the shop will answer soon.")
        return None


# --- checkout helpers -----------------------------------------------------------------------


def _ship_pay_forms(request, form_class, *, data=None, **kwargs):
    """The checkout form with the buyer's addresses and cards, and the address and card
    forms that come with its "new" choices (not required while another is chosen)."""
    form = form_class(
        data,
        addresses=selectors.addresses_for(user=request.user),
        cards=payment_methods_list(user=request.user),
        **kwargs,
    )
    new_address = data is not None and form.new_address
    new_card = data is not None and form.new_card
    address_form = AddressForm(
        data if new_address else None, prefix="address", use_required_attribute=False
    )
    card_form = CardForm(data if new_card else None, prefix="card", use_required_attribute=False)
    return form, address_form, card_form


def _forms_valid(form, address_form, card_form) -> bool:
    valid = form.is_valid()
    if form.new_address:
        valid = address_form.is_valid() and valid
    if form.new_card:
        valid = card_form.is_valid() and valid
    return valid


def _set_up_ship_pay(request, form, address_form, card_form, saved: dict) -> tuple[int, str]:
    """Save the new address and card the form asks for (the first buy sets them up), and
    return the address id and payment method to check out with. What was saved is noted
    in `saved`, so that a later error shows it as chosen."""
    if form.new_address:
        try:
            address = services.address_add(
                user=request.user,
                data=address_form.address_data(),
                make_default=address_form.cleaned_data["make_default"],
            )
        except DomainError as exc:
            _put_errors(address_form, exc)
            raise
        saved["address"] = str(address.pk)
    if form.new_card:
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
            _put_errors(card_form, exc, CARD_FIELDS)
            raise
        saved["payment_method"] = str(card.pk)
    address_id = int(saved.get("address") or form.cleaned_data["address"])
    payment_method = saved.get("payment_method") or form.cleaned_data["payment_method"]
    return address_id, payment_method


def _after_error(request, form_class, saved: dict, address_form, card_form, **kwargs):
    """The forms again after a refused checkout: what was saved shows as chosen, the
    forms whose rows were saved start empty, and a fresh token makes the next confirm a
    new checkout (the refused one may have made a cancelled order under its key)."""
    data = request.POST.copy()
    data.update(saved)
    data["token"] = str(uuid.uuid4())
    form, fresh_address, fresh_card = _ship_pay_forms(request, form_class, data=data, **kwargs)
    form.is_valid()
    if "address" not in saved and form.new_address:
        fresh_address = address_form
    if "payment_method" not in saved and form.new_card:
        fresh_card = card_form
    return form, fresh_address, fresh_card


def _checkout_refusal(request) -> str:
    """The API's checkout rate, per buyer, for the pages too (one budget for both): a
    message when this checkout is one too many, else ""."""
    throttle = CheckoutThrottle()
    if throttle.allow_request(request, None):
        return ""
    wait = throttle.wait()
    return f"Too many checkouts at once; try again in {max(1, round(wait or 1))} seconds."


def _error_message(exc: DomainError, currency: str | None = None) -> str:
    """What to tell the buyer: a changed price in money, and the field messages of a
    refusal whose own message is only "some fields are not valid"."""
    if isinstance(exc, PriceChanged) and currency:
        prices = ", ".join(format_money(p, currency) for p in exc.prices.values())
        return f"The price changed: it is now {prices}. Check it and confirm again."
    if exc.message == InvalidOrder.message and exc.fields:
        return " ".join(message for messages in exc.fields.values() for message in messages)
    return exc.message


# --- the buy sheet --------------------------------------------------------------------------


def _stream_id(request) -> int | None:
    raw = request.POST.get("stream") or request.GET.get("stream") or ""
    return int(raw) if raw.isdigit() else None


class BuySheetView(View):
    """/buy/<product>/?stream=<live>: pick an option and a quantity, confirm, done.

    The default address and card are chosen already; a buyer without them fills the
    address and card forms in the sheet once. Confirm places the order with the live's
    running deal price, under the sheet's token as its checkout key."""

    page_template = "orders/buy.html"
    sheet_template = "orders/partials/buy_sheet.html"

    def dispatch(self, request, *args, **kwargs):
        self.product = product_get_public(pk=kwargs["product_id"])
        self.stream_id = _stream_id(request)
        if not request.user.is_authenticated:
            if not request.htmx:
                return redirect_to_login(request.get_full_path())
            return self.respond("orders/partials/buy_login.html", {})
        return super().dispatch(request, *args, **kwargs)

    def respond(self, partial: str, context: dict, status: int = 200):
        back = (
            reverse("streams:live", args=[self.stream_id])
            if self.stream_id
            else self.product.get_absolute_url()
        )
        context = {
            "product": self.product,
            "stream_id": self.stream_id,
            "back_url": back,
            "partial": partial,
            **context,
        }
        template = partial if self.request.htmx else self.page_template
        return render(self.request, template, context, status=status)

    def variants(self):
        deal = deal_running(stream_id=self.stream_id, product_id=self.product.pk)
        variants = list(self.product.variants.all())
        for variant in variants:
            variant.sheet_price = (
                min(variant.price_minor, deal.price_minor) if deal else variant.price_minor
            )
        return variants, deal

    def sheet(self, form, address_form, card_form, *, variants, deal, error="", status=200):
        chosen = form["variant"].value()
        current = next((v for v in variants if str(v.pk) == str(chosen)), None)
        return self.respond(
            self.sheet_template,
            {
                "form": form,
                "address_form": address_form,
                "card_form": card_form,
                "variants": variants,
                "current": current or (variants[0] if variants else None),
                "deal": deal,
                "error": error,
                "own_shop": self.product.shop.owner_id == self.request.user.pk,
                "image": next(iter(self.product.images.all()), None),
            },
            status=status,
        )

    def get(self, request, product_id):
        variants, deal = self.variants()
        form, address_form, card_form = _ship_pay_forms(request, BuyForm, variants=variants)
        return self.sheet(form, address_form, card_form, variants=variants, deal=deal)

    def post(self, request, product_id):
        variants, deal = self.variants()
        form, address_form, card_form = _ship_pay_forms(
            request, BuyForm, data=request.POST, variants=variants
        )
        refusal = _checkout_refusal(request)
        if refusal:
            form.is_valid()
            return self.sheet(
                form,
                address_form,
                card_form,
                variants=variants,
                deal=deal,
                error=refusal,
                status=429,
            )
        if not _forms_valid(form, address_form, card_form):
            return self.sheet(
                form,
                address_form,
                card_form,
                variants=variants,
                deal=deal,
                error="Check the highlighted fields.",
                status=400,
            )
        saved: dict = {}
        data = form.cleaned_data
        try:
            address_id, payment_method = _set_up_ship_pay(
                request, form, address_form, card_form, saved
            )
            item = {"variant": data["variant"], "quantity": data["quantity"]}
            if data["price"] is not None:
                item["price"] = data["price"]
            orders = services.order_place(
                buyer=request.user,
                items=[item],
                checkout_key=f"sheet:{data['token']}",
                stream_id=self.stream_id,
                address_id=address_id,
                payment_method=payment_method,
                one_shop=True,
            )
        except DomainError as exc:
            variants, deal = self.variants()
            form, address_form, card_form = _after_error(
                request, BuyForm, saved, address_form, card_form, variants=variants
            )
            return self.sheet(
                form,
                address_form,
                card_form,
                variants=variants,
                deal=deal,
                error=_error_message(exc, self.product.currency),
                status=exc.status,
            )
        return self.respond("orders/partials/buy_done.html", {"order": orders[0]})


# --- the bag --------------------------------------------------------------------------------


def _bag_groups(items) -> list[dict]:
    groups = []
    for _shop_id, rows in groupby(items, key=lambda item: item.variant.product.shop_id):
        rows = list(rows)
        shop = rows[0].variant.product.shop
        for item in rows:
            item.image = next(iter(item.variant.product.images.all()), None)
            item.total_minor = item.variant.price_minor * item.quantity
        groups.append(
            {
                "shop": shop,
                "items": rows,
                "currency": shop.currency,
                "subtotal": sum(item.total_minor for item in rows),
            }
        )
    return groups


class BagView(LoginRequiredMixin, View):
    template_name = "orders/bag.html"

    def get(self, request):
        form, address_form, card_form = _ship_pay_forms(request, ShipPayForm)
        return self.render(request, form, address_form, card_form)

    def render(self, request, form, address_form, card_form, *, error="", status=200):
        items = selectors.bag_for(user=request.user)
        _remember_bag_count(request, sum(item.quantity for item in items))
        return render(
            request,
            self.template_name,
            {
                "groups": _bag_groups(items),
                "form": form,
                "address_form": address_form,
                "card_form": card_form,
                "error": error,
            },
            status=status,
        )


class BagCheckoutView(BagView):
    """Check out the whole bag: one order per shop, then the orders page."""

    http_method_names = ["post"]

    def post(self, request):
        form, address_form, card_form = _ship_pay_forms(request, ShipPayForm, data=request.POST)
        refusal = _checkout_refusal(request)
        if refusal:
            form.is_valid()
            return self.render(request, form, address_form, card_form, error=refusal, status=429)
        if not _forms_valid(form, address_form, card_form):
            return self.render(
                request,
                form,
                address_form,
                card_form,
                error="Check the highlighted fields.",
                status=400,
            )
        saved: dict = {}
        try:
            address_id, payment_method = _set_up_ship_pay(
                request, form, address_form, card_form, saved
            )
            orders = services.bag_checkout(
                buyer=request.user,
                checkout_key=f"bag:{form.cleaned_data['token']}",
                address_id=address_id,
                payment_method=payment_method,
            )
        except DomainError as exc:
            form, address_form, card_form = _after_error(
                request, ShipPayForm, saved, address_form, card_form
            )
            return self.render(
                request,
                form,
                address_form,
                card_form,
                error=_error_message(exc),
                status=exc.status,
            )
        _remember_bag_count(request, 0)
        placed = ", ".join(
            f"{order.reference} ({format_money(order.total_minor, order.currency)})"
            for order in orders
        )
        noun = "Order" if len(orders) == 1 else "Orders"
        messages.success(request, f"{noun} placed: {placed}.")
        return redirect("orders:list")


def _next_url(request, default: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class BagAddView(LoginRequiredMixin, DomainErrorMixin, View):
    """Add to bag from a live's sheet or a product page; htmx gets a small confirmation."""

    def post(self, request):
        form = BagAddForm(request.POST)
        if not form.is_valid():
            message = "Choose an option and a quantity between 1 and 99."
            if request.htmx:
                return render(
                    request, "orders/partials/bag_added.html", {"error": message}, status=400
                )
            messages.error(request, message)
            return redirect(_next_url(request, reverse("orders:bag")))
        data = form.cleaned_data
        try:
            item = services.bag_add(
                user=request.user,
                variant_id=data["variant"],
                quantity=data["quantity"],
                stream_id=data["stream"],
            )
        except DomainError as exc:
            if not request.htmx:
                raise
            return render(
                request, "orders/partials/bag_added.html", {"error": exc.message}, status=exc.status
            )
        count = _bag_units(request.user)
        _remember_bag_count(request, count)
        if request.htmx:
            return render(
                request, "orders/partials/bag_added.html", {"item": item, "bag_count": count}
            )
        messages.success(request, "Added to your bag.")
        return redirect(_next_url(request, reverse("orders:bag")))


class BagItemView(LoginRequiredMixin, DomainErrorMixin, View):
    """Change a bag line's quantity (0 removes it)."""

    def post(self, request, item_id):
        form = BagQuantityForm(request.POST)
        if not form.is_valid():
            messages.error(request, "A quantity between 0 and 99.")
            return redirect("orders:bag")
        services.bag_set_quantity(
            user=request.user, item_id=item_id, quantity=form.cleaned_data["quantity"]
        )
        return redirect("orders:bag")


class BagRemoveView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request, item_id):
        services.bag_remove(user=request.user, item_id=item_id)
        messages.success(request, "Removed from your bag.")
        return redirect("orders:bag")


# --- addresses ------------------------------------------------------------------------------


class AddressListView(LoginRequiredMixin, View):
    template_name = "orders/address_list.html"

    def get(self, request):
        return self.render(request, AddressForm())

    def post(self, request):
        form = AddressForm(request.POST)
        if form.is_valid():
            try:
                services.address_add(
                    user=request.user,
                    data=form.address_data(),
                    make_default=form.cleaned_data["make_default"],
                )
            except DomainError as exc:
                if not _put_errors(form, exc):
                    form.add_error(None, exc.message)
            else:
                messages.success(request, "Address saved.")
                return redirect(_next_url(request, reverse("orders:addresses")))
        return self.render(request, form, status=400)

    def render(self, request, form, status=200):
        return render(
            request,
            self.template_name,
            {
                "addresses": selectors.addresses_for(user=request.user),
                "form": form,
                "next": request.POST.get("next") or request.GET.get("next", ""),
            },
            status=status,
        )


class AddressDefaultView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request, pk):
        services.address_set_default(user=request.user, address_id=pk)
        messages.success(request, "One-tap buying now ships there.")
        return redirect("orders:addresses")


class AddressDeleteView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request, pk):
        services.address_delete(user=request.user, address_id=pk)
        messages.success(request, "Address deleted. Orders keep the address they shipped to.")
        return redirect("orders:addresses")
