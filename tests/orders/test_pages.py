"""The buyer's pages through the Django test client: orders, the buy sheet, the bag and
addresses. Every action is a POST that calls one service; bad input shows its error and
changes nothing; another buyer's rows answer 404."""

import re

import pytest
from django.contrib.messages import get_messages

from orders import services
from orders.models import Address, BagItem, Order, Refund
from payments.provider_models import PaymentMethod
from payments.provider_services import payment_method_add
from shops import services as shops_services
from shops.models import Variant
from streams import services as streams_services
from tests.factories import ShopFactory, UserFactory, make_product

from .conftest import variant_of

HTMX = {"HTTP_HX_REQUEST": "true"}
ADDRESS = {
    "address-name": "Zoe Martin",
    "address-line1": "2 Side St",
    "address-city": "Shelbyville",
    "address-postal_code": "54321",
    "address-country": "us",
    "address-make_default": "on",
}
CARD = {
    "card-number": "4242 4242 4242 4242",
    "card-expiry": "12/40",
    "card-cvc": "123",
    "card-make_default": "on",
}


def place(buyer, product, key, quantity=1, **kwargs):
    (order,) = services.order_place(
        buyer=buyer,
        items=[{"variant": variant_of(product).pk, "quantity": quantity}],
        checkout_key=key(),
        **kwargs,
    )
    return order


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def token_of(html: str) -> str:
    return re.search(r'name="token" value="([0-9a-f-]{36})"', html)[1]


def chosen(html: str) -> dict:
    """What the sheet's form would send as it is: its token and the chosen address and card."""
    fields = {"token": token_of(html)}
    for name in ("address", "payment_method"):
        match = re.search(rf'name="{name}" value="(\w+)"[^>]*checked', html) or re.search(
            rf'type="hidden" name="{name}" value="(\w+)"', html
        )
        fields[name] = match[1]
    return fields


def stock(product) -> int:
    return Variant.objects.get(product=product).stock


def sheet_get(client, product, stream=None) -> str:
    url = f"/buy/{product.pk}/" + (f"?stream={stream.pk}" if stream else "")
    return client.get(url, **HTMX).content.decode()


def sheet_post(client, product, html, *, stream=None, **fields):
    """Confirm the sheet rendered as html, with some fields changed."""
    url = f"/buy/{product.pk}/" + (f"?stream={stream.pk}" if stream else "")
    variant = variant_of(product)
    data = {
        **chosen(html),
        "variant": variant.pk,
        f"price_{variant.pk}": fields.pop("price", variant.price_minor),
        "quantity": 1,
        **fields,
    }
    return client.post(url, data, **HTMX)


# --- signed out -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/orders/", "/orders/1/", "/bag/", "/addresses/", "/buy/{shirt}/"]
)
def test_signed_out_visitors_are_sent_to_log_in(client, shirt, path):
    path = path.format(shirt=shirt.pk)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_signed_out_actions_change_nothing(client, buyer, shirt, key):
    order = place(buyer, shirt, key)
    for path in (f"/orders/{order.pk}/cancel", "/bag/add", "/bag/checkout", "/addresses/"):
        assert client.post(path, {"variant": variant_of(shirt).pk}).status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert BagItem.objects.count() == 0


