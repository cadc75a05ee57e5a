"""The merchant center's orders and per-live figures (/seller/orders/). Every view reads
through the seller_* selectors, scoped to the signed-in merchant's shop (another shop's
order or live is a 404), and every action calls one service. A DomainError that names
fields goes back on the form that caused it; any other becomes a flash message through
DomainErrorMixin."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import patch_vary_headers
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from config.errors import DomainError
from payments.money import format_money
from shops.models import Shop
from shops.seller_views import SellerView

from . import selectors, services
from .models import Order, OrderLine

PAGE_SIZE = 50
CANCEL_REASONS = ("Out of stock", "Cannot ship to this address", "Asked by the buyer")


# --- forms ----------------------------------------------------------------------------------


class OrderFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Order or buyer")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Order.Status.choices])
    live = forms.IntegerField(required=False, min_value=1)
    since = forms.DateField(required=False, label="Placed from")
    until = forms.DateField(required=False, label="Placed until")

    def filters(self) -> dict:
        """The selector's arguments from the valid fields; an invalid one filters nothing."""
        self.is_valid()  # cleaned_data keeps the fields that are valid
        data = self.cleaned_data
        return {
            "q": data.get("q") or "",
            "status": data.get("status") or "",
            "stream_id": data.get("live"),
            "placed_from": data.get("since"),
            "placed_to": data.get("until"),
        }


class ShipForm(forms.Form):
    carrier = forms.CharField(max_length=60)
    tracking_number = forms.CharField(max_length=60)


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=40, help_text="The buyer sees it; their money goes back in full."
    )


class RejectRefundForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), help_text="The buyer sees it."
    )


class DeliverForm(forms.Form):
    pass


class RefundForm(forms.Form):
    """Units to refund per line. All blank: what the buyer asked for, or everything left."""

    reason = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, order: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_lines: list[tuple[OrderLine, int, forms.BoundField]] = []
        for line in order.lines.all():
            left = line.quantity - line.refunded_quantity
            name = f"line_{line.pk}"
            # A field for every line, also one refunded in full: a stale form naming it is
            # refused instead of silently refunding everything else.
            self.fields[name] = forms.IntegerField(
                required=False,
                min_value=0,
                max_value=left,
                label=line.title,
                error_messages={
                    "max_value": f"Only {left} unit{'s' if left != 1 else ''} left to refund."
                    if left
                    else "Already refunded in full."
                },
            )
            self.order_lines.append((line, left, self[name]))

    def lines(self) -> dict[int, int] | None:
        chosen = {
            line.pk: self.cleaned_data[f"line_{line.pk}"]
            for line, _, _ in self.order_lines
            if self.cleaned_data.get(f"line_{line.pk}")
        }
        return chosen or None


def _form_errors(form: forms.Form, exc: DomainError) -> None:
    """A service's message onto the form as a whole and its field errors onto the fields of
    the same name (the form's own checks usually catch those first)."""
    form.add_error(None, exc.message)
    for key, errors in exc.fields.items():
        if key in form.fields:
            form.add_error(key, errors)


# --- the orders list ------------------------------------------------------------------------


@method_decorator(never_cache, name="dispatch")
class SellerOrderListView(SellerView):
    """The shop's orders. htmx polls the rows partial every few seconds, so that orders
    placed in a live appear without a reload; the partial keeps the page's filters."""

    seller_tab = "orders"
    template_name = "orders/seller/order_list.html"
    rows_template = "orders/seller/partials/order_rows.html"

    def get(self, request):
        shop = self.shop()
        if shop is None:
            return redirect("seller:home")
        form = OrderFilterForm(request.GET)
        filters = form.filters()
        orders = selectors.seller_orders(shop=shop, **filters)
        page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "shop": shop,
            "page": page,
            "filtered": any(value not in ("", None) for value in filters.values()),
        }
        if request.htmx:
            response = self.render(self.rows_template, context)
        else:
            response = self.render(
                self.template_name,
                {
                    **context,
                    "form": form,
                    "statuses": Order.Status.choices,
                    "lives": list(selectors.seller_lives(shop=shop)[:100]),
                    "live_id": filters["stream_id"],
                },
            )
        # The same address answers the page and its rows: a browser must not show the
        # rows alone when going back to the page.
        patch_vary_headers(response, ("HX-Request",))
        return response


