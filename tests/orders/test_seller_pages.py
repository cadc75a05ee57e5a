"""The merchant center's orders and per-live figures (/seller/orders/) through HTTP: what
each page shows, what each action changes, that bad input changes nothing, and that a
merchant only ever sees and touches their own shop's orders."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.models import Order, OrderEvent, OrderLine, Refund
from payments.ledger_models import LedgerEntry
from payments.provider_services import payment_method_add
from shops.models import Variant
from streams import services as streams_services
from streams.models import Stream
from tests.factories import ShopFactory, UserFactory, make_product

from .conftest import variant_of

pytestmark = pytest.mark.django_db


# --- helpers --------------------------------------------------------------------------------


def place(buyer, key, *items, stream=None):
    """One paid order of (product, quantity) pairs, bought in one tap."""
    (order,) = services.order_place(
        buyer=buyer,
        items=[{"variant": variant_of(product).pk, "quantity": n} for product, n in items],
        stream_id=stream.pk if stream else None,
        checkout_key=key(),
    )
    assert order.status == Order.Status.PAID
    return order


def delivered(order, seller):
    services.order_ship(actor=seller, order_id=order.pk, carrier="UPS", tracking_number="1Z999")
    services.order_deliver(actor=seller, order_id=order.pk)
    order.refresh_from_db()
    return order


def snapshot():
    """Every order row as plain values: compared before and after a refused request."""
    return (
        list(Order.objects.order_by("pk").values()),
        list(OrderLine.objects.order_by("pk").values()),
        list(OrderEvent.objects.order_by("pk").values()),
        list(Refund.objects.order_by("pk").values()),
        list(Variant.objects.order_by("pk").values("pk", "stock")),
    )


def flash(response):
    return [str(m) for m in response.context["messages"]]


def detail_url(order):
    return reverse("seller_orders:detail", args=[order.pk])


def action_url(name, order):
    return reverse(f"seller_orders:{name}", args=[order.pk])


@pytest.fixture
def noah(db):
    """A second buyer, one tap away from buying too."""
    user = UserFactory(handle="noah", display_name="Noah Buyer")
    services.address_add(
        user=user,
        data={
            "name": "Noah Buyer",
            "line1": "9 Elm Rd",
            "city": "Shelbyville",
            "postal_code": "54321",
            "country": "US",
        },
    )
    payment_method_add(user=user, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123")
    return user


@pytest.fixture
def intruder(db):
    """Another merchant with a shop and a product of their own."""
    shop = ShopFactory(handle="rivalco", owner=UserFactory(handle="rival", is_business=True))
    make_product(shop, "Rival cap", sku="RC", price_minor=1500, stock=9)
    return shop.owner


@pytest.fixture
def sticker(seller):
    return make_product(seller.shop, "Sticker", sku="ST", price_minor=300, stock=20)


# --- who may see the pages ------------------------------------------------------------------


def test_pages_need_login(client, buyer, shirt, key):
    order = place(buyer, key, (shirt, 1))
    urls = [
        reverse("seller_orders:list"),
        reverse("seller_orders:lives"),
        detail_url(order),
        reverse("seller_orders:live", args=[1]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    before = snapshot()
    for name in ("ship", "deliver", "cancel", "refund", "reject_refund"):
        response = client.post(action_url(name, order), {"cancel-reason": "x"})
        assert response.url.startswith(reverse("account_login"))
    assert snapshot() == before


def test_a_shopless_account_is_sent_home_and_reaches_no_order(client, viewer, buyer, shirt, key):
    order = place(buyer, key, (shirt, 1))
    client.force_login(viewer)
    for name in ("seller_orders:list", "seller_orders:lives"):
        assert client.get(reverse(name)).url == reverse("seller:home")
    assert client.get(detail_url(order)).status_code == 404
    before = snapshot()
    response = client.post(
        action_url("cancel", order), {"cancel-reason": "Out of stock"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404
    assert snapshot() == before


def test_the_tabs_lead_to_orders_and_lives(client, seller):
    client.force_login(seller)
    body = client.get(reverse("seller:home")).content.decode()
    assert reverse("seller_orders:list") in body
    assert reverse("seller_orders:lives") in body
    body = client.get(reverse("seller_orders:list")).content.decode()
    assert 'aria-current="page">Orders<' in body


# --- the orders list ------------------------------------------------------------------------


def test_list_shows_each_order_newest_first(client, seller, buyer, noah, shirt, mug, live, key):
    first = place(buyer, key, (shirt, 2), stream=live)
    second = place(noah, key, (mug, 1), (shirt, 1))
    client.force_login(seller)
    response = client.get(reverse("seller_orders:list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert [o.pk for o in response.context["page"]] == [second.pk, first.pk]
    assert first.reference in body and second.reference in body
    assert "@mia" in body and "@noah" in body
    assert "2 × Linen shirt" in body
    assert "1 × Mug, 1 × Linen shirt" in body or "1 × Linen shirt, 1 × Mug" in body
    assert "$98.00" in body and "$77.00" in body
    assert "Paid" in body and "Payment: Captured" in body
    assert "Live: Linen drop" in body
    assert first.placed_at.isoformat(timespec="seconds")[:16] in body  # <time datetime>
    assert reverse("seller_orders:detail", args=[first.pk]) in body


def test_list_is_paginated(client, seller, buyer, sticker, key):
    Variant.objects.filter(product=sticker).update(stock=100)
    for _ in range(51):
        place(buyer, key, (sticker, 1))
    client.force_login(seller)
    first = client.get(reverse("seller_orders:list"))
    assert len(first.context["page"].object_list) == 50
    assert "Page 1 of 2" in first.content.decode()
    assert len(client.get(reverse("seller_orders:list"), {"page": 2}).context["page"]) == 1


def test_list_filters(client, seller, buyer, noah, shirt, mug, live, key):
    in_live = place(buyer, key, (shirt, 1), stream=live)
    by_noah = place(noah, key, (mug, 1))
    shipped = place(buyer, key, (mug, 1))
    services.order_ship(actor=seller, order_id=shipped.pk, carrier="DHL", tracking_number="J1")
    # An order of last week, to filter by date.
    Order.objects.filter(pk=by_noah.pk).update(
        placed_at=timezone.now() - datetime.timedelta(days=7)
    )
    today = timezone.localdate()
    client.force_login(seller)

    def found(**params):
        response = client.get(reverse("seller_orders:list"), params)
        assert response.status_code == 200
        return {order.pk for order in response.context["page"]}

    everything = {in_live.pk, by_noah.pk, shipped.pk}
    assert found() == everything
    assert found(status="shipped") == {shipped.pk}
    assert found(status="paid") == {in_live.pk, by_noah.pk}
    assert found(live=str(live.pk)) == {in_live.pk}
    assert found(q=in_live.reference) == {in_live.pk}
    assert found(q=in_live.reference.lower()) == {in_live.pk}
    assert found(q=str(by_noah.pk)) == {by_noah.pk}
    assert found(q="noah") == {by_noah.pk}
    assert found(q="@mia") == {in_live.pk, shipped.pk}
    assert found(q="nobody") == set()
    assert found(q="TB999999999999") == set()  # past the largest id: nothing, no error
    assert found(since=today.isoformat()) == {in_live.pk, shipped.pk}
    assert found(until=(today - datetime.timedelta(days=1)).isoformat()) == {by_noah.pk}
    assert found(since=(today - datetime.timedelta(days=8)).isoformat(), q="mia") == {
        in_live.pk,
        shipped.pk,
    }
    assert found(status="paid", q="noah", live=str(live.pk)) == set()
    # A filter that makes no sense filters nothing and says why.
    response = client.get(reverse("seller_orders:list"), {"since": "not a date", "status": "x"})
    assert {o.pk for o in response.context["page"]} == everything
    assert "Enter a valid date." in response.content.decode()


def test_the_list_polls_for_new_orders(client, seller, buyer, shirt, live, key):
    first = place(buyer, key, (shirt, 1), stream=live)
    client.force_login(seller)
    page = client.get(reverse("seller_orders:list"), {"status": "paid"})
    body = page.content.decode()
    assert 'hx-trigger="every 10s"' in body
    assert f'hx-get="{reverse("seller_orders:list")}?status=paid"' in body
    assert "HX-Request" in page["Vary"]

    # An order placed in the live while the page is open: the next poll brings it.
    new = place(buyer, key, (shirt, 2), stream=live)
    rows = client.get(reverse("seller_orders:list"), {"status": "paid"}, HTTP_HX_REQUEST="true")
    text = rows.content.decode()
    assert rows.status_code == 200
    assert "<html" not in text and "order-filters" not in text
    assert text.lstrip().startswith('<div id="seller-orders"') or 'id="seller-orders"' in text
    assert 'hx-trigger="every 10s"' in text  # it keeps polling
    assert text.index(new.reference) < text.index(first.reference)


def test_another_merchant_sees_none_of_the_orders(client, intruder, buyer, shirt, live, key):
    order = place(buyer, key, (shirt, 1), stream=live)
    client.force_login(intruder)
    response = client.get(reverse("seller_orders:list"))
    assert list(response.context["page"]) == []
    assert order.reference not in response.content.decode()
    assert (
        client.get(reverse("seller_orders:list"), {"q": order.reference})
        .context["page"]
        .paginator.count
        == 0
    )
    assert client.get(detail_url(order)).status_code == 404


@pytest.mark.parametrize(
    "name, data",
    [
        ("ship", {"ship-carrier": "UPS", "ship-tracking_number": "1Z"}),
        ("deliver", {}),
        ("cancel", {"cancel-reason": "Out of stock"}),
        ("refund", {}),
        ("reject_refund", {"reject-reason": "No"}),
    ],
)
def test_another_merchant_gets_404_for_every_action(
    client, intruder, buyer, shirt, key, name, data
):
    order = place(buyer, key, (shirt, 1))
    client.force_login(intruder)
    before = snapshot()
    assert client.post(action_url(name, order), data).status_code == 404
    assert snapshot() == before


# --- one order and its actions --------------------------------------------------------------


def test_detail_shows_lines_address_payment_and_history(client, seller, buyer, shirt, mug, key):
    order = place(buyer, key, (shirt, 2), (mug, 1))
    client.force_login(seller)
    response = client.get(detail_url(order))
    body = response.content.decode()
    assert response.status_code == 200
    assert f"Order {order.reference}" in body
    assert "Linen shirt" in body and "Mug" in body
    assert "$126.00" in body  # 2 × 49 + 28
    assert "1 Main St" in body and "Springfield" in body and "12345" in body
    assert "Captured" in body and order.payment_ref in body
    assert [row["label"] for row in response.context["events"]] == ["Placed", "Paid"]
    assert 'data-testid="ship-form"' in body and 'data-testid="cancel-form"' in body
    assert 'data-testid="refund-form"' not in body


def test_ship_then_deliver(client, seller, buyer, shirt, key):
    order = place(buyer, key, (shirt, 1))
    client.force_login(seller)
    response = client.post(
        action_url("ship", order),
        {"ship-carrier": " UPS ", "ship-tracking_number": "1Z 999 AA1"},
        follow=True,
    )
    assert response.redirect_chain == [(detail_url(order), 302)]
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert (order.carrier, order.tracking_number) == ("UPS", "1Z999AA1")
    assert flash(response) == [f"{order.reference} marked shipped with UPS 1Z999AA1."]
    body = response.content.decode()
    assert "tracking number <strong>1Z999AA1</strong>" in body
    assert 'data-testid="deliver-form"' in body

    response = client.post(action_url("deliver", order), follow=True)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.delivered_at
    assert flash(response) == [f"{order.reference} marked delivered."]
    assert 'data-testid="refund-form"' in response.content.decode()
    assert list(order.events.values_list("kind", "actor")) == [
        ("placed", buyer.pk),
        ("paid", None),
        ("shipped", seller.pk),
        ("delivered", seller.pk),
    ]


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"ship-carrier": "UPS", "ship-tracking_number": ""}, "tracking_number", "required"),
        ({"ship-carrier": "UPS", "ship-tracking_number": "   "}, "tracking_number", "required"),
        ({"ship-carrier": "", "ship-tracking_number": "1Z"}, "carrier", "required"),
        ({"ship-carrier": "UPS", "ship-tracking_number": "x" * 61}, "tracking_number", "at most"),
    ],
)
def test_ship_refuses_bad_input_and_changes_nothing(
    client, seller, buyer, shirt, key, data, field, message
):
    order = place(buyer, key, (shirt, 1))
    client.force_login(seller)
    before = snapshot()
    response = client.post(action_url("ship", order), data)
    assert response.status_code == 400
    form = response.context["ship_form"]
    assert message in " ".join(form.errors[field]).lower()
    assert 'class="error" role="alert"' in response.content.decode()
    assert snapshot() == before


def test_ship_of_an_order_not_paid_is_a_flash_message(client, seller, buyer, shirt, key):
    order = delivered(place(buyer, key, (shirt, 1)), seller)
    client.force_login(seller)
    before = snapshot()
    response = client.post(
        action_url("ship", order),
        {"ship-carrier": "UPS", "ship-tracking_number": "1Z"},
        HTTP_REFERER="http://testserver" + detail_url(order),
        follow=True,
    )
    assert response.redirect_chain[0][0].endswith(detail_url(order))
    assert flash(response) == ["Only a paid order can be shipped."]
    assert snapshot() == before


def test_refund_part_of_a_line_then_the_rest(client, seller, buyer, shirt, mug, key):
    order = delivered(place(buyer, key, (shirt, 2), (mug, 1)), seller)
    shirt_line = order.lines.get(product=shirt)
    mug_line = order.lines.get(product=mug)
    client.force_login(seller)

    response = client.post(
        action_url("refund", order),
        {
            f"refund-line_{shirt_line.pk}": "1",
            f"refund-line_{mug_line.pk}": "",
            "refund-reason": "Torn",
        },
        follow=True,
    )
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_minor == 4900
    assert flash(response) == [f"Refunded $49.00 of {order.reference}."]
    shirt_line.refresh_from_db()
    assert (shirt_line.refunded_quantity, shirt_line.refunded_minor) == (1, 4900)
    body = response.content.decode()
    assert "1 of 2 left" in body  # the shirt can still be refunded
    assert 'data-testid="order-refunds"' in body and "Torn" in body

    # All blank: everything not yet refunded.
    response = client.post(action_url("refund", order), {"refund-reason": ""}, follow=True)
    order.refresh_from_db()
    assert order.refunded_minor == order.total_minor == 12600
    assert flash(response) == [f"Refunded $77.00 of {order.reference}."]
    assert sorted(order.refunds.values_list("amount_minor", flat=True)) == [4900, 7700]
    assert 'data-testid="refund-form"' not in response.content.decode()  # nothing left
    # Stock stays out: a refunded parcel is not back on the shelf.
    assert variant_of(shirt).stock == 5


@pytest.mark.parametrize("units", ["3", "-1", "two"])
def test_refund_refuses_bad_units_and_changes_nothing(client, seller, buyer, shirt, key, units):
    order = delivered(place(buyer, key, (shirt, 2)), seller)
    line = order.lines.get()
    client.force_login(seller)
    before = snapshot()
    response = client.post(action_url("refund", order), {f"refund-line_{line.pk}": units})
    assert response.status_code == 400
    errors = response.context["refund_form"].errors[f"line_{line.pk}"]
    if units == "3":
        assert errors == ["Only 2 units left to refund."]
        assert "Only 2 units left to refund." in response.content.decode()
    assert snapshot() == before


def test_refund_of_a_line_refunded_in_full_is_refused(client, seller, buyer, shirt, mug, key):
    """A stale form naming a line refunded meanwhile must not refund everything else."""
    order = delivered(place(buyer, key, (shirt, 1), (mug, 1)), seller)
    shirt_line = order.lines.get(product=shirt)
    services.order_refund(actor=seller, order_id=order.pk, lines={shirt_line.pk: 1})
    client.force_login(seller)
    before = snapshot()
    response = client.post(action_url("refund", order), {f"refund-line_{shirt_line.pk}": "1"})
    assert response.status_code == 400
    assert response.context["refund_form"].errors[f"line_{shirt_line.pk}"] == [
        "Already refunded in full."
    ]
    assert snapshot() == before


def test_refund_before_delivery_is_a_flash_message(client, seller, buyer, shirt, key):
    order = place(buyer, key, (shirt, 1))
    client.force_login(seller)
    before = snapshot()
    response = client.post(
        action_url("refund", order),
        HTTP_REFERER="http://testserver" + detail_url(order),
        follow=True,
    )
    assert flash(response) == ["Only a delivered order can be refunded."]
    assert snapshot() == before


def test_approve_the_buyers_refund_request(client, seller, buyer, shirt, mug, key):
    order = delivered(place(buyer, key, (shirt, 2), (mug, 1)), seller)
    mug_line = order.lines.get(product=mug)
    services.order_request_refund(
        buyer=buyer, order_id=order.pk, reason="Chipped mug", lines={mug_line.pk: 1}
    )
    client.force_login(seller)
    body = client.get(detail_url(order)).content.decode()
    assert 'data-testid="refund-request"' in body and "Chipped mug" in body
    assert "1 × Mug" in body and "what the buyer asked for" in body

    response = client.post(action_url("refund", order), {}, follow=True)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_minor == 2800  # the mug only, as requested
    assert order.refunds.get().status == Refund.Status.REFUNDED
    assert flash(response) == [f"Refunded $28.00 of {order.reference}."]


def test_reject_the_buyers_refund_request(client, seller, buyer, shirt, key):
    order = delivered(place(buyer, key, (shirt, 1)), seller)
    services.order_request_refund(buyer=buyer, order_id=order.pk, reason="Changed my mind")
    client.force_login(seller)

    before = snapshot()
    response = client.post(action_url("reject_refund", order), {"reject-reason": "  "})
    assert response.status_code == 400
    assert response.context["reject_form"].errors["reason"]
    assert snapshot() == before

    response = client.post(
        action_url("reject_refund", order), {"reject-reason": "Worn already"}, follow=True
    )
    order.refresh_from_db()
    assert order.status == Order.Status.REFUND_REJECTED
    assert order.refunded_minor == 0
    assert order.refunds.get().status == Refund.Status.REJECTED
    assert flash(response) == [f"Refund request of {order.reference} rejected."]
    assert "Worn already" in response.content.decode()


def test_cancel_a_paid_order_puts_the_stock_back(client, seller, buyer, shirt, mug, key):
    order = place(buyer, key, (shirt, 2), (mug, 1))
    assert (variant_of(shirt).stock, variant_of(mug).stock) == (5, 2)
    client.force_login(seller)
    response = client.post(
        action_url("cancel", order), {"cancel-reason": "Out of stock"}, follow=True
    )
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.cancel_reason == "Out of stock"
    assert order.refunded_minor == order.total_minor
    assert (variant_of(shirt).stock, variant_of(mug).stock) == (7, 3)
    assert flash(response) == [
        f"{order.reference} cancelled: the buyer's money is on its way back."
    ]
    body = response.content.decode()
    assert "Cancelled: Out of stock" in body
    assert 'data-testid="cancel-form"' not in body and 'data-testid="ship-form"' not in body


def test_cancel_needs_a_reason_and_not_after_shipping(client, seller, buyer, shirt, key):
    order = place(buyer, key, (shirt, 1))
    client.force_login(seller)
    before = snapshot()
    response = client.post(action_url("cancel", order), {"cancel-reason": ""})
    assert response.status_code == 400
    assert response.context["cancel_form"].errors["reason"] == ["This field is required."]
    assert snapshot() == before

    services.order_ship(actor=seller, order_id=order.pk, carrier="UPS", tracking_number="1Z")
    before = snapshot()
    response = client.post(
        action_url("cancel", order),
        {"cancel-reason": "Out of stock"},
        HTTP_REFERER="http://testserver" + detail_url(order),
        follow=True,
    )
    assert flash(response) == ["Only an order that has not shipped can be cancelled."]
    assert snapshot() == before


# --- per-live figures -----------------------------------------------------------------------


@pytest.fixture
def sold_live(seller, buyer, noah, intruder, shirt, mug, sticker, live, key):
    """Two buyers, three orders in the creator's live (one refunded in part), and the
    orders that must not count: one outside the live, one cancelled, one of another shop."""
    Stream.objects.filter(pk=live.pk).update(peak_viewers=7)
    place(buyer, key, (shirt, 2), stream=live)  # 9800
    place(buyer, key, (mug, 1), (sticker, 5), stream=live)  # 2800 + 1500
    third = delivered(place(noah, key, (shirt, 1), (mug, 1), stream=live), seller)  # 7700
    services.order_refund(
        actor=seller, order_id=third.pk, lines={third.lines.get(product=mug).pk: 1}
    )
    place(buyer, key, (shirt, 1))  # not in a live
    cancelled = place(noah, key, (sticker, 2), stream=live)
    services.order_cancel_by_shop(actor=seller, order_id=cancelled.pk, reason="Out of stock")
    rival_cap = intruder.shop.products.get()
    place(buyer, key, (rival_cap, 1), stream=live)  # another shop's sale in the same live
    live.refresh_from_db()
    return live


def test_live_figures_are_exact(client, seller, creator, sold_live):
    client.force_login(seller)
    response = client.get(reverse("seller_orders:live", args=[sold_live.pk]))
    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures.gmv_minor == 9800 + 4300 + 7700 - 2800 == 19000
    assert figures.orders == 3
    assert figures.buyers == 2
    assert figures.peak_viewers == 7
    assert str(figures.conversion_percent) == "28.6"  # 2 / 7
    assert figures.units == 2 + 6 + 2 - 1
    # 10 % of the shirts (980 + 490), 5 % of the mug kept (140), nothing on stickers; the
    # refunded mug's 140 was taken back.
    assert figures.commission_minor == 980 + 490 + 140
    # The same as the creator's affiliate earnings in the ledger (the rival cap pays none).
    earned = sum(
        LedgerEntry.objects.filter(
            account__code=f"earnings:affiliate:user:{creator.pk}:USD"
        ).values_list("amount", flat=True)
    )
    assert earned == figures.commission_minor
    body = response.content.decode()
    for text in ("$190.00", "28.6 %", "$16.10", "commission to @cleo"):
        assert text in body
    assert [
        (p["title"], p["units"], p["revenue_minor"]) for p in response.context["top_products"]
    ] == [
        ("Sticker", 5, 1500),
        ("Linen shirt", 3, 14700),
        ("Mug", 1, 2800),
    ]
    by_revenue = client.get(
        reverse("seller_orders:live", args=[sold_live.pk]), {"by": "revenue"}
    ).context["top_products"]
    assert [p["title"] for p in by_revenue] == ["Linen shirt", "Mug", "Sticker"]


def test_lives_list_shows_the_lives_that_sold_and_the_owners_own(
    client, seller, intruder, sold_live
):
    own, _ = streams_services.stream_schedule(
        host=seller, title="My first live", scheduled_at=timezone.now()
    )
    UserFactory(handle="other")  # a live of nobody's products
    client.force_login(seller)
    response = client.get(reverse("seller_orders:lives"))
    rows = {row.stream.pk: row for row in response.context["rows"]}
    assert set(rows) == {sold_live.pk, own.pk}
    assert (rows[sold_live.pk].gmv_minor, rows[sold_live.pk].orders) == (19000, 3)
    assert (rows[own.pk].gmv_minor, rows[own.pk].orders, rows[own.pk].conversion_percent) == (
        0,
        0,
        None,
    )
    body = response.content.decode()
    assert "Linen drop" in body and "My first live" in body and "$190.00" in body

    # The rival shop sold one cap in the same live: it sees that, and only that.
    client.force_login(intruder)
    (row,) = client.get(reverse("seller_orders:lives")).context["rows"]
    assert (row.stream.pk, row.gmv_minor, row.orders, row.buyers) == (sold_live.pk, 1500, 1, 1)
    assert client.get(reverse("seller_orders:live", args=[own.pk])).status_code == 404


def test_a_live_that_sold_nothing_of_the_shop_is_404(client, seller, creator, shirt):
    stream, _ = streams_services.stream_schedule(
        host=creator, title="Someone else's", scheduled_at=timezone.now()
    )
    client.force_login(seller)
    assert client.get(reverse("seller_orders:live", args=[stream.pk])).status_code == 404
    assert client.get(reverse("seller_orders:live", args=[999_999])).status_code == 404


def test_conversion_without_viewers_is_not_a_division_by_zero(
    client, seller, buyer, shirt, live, key
):
    place(buyer, key, (shirt, 1), stream=live)
    Stream.objects.filter(pk=live.pk).update(peak_viewers=0)
    client.force_login(seller)
    response = client.get(reverse("seller_orders:live", args=[live.pk]))
    assert response.status_code == 200
    assert response.context["figures"].conversion_percent is None


# --- queries --------------------------------------------------------------------------------


def _many_orders(count, buyer, noah, key, live, *products):
    for i in range(count):
        place(buyer if i % 2 else noah, key, *((p, 1) for p in products), stream=live)


@pytest.mark.parametrize("count", [2, 12])
def test_list_queries_are_constant(
    client, seller, buyer, noah, shirt, sticker, live, key, count, django_assert_max_num_queries
):
    Variant.objects.filter(product=shirt).update(stock=100)
    _many_orders(count, buyer, noah, key, live, shirt, sticker)
    client.force_login(seller)
    # session, user, notifications, shop, count, orders, lines, lives for the filter
    with django_assert_max_num_queries(8):
        response = client.get(reverse("seller_orders:list"), {"q": "", "status": "paid"})
    assert len(response.context["page"]) == count
    with django_assert_max_num_queries(7):
        response = client.get(reverse("seller_orders:list"), HTTP_HX_REQUEST="true")
    assert len(response.context["page"]) == count


@pytest.mark.parametrize("lines", [1, 3])
def test_detail_queries_are_constant(
    client, seller, buyer, shirt, mug, sticker, key, lines, django_assert_max_num_queries
):
    order = delivered(place(buyer, key, *[(p, 1) for p in (shirt, mug, sticker)[:lines]]), seller)
    services.order_refund(actor=seller, order_id=order.pk, lines={order.lines.first().pk: 1})
    client.force_login(seller)
    # session, user, notifications, shop, order, lines, events, refunds
    with django_assert_max_num_queries(8):
        response = client.get(detail_url(order))
    assert response.status_code == 200


@pytest.mark.parametrize("count", [1, 6])
def test_lives_queries_are_constant(
    client, seller, buyer, noah, shirt, creator, key, count, django_assert_max_num_queries
):
    Variant.objects.filter(product=shirt).update(stock=100)
    for i in range(count):
        stream, _ = streams_services.stream_schedule(
            host=creator, title=f"Live {i}", scheduled_at=timezone.now()
        )
        _many_orders(2, buyer, noah, key, stream, shirt)
    client.force_login(seller)
    # session, user, notifications, shop, count, lives, order figures, line figures
    with django_assert_max_num_queries(8):
        response = client.get(reverse("seller_orders:lives"))
    assert len(response.context["rows"]) == count
    # session, user, notifications, shop, the live, order figures, line figures, top products
    with django_assert_max_num_queries(8):
        response = client.get(reverse("seller_orders:live", args=[stream.pk]))
    assert response.context["figures"].orders == 2