def test_a_signed_out_viewer_gets_a_log_in_link_in_the_sheet(client, live, shirt):
    response = client.get(f"/buy/{shirt.pk}/?stream={live.pk}", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Log in to buy" in html
    assert f"next=/live/{live.pk}" in html.replace("%2F", "/")
    assert 'name="token"' not in html


# --- orders -----------------------------------------------------------------------------------


def test_the_orders_page_lists_status_totals_and_tracking_in_few_queries(
    client, buyer, seller, shirt, mug, key, django_assert_max_num_queries
):
    orders = [place(buyer, shirt, key) for _ in range(3)] + [place(buyer, mug, key, quantity=2)]
    services.order_ship(
        actor=seller, order_id=orders[0].pk, carrier="DHL", tracking_number="JD0001234"
    )
    someone_else = UserFactory(handle="sam")
    payment_method_add(
        user=someone_else, number="4242424242424242", exp_month=1, exp_year=2040, cvc="123"
    )
    client.force_login(buyer)
    with django_assert_max_num_queries(8):
        response = client.get("/orders/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="order-row"') == 4
    for order in orders:
        assert order.reference in html
    assert "Shipped" in html and "DHL · JD0001234" in html
    assert "2 × Mug" in html and "$56.00" in html


def test_the_order_page_shows_lines_address_tracking_and_history(
    client, buyer, seller, live, shirt, key
):
    order = place(buyer, shirt, key, quantity=2, stream_id=live.pk)
    services.order_ship(actor=seller, order_id=order.pk, carrier="UPS", tracking_number="1Z999")
    client.force_login(buyer)
    response = client.get(f"/orders/{order.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert order.reference in html
    assert "Linen shirt" in html and "2 × $49.00" in html and "$98.00" in html
    assert "1 Main St" in html and "Springfield" in html
    assert "UPS" in html and "1Z999" in html
    assert "Order placed" in html and "Payment received" in html and "Shipped" in html
    assert "Linen drop" in html  # the live it came from
    assert 'data-testid="cancel"' not in html  # shipped: too late to cancel
    assert 'data-testid="received"' in html


def test_someone_elses_order_is_a_404_and_stays_as_it_was(client, buyer, viewer, shirt, key):
    order = place(buyer, shirt, key)
    client.force_login(viewer)
    assert client.get(f"/orders/{order.pk}/").status_code == 404
    for action in ("cancel", "received", "refund"):
        response = client.post(f"/orders/{order.pk}/{action}", {"reason": "mine now"})
        assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert not Refund.objects.exists()


def test_the_buyer_cancels_before_shipping_and_gets_the_stock_back(client, buyer, shirt, key):
    order = place(buyer, shirt, key, quantity=2)
    assert stock(shirt) == 5
    client.force_login(buyer)
    response = client.post(f"/orders/{order.pk}/cancel")
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert any("cancelled" in m for m in flashes(response))
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.refunded_minor == order.total_minor
    assert stock(shirt) == 7


def test_cancelling_after_shipping_says_why_and_changes_nothing(client, buyer, seller, shirt, key):
    order = place(buyer, shirt, key)
    services.order_ship(actor=seller, order_id=order.pk, carrier="DHL", tracking_number="X1")
    client.force_login(buyer)
    page = f"http://testserver/orders/{order.pk}/"
    response = client.post(f"/orders/{order.pk}/cancel", HTTP_REFERER=page, follow=True)
    assert response.status_code == 200
    assert "Only an order that has not shipped can be cancelled." in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert stock(shirt) == 6


def test_the_buyer_confirms_receipt(client, buyer, seller, shirt, key):
    order = place(buyer, shirt, key)
    services.order_ship(actor=seller, order_id=order.pk, carrier="DHL", tracking_number="X1")
    client.force_login(buyer)
    response = client.post(f"/orders/{order.pk}/received")
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    # Twice is refused with a message, not an error page.
    again = client.post(f"/orders/{order.pk}/received", HTTP_REFERER=f"/orders/{order.pk}/")
    assert again.status_code == 302
    assert flashes(again)[-1] == "Only a shipped order can be marked delivered."


@pytest.fixture
def delivered(buyer, seller, shirt, mug, key):
    (order,) = services.order_place(
        buyer=buyer,
        items=[
            {"variant": variant_of(shirt).pk, "quantity": 2},
            {"variant": variant_of(mug).pk, "quantity": 1},
        ],
        checkout_key=key(),
    )
    services.order_ship(actor=seller, order_id=order.pk, carrier="DHL", tracking_number="X1")
    services.order_deliver(actor=buyer, order_id=order.pk)
    return order


def test_a_refund_request_names_a_reason_and_units_per_line(client, buyer, delivered):
    shirt_line, mug_line = delivered.lines.order_by("pk")
    client.force_login(buyer)
    page = client.get(f"/orders/{delivered.pk}/").content.decode()
    assert 'data-testid="refund-form"' in page
    response = client.post(
        f"/orders/{delivered.pk}/refund",
        {"reason": "Too small", f"line_{shirt_line.pk}": "1", f"line_{mug_line.pk}": "0"},
    )
    assert response.status_code == 302
    refund = Refund.objects.get(order=delivered)
    assert refund.status == Refund.Status.REQUESTED
    assert refund.lines == {str(shirt_line.pk): 1}
    assert refund.amount_minor == 4900
    delivered.refresh_from_db()
    assert delivered.status == Order.Status.REFUND_REQUESTED


@pytest.mark.parametrize(
    "data, error",
    [
        ({"reason": "", "line_shirt": "1"}, "This field is required."),
        ({"reason": "Broken", "line_shirt": "3"}, "less than or equal to 2"),
        ({"reason": "Broken", "line_shirt": "0", "line_mug": "0"}, "at least one unit"),
        ({"reason": "Broken", "line_shirt": "x"}, "Enter a whole number."),
    ],
)
def test_a_bad_refund_request_shows_the_error_and_changes_nothing(
    client, buyer, delivered, data, error
):
    shirt_line, mug_line = delivered.lines.order_by("pk")
    data = {
        k.replace("line_shirt", f"line_{shirt_line.pk}").replace(
            "line_mug", f"line_{mug_line.pk}"
        ): v
        for k, v in data.items()
    }
    data.setdefault(f"line_{mug_line.pk}", "0")
    client.force_login(buyer)
    response = client.post(f"/orders/{delivered.pk}/refund", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Refund.objects.exists()
    delivered.refresh_from_db()
    assert delivered.status == Order.Status.DELIVERED


def test_a_refund_before_delivery_is_refused(client, buyer, shirt, key):
    order = place(buyer, shirt, key)
    client.force_login(buyer)
    line = order.lines.get()
    response = client.post(
        f"/orders/{order.pk}/refund", {"reason": "Changed my mind", f"line_{line.pk}": "1"}
    )
    assert response.status_code == 302
    assert not Refund.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


# --- the buy sheet ----------------------------------------------------------------------------


def test_the_sheet_prefills_the_default_address_and_card(client, buyer, live, shirt):
    client.force_login(buyer)
    response = client.get(f"/buy/{shirt.pk}/?stream={live.pk}", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the partial alone, for the dialog
    assert "Linen shirt" in html and "$49.00" in html
    assert "Mia Buyer, 1 Main St, Springfield" in html
    assert "•••• 4242" in html
    assert re.search(r'name="token" value="[0-9a-f-]{36}"', html)
    assert 'data-testid="confirm"' in html
    assert 'name="address-name"' in html  # folded away behind "A new address"
    # Without htmx the same sheet comes in a full page.
    page = client.get(f"/buy/{shirt.pk}/?stream={live.pk}").content.decode()
    assert "<html" in page and 'data-testid="buy-sheet"' in page


def test_the_sheet_shows_the_running_deal_and_buys_at_its_price(
    client, buyer, creator, live, shirt
):
    deal = streams_services.deal_start(
        stream=live, actor=creator, product_id=shirt.pk, price_minor=2900, quantity=5, seconds=60
    )
    client.force_login(buyer)
    html = sheet_get(client, shirt, live)
    assert "$29.00" in html and "Flash deal" in html and "5</span> left" in html
    response = sheet_post(client, shirt, html, stream=live, price=2900)
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    line = order.lines.get()
    assert (line.unit_price_minor, line.deal_id) == (2900, deal.pk)
    assert order.stream_id == live.pk


def test_confirm_places_the_order_and_answers_order_placed(client, buyer, live, shirt):
    client.force_login(buyer)
    html = sheet_get(client, shirt, live)
    response = sheet_post(client, shirt, html, stream=live, quantity=2)
    assert response.status_code == 200
    order = Order.objects.get()
    body = response.content.decode()
    assert "Order placed" in body and order.reference in body and "$98.00" in body
    assert f'href="/orders/{order.pk}/"' in body
    assert order.status == Order.Status.PAID
    assert order.checkout_key.startswith("sheet:")
    assert (order.stream_id, order.creator_id) == (live.pk, live.host_id)
    assert stock(shirt) == 5


def test_a_retried_confirm_places_one_order(client, buyer, live, shirt):
    client.force_login(buyer)
    html = sheet_get(client, shirt, live)
    first = sheet_post(client, shirt, html, stream=live)
    again = sheet_post(client, shirt, html, stream=live)
    assert first.status_code == again.status_code == 200
    assert Order.objects.count() == 1
    assert Order.objects.get().reference in again.content.decode()
    assert stock(shirt) == 6


def test_the_first_buy_sets_up_the_address_and_card_and_the_second_is_one_post(client, live, shirt):
    zoe = UserFactory(handle="zoe", display_name="Zoe Martin")
    client.force_login(zoe)
    html = sheet_get(client, shirt, live)
    # Nothing saved yet: the address and card forms are the whole choice.
    assert chosen(html)["address"] == chosen(html)["payment_method"] == "new"
    assert 'name="address-line1"' in html and 'name="card-number"' in html
    response = sheet_post(client, shirt, html, stream=live, **ADDRESS, **CARD)
    assert response.status_code == 200, response.content
    assert "Order placed" in response.content.decode()
    address = Address.objects.get(user=zoe)
    assert (address.is_default, address.city, address.country) == (True, "Shelbyville", "US")
    card = PaymentMethod.objects.get(user=zoe)
    assert card.is_default and card.last4 == "4242"
    first = Order.objects.get(buyer=zoe)
    assert first.shipping_address["line1"] == "2 Side St"

    # Later: the sheet has them chosen, and one POST buys.
    html = sheet_get(client, shirt, live)
    assert "Zoe Martin, 2 Side St, Shelbyville" in html and "•••• 4242" in html
    assert chosen(html)["address"] == str(address.pk)
    assert chosen(html)["payment_method"] == str(card.pk)
    response = sheet_post(client, shirt, html, stream=live)
    assert response.status_code == 200
    assert Order.objects.filter(buyer=zoe, status=Order.Status.PAID).count() == 2
    assert Address.objects.filter(user=zoe).count() == 1
    assert PaymentMethod.objects.filter(user=zoe).count() == 1


def test_a_first_buy_with_a_bad_address_and_card_saves_nothing(client, live, shirt):
    zoe = UserFactory(handle="zoe")
    client.force_login(zoe)
    response = sheet_post(
        client,
        shirt,
        sheet_get(client, shirt),
        **{**ADDRESS, "address-country": "USA", "address-city": ""},
        **{**CARD, "card-number": "4242 4242 4242 4241"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Check the highlighted fields." in html
    assert "This field is required." in html
    assert "2 Side St" in html  # what was typed is kept
    assert not Address.objects.filter(user=zoe).exists()
    assert not PaymentMethod.objects.filter(user=zoe).exists()
    assert not Order.objects.exists()


def test_sold_out_is_said_in_the_sheet_and_keeps_the_form(client, buyer, live, shirt):
    client.force_login(buyer)
    sheet = sheet_get(client, shirt, live)
    token = token_of(sheet)
    response = sheet_post(client, shirt, sheet, stream=live, quantity=8)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Sold out" in html
    assert 'name="quantity" value="8"' in html
    assert token_of(html) != token  # the next confirm is a new checkout
    assert not Order.objects.exists()
    assert stock(shirt) == 7


def test_a_declined_card_is_said_in_the_sheet_and_nothing_is_charged(client, live, shirt):
    dan = UserFactory(handle="dan")
    services.address_add(
        user=dan,
        data={
            "name": "Dan",
            "line1": "3 Road",
            "city": "Ogdenville",
            "postal_code": "1",
            "country": "US",
        },
    )
    payment_method_add(user=dan, number="4000000000000002", exp_month=1, exp_year=2040, cvc="123")
    client.force_login(dan)
    html = sheet_get(client, shirt, live)
    token = token_of(html)
    response = sheet_post(client, shirt, html, stream=live)
    assert response.status_code == 402
    body = response.content.decode()
    assert "declined" in body
    assert 'data-testid="confirm"' in body and token_of(body) != token
    assert not Order.objects.filter(status=Order.Status.PAID).exists()
    assert stock(shirt) == 7


def test_a_price_change_shows_the_new_price_and_the_next_confirm_buys_at_it(
    client, buyer, live, shirt
):
    client.force_login(buyer)
    sheet = sheet_get(client, shirt, live)
    variant = variant_of(shirt)
    shops_services.variant_update(variant=variant, actor=shirt.shop.owner, price_minor=5500)
    response = sheet_post(client, shirt, sheet, stream=live, price=4900)
    assert response.status_code == 409
    html = response.content.decode()
    assert "The price changed: it is now $55.00." in html
    assert f'name="price_{variant.pk}" value="5500"' in html
    assert not Order.objects.exists()
    again = sheet_post(client, shirt, html, stream=live, price=5500)
    assert again.status_code == 200
    assert Order.objects.get().total_minor == 5500


def test_checkouts_from_the_sheet_are_rate_limited(client, buyer, shirt, monkeypatch):
    from orders.api import CheckoutThrottle

    monkeypatch.setattr(CheckoutThrottle, "rate", "2/min", raising=False)
    client.force_login(buyer)
    for _ in range(2):
        assert sheet_post(client, shirt, sheet_get(client, shirt)).status_code == 200
    response = sheet_post(client, shirt, sheet_get(client, shirt))
    assert response.status_code == 429
    assert "Too many checkouts" in response.content.decode()
    assert Order.objects.count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"quantity": "0"},
        {"quantity": "abc"},
        {"quantity": "100"},
        {"token": "not-a-token"},
        {"variant": "999999"},
        {"address": "999999"},
    ],
)
def test_bad_sheet_input_shows_the_error_and_places_nothing(client, buyer, shirt, fields):
    client.force_login(buyer)
    response = sheet_post(client, shirt, sheet_get(client, shirt), **fields)
    assert response.status_code == 400
    assert "Check the highlighted fields." in response.content.decode()
    assert not Order.objects.exists()
    assert stock(shirt) == 7


def test_the_seller_sees_no_confirm_on_their_own_product(client, seller, shirt):
    client.force_login(seller)
    html = sheet_get(client, shirt)
    assert "your own shop" in html and 'data-testid="confirm"' not in html


def test_a_product_with_options_offers_each_and_greys_out_the_sold_out(client, buyer, seller):
    tee = make_product(
        seller.shop,
        "Tee",
        option1_name="Size",
        variants=[
            {"option1": "S", "price_minor": 1500, "stock": 0, "sku": "T-S"},
            {"option1": "M", "price_minor": 1500, "stock": 4, "sku": "T-M"},
            {"option1": "L", "price_minor": 1700, "stock": 4, "sku": "T-L"},
        ],
    )
    small, medium, large = tee.variants.order_by("pk")
    client.force_login(buyer)
    html = client.get(f"/buy/{tee.pk}/", **HTMX).content.decode()
    assert "Size" in html
    assert re.search(rf'value="{small.pk}"[^>]*disabled', html)
    assert re.search(rf'value="{medium.pk}"[^>]*checked', html)
    assert 'data-price="1700"' in html
    response = client.post(
        f"/buy/{tee.pk}/",
        {
            "token": token_of(html),
            "variant": large.pk,
            f"price_{large.pk}": 1700,
            "quantity": 1,
            "address": buyer.addresses.get().pk,
            "payment_method": PaymentMethod.objects.get(user=buyer).pk,
        },
        **HTMX,
    )
    assert response.status_code == 200
    line = Order.objects.get().lines.get()
    assert (line.variant_id, line.variant_title, line.unit_price_minor) == (large.pk, "L", 1700)


# --- the bag ----------------------------------------------------------------------------------


def test_add_to_bag_answers_a_small_confirmation_with_the_count(client, buyer, live, shirt):
    client.force_login(buyer)
    variant = variant_of(shirt)
    data = {"variant": variant.pk, "quantity": 2, "stream": live.pk}
    response = client.post("/bag/add", data, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Added to your bag" in html
    assert 'id="bag-count"' in html and 'hx-swap-oob="true"' in html and "> (2)</span>" in html
    item = BagItem.objects.get(user=buyer)
    assert (item.variant_id, item.quantity, item.stream_id) == (variant.pk, 2, live.pk)
    # The nav shows the count on the next page without asking the database for it.
    assert 'data-testid="bag-count"> (2)</span>' in client.get("/orders/").content.decode()
    # Without htmx: back to the page it came from.
    again = client.post("/bag/add", {**data, "next": f"/products/{shirt.pk}"})
    assert again.status_code == 302 and again["Location"] == f"/products/{shirt.pk}"
    assert BagItem.objects.get(user=buyer).quantity == 4


@pytest.mark.parametrize(
    "data",
    [{"quantity": "1"}, {"variant": "x", "quantity": "1"}, {"variant": "V", "quantity": "0"}],
)
def test_add_to_bag_with_bad_input_adds_nothing(client, buyer, shirt, data):
    client.force_login(buyer)
    data = {k: str(variant_of(shirt).pk) if v == "V" else v for k, v in data.items()}
    response = client.post("/bag/add", data, **HTMX)
    assert response.status_code == 400
    assert "Choose an option" in response.content.decode()
    assert not BagItem.objects.exists()


def test_add_to_bag_of_ones_own_product_says_why(client, seller, shirt):
    client.force_login(seller)
    response = client.post("/bag/add", {"variant": variant_of(shirt).pk, "quantity": 1}, **HTMX)
    assert response.status_code == 400
    assert "You cannot buy from your own shop." in response.content.decode()
    assert not BagItem.objects.exists()


@pytest.fixture
def full_bag(buyer, shirt, mug):
    other = ShopFactory(handle="potters", owner=UserFactory(handle="pat", is_business=True))
    vase = make_product(other, "Vase", sku="VS", price_minor=3000, stock=5)
    bowl = make_product(other, "Bowl", sku="BW", price_minor=1200, stock=5)
    for product, quantity in ((shirt, 2), (mug, 1), (vase, 1), (bowl, 3)):
        services.bag_add(user=buyer, variant_id=variant_of(product).pk, quantity=quantity)
    return {"vase": vase, "bowl": bowl}


def test_the_bag_groups_by_shop_with_totals_in_few_queries(
    client, buyer, full_bag, django_assert_max_num_queries
):
    client.force_login(buyer)
    with django_assert_max_num_queries(10):
        response = client.get("/bag/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="bag-shop"') == 2
    assert html.count('data-testid="bag-line"') == 4
    assert "$126.00" in html  # 2 × 49 + 28
    assert "$66.00" in html  # 30 + 3 × 12
    assert "Place 2 orders" in html
    assert "Mia Buyer, 1 Main St" in html


def test_bag_quantities_change_and_lines_go(client, buyer, full_bag):
    client.force_login(buyer)
    bowl = BagItem.objects.get(variant__product=full_bag["bowl"])
    vase = BagItem.objects.get(variant__product=full_bag["vase"])
    assert client.post(f"/bag/{bowl.pk}/", {"quantity": "5"}).status_code == 302
    assert BagItem.objects.get(pk=bowl.pk).quantity == 5
    assert client.post(f"/bag/{bowl.pk}/", {"quantity": "0"}).status_code == 302
    assert not BagItem.objects.filter(pk=bowl.pk).exists()
    assert client.post(f"/bag/{vase.pk}/remove").status_code == 302
    assert BagItem.objects.filter(user=buyer).count() == 2


@pytest.mark.parametrize("quantity", ["-1", "100", "x", ""])
def test_a_bad_bag_quantity_says_so_and_changes_nothing(client, buyer, full_bag, quantity):
    client.force_login(buyer)
    bowl = BagItem.objects.get(variant__product=full_bag["bowl"])
    response = client.post(f"/bag/{bowl.pk}/", {"quantity": quantity}, follow=True)
    assert "A quantity between 0 and 99." in response.content.decode()
    assert BagItem.objects.get(pk=bowl.pk).quantity == 3


def test_another_buyers_bag_line_is_left_alone(client, viewer, buyer, full_bag):
    bowl = BagItem.objects.get(variant__product=full_bag["bowl"])
    client.force_login(viewer)
    client.post(f"/bag/{bowl.pk}/", {"quantity": "9"})
    client.post(f"/bag/{bowl.pk}/remove")
    assert BagItem.objects.get(pk=bowl.pk).quantity == 3


def test_bag_checkout_makes_one_order_per_shop_and_lists_them(client, buyer, full_bag):
    client.force_login(buyer)
    html = client.get("/bag/").content.decode()
    response = client.post(
        "/bag/checkout",
        {
            "token": token_of(html),
            "address": buyer.addresses.get().pk,
            "payment_method": PaymentMethod.objects.get(user=buyer).pk,
        },
    )
    assert response.status_code == 302 and response["Location"] == "/orders/"
    orders = list(Order.objects.filter(buyer=buyer).order_by("pk"))
    assert len(orders) == 2 and {o.status for o in orders} == {Order.Status.PAID}
    (message,) = flashes(response)
    assert message.startswith("Orders placed: ")
    for order in orders:
        assert order.reference in message
    assert not BagItem.objects.filter(user=buyer).exists()


def test_bag_checkout_short_of_stock_says_so_and_keeps_the_bag(client, buyer, full_bag, mug):
    Variant.objects.filter(product=mug).update(stock=0)
    client.force_login(buyer)
    html = client.get("/bag/").content.decode()
    response = client.post(
        "/bag/checkout", {"token": token_of(html), "address": "new", "payment_method": "new"}
    )
    assert response.status_code == 400  # the new address and card forms are empty
    response = client.post(
        "/bag/checkout",
        {
            "token": token_of(html),
            "address": buyer.addresses.get().pk,
            "payment_method": PaymentMethod.objects.get(user=buyer).pk,
        },
    )
    assert response.status_code == 409
    assert "Sold out" in response.content.decode()
    assert not Order.objects.exists()
    assert BagItem.objects.filter(user=buyer).count() == 4


def test_checking_out_an_empty_bag_says_so(client, buyer):
    client.force_login(buyer)
    html = client.get("/bag/").content.decode()
    assert "Your bag is empty." in html
    response = client.post(
        "/bag/checkout",
        {
            "token": "5f0c8b4e-8f4e-4c39-9d55-0d1d7b9b4a11",
            "address": buyer.addresses.get().pk,
            "payment_method": PaymentMethod.objects.get(user=buyer).pk,
        },
    )
    assert response.status_code == 400
    assert "Your bag is empty." in response.content.decode()
    assert not Order.objects.exists()


# --- addresses --------------------------------------------------------------------------------


def test_addresses_are_added_made_default_and_deleted(client, buyer):
    client.force_login(buyer)
    first = buyer.addresses.get()
    response = client.post(
        "/addresses/",
        {
            "name": "Mia at work",
            "line1": "9 Office Park",
            "city": "Capital City",
            "postal_code": "99999",
            "country": "de",
            "next": "/live/7",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/live/7"
    second = buyer.addresses.get(name="Mia at work")
    assert second.country == "DE" and not second.is_default
    html = client.get("/addresses/").content.decode()
    assert "9 Office Park" in html and "Make default" in html
    client.post(f"/addresses/{second.pk}/default")
    assert Address.objects.get(is_default=True, user=buyer).pk == second.pk
    client.post(f"/addresses/{second.pk}/delete")
    assert list(buyer.addresses.values_list("pk", "is_default")) == [(first.pk, True)]


def test_a_bad_address_shows_the_errors_and_saves_nothing(client, buyer):
    client.force_login(buyer)
    response = client.post(
        "/addresses/", {"name": "X", "line1": "", "city": "Y", "postal_code": "1", "country": "1"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert "A two-letter country code" in html or "Ensure this value has at least 2" in html
    assert buyer.addresses.count() == 1


def test_another_buyers_address_cannot_be_touched(client, buyer, viewer):
    address = buyer.addresses.get()
    client.force_login(viewer)
    assert client.post(f"/addresses/{address.pk}/delete").status_code == 404
    assert client.post(f"/addresses/{address.pk}/default").status_code == 404
    assert Address.objects.filter(pk=address.pk, is_default=True).exists()


# --- the live and product pages ---------------------------------------------------------------


def test_the_live_offers_buy_on_each_carousel_product_in_stock(client, buyer, live, shirt, mug):
    Variant.objects.filter(product=mug).update(stock=0)
    client.force_login(buyer)
    html = client.get(f"/live/{live.pk}").content.decode()
    assert f'hx-get="/buy/{shirt.pk}/?stream={live.pk}"' in html
    assert f"/buy/{mug.pk}/" not in html  # sold out
    assert 'id="buy-sheet"' in html and "orders/buy.js" in html


def test_the_product_page_offers_add_to_bag_and_buy_now(client, buyer, shirt):
    html = client.get(f"/products/{shirt.pk}").content.decode()
    assert "Log in to buy" in html
    client.force_login(buyer)
    html = client.get(f"/products/{shirt.pk}").content.decode()
    assert 'data-testid="add-to-bag"' in html
    assert f'hx-get="/buy/{shirt.pk}/"' in html


def test_the_nav_links_the_bag_and_orders(client, buyer):
    client.force_login(buyer)
    html = client.get("/addresses/").content.decode()
    assert 'href="/bag/"' in html and 'href="/orders/"' in html


def test_the_live_orders_reach_the_console_page(client, creator, live):
    client.force_login(creator)
    html = client.get(f"/studio/{live.pk}/").content.decode()
    assert 'id="console-orders"' in html
    assert "data-stock-of=" in html