# --- one order ------------------------------------------------------------------------------

EVENT_LABELS = {
    "placed": "Placed",
    "paid": "Paid",
    "shipped": "Shipped",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "refund_requested": "Refund requested",
    "refunded": "Refunded",
    "refund_rejected": "Refund rejected",
}


def _event_label(kind: str) -> str:
    if kind.startswith("email."):  # email.paid, email.refunded.2
        what = kind.split(".")[1]
        return f"Email sent: {EVENT_LABELS.get(what, what).lower()}"
    return EVENT_LABELS.get(kind, kind.replace("_", " ").capitalize())


class SellerOrderView(SellerView):
    seller_tab = "orders"
    template_name = "orders/seller/order_detail.html"

    def order(self, pk: int) -> tuple[Shop, Order]:
        shop = self.shop_or_404()
        order = selectors.seller_order_get(shop=shop, order_id=pk)
        if order is None:
            raise Http404("No such order.")
        return shop, order

    def render_detail(
        self, shop: Shop, order: Order, *, bound: dict | None = None, status: int = 200
    ) -> HttpResponse:
        bound = bound or {}
        lines = {line.pk: line for line in order.lines.all()}
        refunds = [
            {
                "refund": refund,
                "lines": [
                    (lines[int(pk)].title if int(pk) in lines else f"Line {pk}", quantity)
                    for pk, quantity in refund.lines.items()
                ],
            }
            for refund in order.refunds.all()
        ]
        events = [
            {"event": event, "label": _event_label(event.kind)} for event in order.events.all()
        ]
        can_refund = order.status in (
            Order.Status.DELIVERED,
            Order.Status.REFUND_REQUESTED,
            Order.Status.REFUNDED,
        ) and any(line.refunded_quantity < line.quantity for line in lines.values())
        return self.render(
            self.template_name,
            {
                "shop": shop,
                "order": order,
                "address": order.shipping_address or {},
                "refunds": refunds,
                "events": events,
                "requested": next((r for r in refunds if r["refund"].status == "requested"), None),
                "can_ship": order.status == Order.Status.PAID,
                "can_deliver": order.status == Order.Status.SHIPPED,
                "can_cancel": order.status in (Order.Status.PENDING_PAYMENT, Order.Status.PAID),
                "can_refund": can_refund,
                "can_reject": order.status == Order.Status.REFUND_REQUESTED,
                "ship_form": bound.get("ship") or ShipForm(prefix="ship"),
                "cancel_form": bound.get("cancel") or CancelForm(prefix="cancel"),
                "refund_form": bound.get("refund") or RefundForm(prefix="refund", order=order),
                "reject_form": bound.get("reject") or RejectRefundForm(prefix="reject"),
                "cancel_reasons": CANCEL_REASONS,
            },
            status=status,
        )


class SellerOrderDetailView(SellerOrderView):
    def get(self, request, pk):
        shop, order = self.order(pk)
        return self.render_detail(shop, order)


class OrderActionView(SellerOrderView):
    """POST one form, call one service, flash what happened and go back to the order.
    Bad input renders the order again with the form's errors (400) and changes nothing."""

    form_class: type[forms.Form] = DeliverForm
    prefix = ""

    def make_form(self, order: Order, data=None) -> forms.Form:
        return self.form_class(data, prefix=self.prefix or None)

    def act(self, order: Order, data: dict, form: forms.Form) -> str:
        """Call the service; return what to tell the merchant."""
        raise NotImplementedError

    def get(self, request, pk):
        # Only to the shop's own order: anyone else's id is a 404 here too.
        _, order = self.order(pk)
        return redirect("seller_orders:detail", pk=order.pk)

    def post(self, request, pk):
        shop, order = self.order(pk)
        form = self.make_form(order, request.POST)
        if form.is_valid():
            try:
                done = self.act(order, form.cleaned_data, form)
            except DomainError as exc:
                if not exc.fields:
                    raise  # DomainErrorMixin: a flash message and back to the page
                _form_errors(form, exc)
            else:
                messages.success(request, done)
                return redirect("seller_orders:detail", pk=order.pk)
        return self.render_detail(shop, order, bound={self.prefix: form}, status=400)


class OrderShipView(OrderActionView):
    form_class = ShipForm
    prefix = "ship"

    def act(self, order, data, form):
        order = services.order_ship(
            actor=self.request.user,
            order_id=order.pk,
            carrier=data["carrier"],
            tracking_number=data["tracking_number"],
        )
        return f"{order.reference} marked shipped with {order.carrier} {order.tracking_number}."


class OrderDeliverView(OrderActionView):
    form_class = DeliverForm
    prefix = "deliver"

    def act(self, order, data, form):
        order = services.order_deliver(actor=self.request.user, order_id=order.pk)
        return f"{order.reference} marked delivered."


class OrderCancelView(OrderActionView):
    form_class = CancelForm
    prefix = "cancel"

    def act(self, order, data, form):
        was_paid = order.status == Order.Status.PAID
        order = services.order_cancel_by_shop(
            actor=self.request.user, order_id=order.pk, reason=data["reason"]
        )
        if was_paid:
            return f"{order.reference} cancelled: the buyer's money is on its way back."
        return f"{order.reference} cancelled."


class OrderRefundView(OrderActionView):
    form_class = RefundForm
    prefix = "refund"

    def make_form(self, order, data=None):
        return RefundForm(data, prefix=self.prefix, order=order)

    def act(self, order, data, form):
        refund = services.order_refund(
            actor=self.request.user,
            order_id=order.pk,
            lines=form.lines(),
            reason=data.get("reason") or "",
        )
        return f"Refunded {format_money(refund.amount_minor, order.currency)} of {order.reference}."


class OrderRejectRefundView(OrderActionView):
    form_class = RejectRefundForm
    prefix = "reject"

    def act(self, order, data, form):
        services.order_reject_refund(
            actor=self.request.user, order_id=order.pk, reason=data["reason"]
        )
        return f"Refund request of {order.reference} rejected."


# --- per-live figures -----------------------------------------------------------------------


class LiveListView(SellerView):
    """Every live that sold the shop's products, with what it sold."""

    seller_tab = "lives"

    def get(self, request):
        shop = self.shop()
        if shop is None:
            return redirect("seller:home")
        page = Paginator(selectors.seller_lives(shop=shop), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        return self.render(
            "orders/seller/live_list.html",
            {
                "shop": shop,
                "page": page,
                "rows": selectors.seller_live_figures(shop=shop, streams=list(page)),
            },
        )


class LiveDetailView(SellerView):
    """One live's figures for the shop and its best sellers, by units or by revenue."""

    seller_tab = "lives"

    def get(self, request, stream_id):
        shop = self.shop_or_404()
        stream = selectors.seller_live_get(shop=shop, stream_id=stream_id)
        if stream is None:
            raise Http404("No such live.")
        by = request.GET.get("by")
        by = by if by in selectors.TOP_PRODUCTS_ORDER else "units"
        (figures,) = selectors.seller_live_figures(shop=shop, streams=[stream])
        return self.render(
            "orders/seller/live_detail.html",
            {
                "shop": shop,
                "stream": stream,
                "figures": figures,
                "top_products": selectors.seller_live_top_products(
                    shop=shop, stream_id=stream.pk, by=by
                ),
                "by": by,
            },
        )
