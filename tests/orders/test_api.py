"""The checkout API under /api/v1/: one-tap orders, bag checkout, addresses, the bag, the
buyer's orders and the merchant's. Every refusal is checked to have changed nothing."""

import itertools

import pytest
from rest_framework.test import APIClient

from orders import services
from orders.models import Address, BagItem, Order, Refund
from shops.models import Variant
from streams import services as streams_services
from tests.factories import ShopFactory, UserFactory, make_product

from .conftest import variant_of

_keys = itertools.count(1)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def new_key() -> str:
    return f"api-test-{next(_keys)}"


def post_order(client, items, *, key=None, **body):
    return client.post(
        "/api/v1/orders/",
        {"items": items, **body},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or new_key(),
    )


def _error(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def stocks():
    return dict(Variant.objects.values_list("pk", "stock"))


def nothing_changed(stock_before, orders=0):
    assert Order.objects.count() == orders
    assert stocks() == stock_before


def place(buyer, variant, quantity=1, **kwargs):
    (order,) = services.order_place(
        buyer=buyer,
        items=[{"variant": variant.pk, "quantity": quantity}],
        checkout_key=new_key(),
        **kwargs,
    )
    return order


def delivered(buyer, seller, variant, quantity=2):
    order = place(buyer, variant, quantity)
    services.order_ship(actor=seller, order_id=order.pk, carrier="UPS", tracking_number="1Z9")
    services.order_deliver(actor=buyer, order_id=order.pk)
    return order


@pytest.fixture
def sock(seller):
    return make_product(seller.shop, "Socks", sku="SK", price_minor=900, stock=50)


@pytest.fixture
def rival(db):
    """Another merchant with a shop and a product of their own."""
    shop = ShopFactory(handle="potteryco", name="Pottery Co")
    make_product(shop, "Bowl", sku="BW", price_minor=1500, stock=5)
    return shop.owner


# --- placing an order ----------------------------------------------------------------------


def test_one_tap_buy_answers_201_with_the_paid_order(buyer, live, shirt):
    variant = variant_of(shirt)
    response = post_order(
        client_for(buyer),
        [{"variant": variant.pk, "quantity": 2, "price": 4900}],
        stream=live.pk,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == order.pk and body["reference"] == order.reference
    assert (body["status"], body["payment_state"]) == ("paid", "captured")
    assert body["shop"] == {"handle": "linenco", "name": shirt.shop.name}
    assert (body["currency"], body["subtotal"], body["shipping"], body["total"]) == (
        "USD",
        9800,
        0,
        9800,
    )
    assert body["refunded"] == 0 and body["stream"] == live.pk
    (line,) = body["lines"]
    assert line["product"] == shirt.pk and line["variant"] == variant.pk
    assert (line["title"], line["sku"], line["unit_price"], line["quantity"]) == (
        "Linen shirt",
        "LS",
        4900,
        2,
    )
    assert line["refunded_quantity"] == 0
    assert body["shipping_address"]["city"] == "Springfield"
    assert body["placed_at"] and body["paid_at"] and body["shipped_at"] is None
    assert [(e["kind"], e["to_status"]) for e in body["events"]] == [
        ("placed", "pending_payment"),
        ("paid", "paid"),
    ]
    assert order.checkout_key.startswith("api:")
    assert Variant.objects.get(pk=variant.pk).stock == 5


def test_a_running_deal_applies_its_price(buyer, live, creator, shirt):
    deal = streams_services.deal_start(
        stream=live, actor=creator, product_id=shirt.pk, price_minor=3900, quantity=5, seconds=60
    )
    response = post_order(
        client_for(buyer),
        [{"variant": variant_of(shirt).pk, "quantity": 1, "deal": deal.pk, "price": 3900}],
        stream=live.pk,
    )
    assert response.status_code == 201, response.content
    assert response.json()["total"] == 3900


def test_a_delayed_card_answers_201_pending(buyer, shirt):
    response = post_order(
        client_for(buyer),
        [{"variant": variant_of(shirt).pk, "quantity": 1}],
        payment_method="pm_card_delayed",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["payment_state"]) == ("pending_payment", "pending")
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 6


def test_another_address_can_be_chosen(buyer, shirt):
    other = services.address_add(
        user=buyer,
        data={
            "name": "Mia at work",
            "line1": "9 Office Rd",
            "city": "Shelbyville",
            "postal_code": "54321",
            "country": "US",
        },
    )
    response = post_order(
        client_for(buyer), [{"variant": variant_of(shirt).pk, "quantity": 1}], address=other.pk
    )
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"]["city"] == "Shelbyville"


def test_bag_checkout_makes_one_order_per_shop_and_empties_the_bag(buyer, shirt, rival):
    bowl = Variant.objects.get(sku="BW")
    services.bag_add(user=buyer, variant_id=variant_of(shirt).pk, quantity=2)
    services.bag_add(user=buyer, variant_id=bowl.pk, quantity=1)
    response = client_for(buyer).post(
        "/api/v1/checkout/", {}, format="json", HTTP_IDEMPOTENCY_KEY=new_key()
    )
    assert response.status_code == 201, response.content
    orders = response.json()["orders"]
    assert sorted((o["shop"]["handle"], o["total"], o["status"]) for o in orders) == [
        ("linenco", 9800, "paid"),
        ("potteryco", 1500, "paid"),
    ]
    assert Order.objects.count() == 2
    assert not BagItem.objects.filter(user=buyer).exists()


def test_bag_checkout_needs_an_idempotency_key_and_a_bag(buyer):
    client = client_for(buyer)
    error = _error(client.post("/api/v1/checkout/", {}, format="json"), 400)
    assert error["code"] == "idempotency_key_required"
    response = client.post("/api/v1/checkout/", {}, format="json", HTTP_IDEMPOTENCY_KEY=new_key())
    assert _error(response, 400)["fields"] == {"items": ["Your bag is empty."]}
    assert Order.objects.count() == 0


def test_one_order_is_from_one_shop(buyer, shirt, rival):
    before = stocks()
    response = post_order(
        client_for(buyer),
        [
            {"variant": variant_of(shirt).pk, "quantity": 1},
            {"variant": Variant.objects.get(sku="BW").pk, "quantity": 1},
        ],
    )
    assert "items" in _error(response, 400)["fields"]
    nothing_changed(before)


# --- bad input: a clear error and nothing changed ------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, 10_000])
def test_bad_quantities_are_refused(buyer, shirt, quantity):
    before = stocks()
    response = post_order(
        client_for(buyer), [{"variant": variant_of(shirt).pk, "quantity": quantity}]
    )
    error = _error(response, 400)
    assert error["code"] == "invalid"
    assert "quantity" in error["fields"]["items"]["0"]
    nothing_changed(before)


def test_a_malformed_body_gets_field_messages(buyer):
    client = client_for(buyer)
    response = client.post(
        "/api/v1/orders/",
        {"items": [], "payment_method": 7 * "x" * 10},
        format="json",
        HTTP_IDEMPOTENCY_KEY=new_key(),
    )
    fields = _error(response, 400)["fields"]
    assert set(fields) == {"items", "payment_method"}
    response = client.post(
        "/api/v1/orders/",
        {"items": [{"variant": "shirt"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=new_key(),
    )
    assert "variant" in _error(response, 400)["fields"]["items"]["0"]
    assert Order.objects.count() == 0


def test_more_than_the_stock_is_409(buyer, mug):
    before = stocks()
    response = post_order(client_for(buyer), [{"variant": variant_of(mug).pk, "quantity": 4}])
    assert _error(response, 409)["code"] == "out_of_stock"
    nothing_changed(before)


@pytest.mark.parametrize("shop_status", ["suspended", "pending"])
def test_a_variant_of_an_unapproved_shop_is_not_for_sale(buyer, shop_status):
    shop = ShopFactory(status=shop_status)
    product = make_product(shop, "Hidden", sku="H", price_minor=1000, stock=5)
    before = stocks()
    response = post_order(client_for(buyer), [{"variant": variant_of(product).pk, "quantity": 1}])
    assert _error(response, 400)["code"] == "not_for_sale"
    nothing_changed(before)


def test_an_ended_deal_is_refused_by_its_price_and_by_its_id(buyer, live, creator, shirt):
    deal = streams_services.deal_start(
        stream=live, actor=creator, product_id=shirt.pk, price_minor=3900, quantity=5, seconds=60
    )
    streams_services.deal_end(deal_id=deal.pk, reason="host")
    before = stocks()
    client = client_for(buyer)
    variant = variant_of(shirt).pk
    response = post_order(
        client, [{"variant": variant, "quantity": 1, "price": 3900}], stream=live.pk
    )
    error = _error(response, 409)
    assert error["code"] == "price_changed" and "items" in error["fields"]
    response = post_order(
        client, [{"variant": variant, "quantity": 1, "deal": deal.pk}], stream=live.pk
    )
    assert _error(response, 409)["code"] == "deal_ended"
    nothing_changed(before)


def test_someone_elses_address_is_404(buyer, shirt):
    stranger = UserFactory()
    theirs = services.address_add(
        user=stranger,
        data={"name": "S", "line1": "2 Elm St", "city": "X", "postal_code": "1", "country": "DE"},
    )
    before = stocks()
    response = post_order(
        client_for(buyer), [{"variant": variant_of(shirt).pk, "quantity": 1}], address=theirs.pk
    )
    assert _error(response, 404)["code"] == "not_found"
    nothing_changed(before)


def test_a_declined_card_is_402_and_the_order_is_cancelled_with_its_stock_back(buyer, shirt):
    before = stocks()
    response = post_order(
        client_for(buyer),
        [{"variant": variant_of(shirt).pk, "quantity": 2}],
        payment_method="pm_card_declined",
    )
    assert _error(response, 402)["code"] == "payment_declined"
    order = Order.objects.get()
    assert (order.status, order.payment_state) == ("cancelled", "declined")
    assert stocks() == before


def test_an_unknown_payment_method_is_400(buyer, shirt):
    before = stocks()
    response = post_order(
        client_for(buyer),
        [{"variant": variant_of(shirt).pk, "quantity": 1}],
        payment_method="pm_sim_someone_elses",
    )
    assert "payment_method" in _error(response, 400)["fields"]
    nothing_changed(before)


def test_a_missing_idempotency_key_is_400(buyer, shirt):
    before = stocks()
    response = client_for(buyer).post(
        "/api/v1/orders/",
        {"items": [{"variant": variant_of(shirt).pk, "quantity": 1}]},
        format="json",
    )
    assert _error(response, 400)["code"] == "idempotency_key_required"
    nothing_changed(before)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/orders/"),
        ("get", "/api/v1/orders/"),
        ("post", "/api/v1/checkout/"),
        ("get", "/api/v1/addresses/"),
        ("get", "/api/v1/bag/"),
        ("get", "/api/v1/shop/orders/"),
        ("post", "/api/v1/shop/orders/1/ship/"),
    ],
)
def test_signed_out_clients_get_401(api_client, shirt, method, path):
    before = stocks()
    response = getattr(api_client, method)(
        path,
        {"items": [{"variant": variant_of(shirt).pk, "quantity": 1}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=new_key(),
    )
    assert _error(response, 401)["code"] == "not_authenticated"
    nothing_changed(before)


def test_checkout_is_rate_limited_per_buyer(buyer, shirt):
    client = client_for(buyer)
    for _ in range(30):
        # Refused for its missing key, but counted: the throttle runs first.
        assert client.post("/api/v1/orders/", {}, format="json").status_code == 400
    assert _error(client.post("/api/v1/orders/", {}, format="json"), 429)["code"] == "rate_limited"
    assert _error(client.post("/api/v1/checkout/", {}, format="json"), 429)["code"] == (
        "rate_limited"
    )
    # Reading is not checkout.
    assert client.get("/api/v1/orders/").status_code == 200
    assert client_for(UserFactory()).post("/api/v1/orders/", {}, format="json").status_code == 400


# --- the buyer's orders --------------------------------------------------------------------


def test_order_list_is_the_buyers_own_filtered_and_constant_in_queries(
    buyer, shirt, sock, django_assert_max_num_queries
):
    for _ in range(5):
        place(buyer, variant_of(sock))
    cancelled = place(buyer, variant_of(shirt))
    services.order_cancel_by_buyer(buyer=buyer, order_id=cancelled.pk)
    other = UserFactory()
    services.address_add(
        user=other,
        data={"name": "O", "line1": "3 Oak St", "city": "Y", "postal_code": "2", "country": "US"},
    )
    place(other, variant_of(sock), payment_method="pm_card_ok")
    client = client_for(buyer)
    with django_assert_max_num_queries(5):
        body = client.get("/api/v1/orders/").json()
    assert body["count"] == 6
    assert {o["id"] for o in body["results"]} == set(
        Order.objects.filter(buyer=buyer).values_list("pk", flat=True)
    )
    assert all(len(o["lines"]) == 1 and o["events"] for o in body["results"])
    body = client.get("/api/v1/orders/?status=cancelled").json()
    assert [o["id"] for o in body["results"]] == [cancelled.pk]
    assert client.get("/api/v1/orders/?status=lost").status_code == 400


def test_order_detail_and_another_buyers_order_is_404(buyer, shirt):
    order = place(buyer, variant_of(shirt))
    body = client_for(buyer).get(f"/api/v1/orders/{order.pk}/").json()
    assert body["id"] == order.pk and [e["kind"] for e in body["events"]] == ["placed", "paid"]
    stranger = client_for(UserFactory())
    for method, path in [
        ("get", f"/api/v1/orders/{order.pk}/"),
        ("post", f"/api/v1/orders/{order.pk}/cancel/"),
        ("post", f"/api/v1/orders/{order.pk}/received/"),
        ("post", f"/api/v1/orders/{order.pk}/refund-request/"),
    ]:
        response = getattr(stranger, method)(path, {"reason": "mine now"}, format="json")
        assert _error(response, 404)["code"] == "not_found", path
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_the_buyer_cancels_before_shipping_and_gets_the_stock_back(buyer, shirt):
    order = place(buyer, variant_of(shirt), 2)
    response = client_for(buyer).post(f"/api/v1/orders/{order.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 7


def test_a_shipped_order_cannot_be_cancelled(buyer, seller, shirt):
    order = place(buyer, variant_of(shirt))
    services.order_ship(actor=seller, order_id=order.pk, carrier="UPS", tracking_number="1Z")
    before = stocks()
    for client, path in [
        (client_for(buyer), f"/api/v1/orders/{order.pk}/cancel/"),
        (client_for(seller), f"/api/v1/shop/orders/{order.pk}/cancel/"),
    ]:
        assert _error(client.post(path), 409)["code"] == "invalid_transition"
    assert Order.objects.get(pk=order.pk).status == "shipped"
    assert stocks() == before


def test_ship_receive_request_a_refund_and_the_shop_approves_it(buyer, seller, shirt):
    order = place(buyer, variant_of(shirt), 2)
    shop, me = client_for(seller), client_for(buyer)
    response = shop.post(
        f"/api/v1/shop/orders/{order.pk}/ship/",
        {"carrier": "UPS", "tracking_number": "1Z999"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["carrier"], body["tracking_number"]) == ("shipped", "UPS", "1Z999")
    response = me.post(f"/api/v1/orders/{order.pk}/received/")
    assert response.status_code == 200 and response.json()["status"] == "delivered"
    line_id = order.lines.get().pk
    response = me.post(
        f"/api/v1/orders/{order.pk}/refund-request/",
        {"reason": "Too small", "lines": {str(line_id): 1}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "requested" and response.json()["amount"] == 4900
    response = shop.post(
        f"/api/v1/shop/orders/{order.pk}/refund/", {}, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
    )
    assert response.status_code == 200, response.content
    refund = response.json()
    assert (refund["status"], refund["amount"], refund["lines"]) == (
        "refunded",
        4900,
        {str(line_id): 1},
    )
    body = me.get(f"/api/v1/orders/{order.pk}/").json()
    assert (body["status"], body["refunded"]) == ("refunded", 4900)
    assert body["lines"][0]["refunded_quantity"] == 1


def test_the_shop_rejects_a_refund_request(buyer, seller, shirt):
    order = delivered(buyer, seller, variant_of(shirt))
    services.order_request_refund(buyer=buyer, order_id=order.pk, reason="Changed my mind")
    shop = client_for(seller)
    assert (
        "reason"
        in _error(
            shop.post(f"/api/v1/shop/orders/{order.pk}/reject-refund/", {}, format="json"), 400
        )["fields"]
    )
    response = shop.post(
        f"/api/v1/shop/orders/{order.pk}/reject-refund/", {"reason": "Worn"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected"
    assert Order.objects.get(pk=order.pk).status == "refund_rejected"


def test_the_shop_refunds_part_of_an_order_and_not_more_than_was_paid(buyer, seller, shirt):
    order = delivered(buyer, seller, variant_of(shirt), 2)
    line_id = order.lines.get().pk
    shop = client_for(seller)
    url = f"/api/v1/shop/orders/{order.pk}/refund/"
    error = _error(shop.post(url, {"lines": {str(line_id): 1}}, format="json"), 400)
    assert error["code"] == "idempotency_key_required"
    response = shop.post(
        url, {"lines": {str(line_id): 3}}, format="json", HTTP_IDEMPOTENCY_KEY=new_key()
    )
    assert _error(response, 409)["code"] == "refund_exceeds_paid"
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == ("delivered", 0)
    assert not Refund.objects.exists()
    response = shop.post(
        url,
        {"lines": {str(line_id): 1}, "reason": "Damaged"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=new_key(),
    )
    assert response.status_code == 200, response.content
    response = shop.post(
        url, {"lines": {str(line_id): 2}}, format="json", HTTP_IDEMPOTENCY_KEY=new_key()
    )
    assert _error(response, 409)["code"] == "refund_exceeds_paid"
    order.refresh_from_db()
    assert order.refunded_minor == 4900


# --- the merchant's orders -----------------------------------------------------------------


def test_shop_orders_are_the_shops_own_filtered_and_constant_in_queries(
    buyer, seller, live, sock, shirt, rival, django_assert_max_num_queries
):
    for _ in range(4):
        place(buyer, variant_of(sock))
    from_live = place(buyer, variant_of(shirt), stream_id=live.pk)
    shipped = place(buyer, variant_of(sock))
    services.order_ship(actor=seller, order_id=shipped.pk, carrier="DHL", tracking_number="9")
    theirs = place(buyer, Variant.objects.get(sku="BW"))
    client = client_for(seller)
    with django_assert_max_num_queries(6):
        body = client.get("/api/v1/shop/orders/").json()
    assert body["count"] == 6 and theirs.pk not in {o["id"] for o in body["results"]}
    body = client.get("/api/v1/shop/orders/?status=shipped").json()
    assert [o["id"] for o in body["results"]] == [shipped.pk]
    body = client.get(f"/api/v1/shop/orders/?stream={live.pk}").json()
    assert [o["id"] for o in body["results"]] == [from_live.pk]
    body = client.get(f"/api/v1/shop/orders/?q={shipped.reference}").json()
    assert [o["id"] for o in body["results"]] == [shipped.pk]
    assert client.get("/api/v1/shop/orders/?stream=x").status_code == 400
    # An account without a shop has no shop orders.
    assert client_for(buyer).get("/api/v1/shop/orders/").status_code == 404


def test_another_shops_order_is_refused_on_every_merchant_endpoint(buyer, seller, shirt, rival):
    paid = place(buyer, variant_of(shirt))
    done = delivered(buyer, seller, variant_of(shirt), 1)
    services.order_request_refund(buyer=buyer, order_id=done.pk, reason="Nope")
    before = list(Order.objects.order_by("pk").values_list("pk", "status", "refunded_minor"))
    for user in (rival, buyer):
        client = client_for(user)
        for path, body, headers in [
            (f"/api/v1/shop/orders/{paid.pk}/ship/", {"carrier": "X", "tracking_number": "1"}, {}),
            (f"/api/v1/shop/orders/{paid.pk}/cancel/", {}, {}),
            (f"/api/v1/shop/orders/{done.pk}/refund/", {}, {"HTTP_IDEMPOTENCY_KEY": new_key()}),
            (f"/api/v1/shop/orders/{done.pk}/reject-refund/", {"reason": "No"}, {}),
        ]:
            response = client.post(path, body, format="json", **headers)
            assert response.status_code in (403, 404), (path, response.content)
    assert (
        list(Order.objects.order_by("pk").values_list("pk", "status", "refunded_minor")) == before
    )
    assert Refund.objects.get().status == "requested"


def test_the_shop_cancels_a_paid_order(buyer, seller, shirt):
    order = place(buyer, variant_of(shirt), 3)
    response = client_for(seller).post(f"/api/v1/shop/orders/{order.pk}/cancel/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["refunded"]) == ("cancelled", 14700)
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 7


def test_shipping_needs_a_carrier_and_a_tracking_number(buyer, seller, shirt):
    order = place(buyer, variant_of(shirt))
    response = client_for(seller).post(
        f"/api/v1/shop/orders/{order.pk}/ship/", {"carrier": ""}, format="json"
    )
    assert set(_error(response, 400)["fields"]) == {"carrier", "tracking_number"}
    assert Order.objects.get(pk=order.pk).status == "paid"


# --- addresses -----------------------------------------------------------------------------


def test_addresses_add_list_make_default_and_delete(buyer, django_assert_max_num_queries):
    client = client_for(buyer)
    response = client.post(
        "/api/v1/addresses/",
        {
            "name": "Mia at work",
            "line1": "9 Office Rd",
            "city": "Shelbyville",
            "postal_code": "54321",
            "country": "de",
            "default": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    work = response.json()
    assert (work["country"], work["default"], work["line2"]) == ("DE", True, "")
    with django_assert_max_num_queries(3):
        listed = client.get("/api/v1/addresses/").json()["results"]
    assert [(a["id"], a["default"]) for a in listed][0] == (work["id"], True)
    home = next(a for a in listed if a["id"] != work["id"])
    response = client.post(f"/api/v1/addresses/{home['id']}/default/")
    assert response.status_code == 200 and response.json()["default"] is True
    assert Address.objects.get(is_default=True).pk == home["id"]
    assert client.delete(f"/api/v1/addresses/{work['id']}/").status_code == 204
    assert list(Address.objects.filter(user=buyer).values_list("pk", flat=True)) == [home["id"]]


def test_a_bad_address_gets_field_messages_and_is_not_saved(buyer):
    response = client_for(buyer).post(
        "/api/v1/addresses/", {"name": "", "line1": "1 St", "country": "USA"}, format="json"
    )
    fields = _error(response, 400)["fields"]
    assert {"name", "city", "postal_code", "country"} <= set(fields)
    response = client_for(buyer).post(
        "/api/v1/addresses/",
        {"name": "M", "line1": "1 St", "city": "C", "postal_code": "1", "country": "1A"},
        format="json",
    )
    assert "country" in _error(response, 400)["fields"]
    assert Address.objects.filter(user=buyer).count() == 1


def test_someone_elses_address_cannot_be_touched(buyer):
    theirs = Address.objects.get(user=buyer)
    stranger = client_for(UserFactory())
    assert _error(stranger.delete(f"/api/v1/addresses/{theirs.pk}/"), 404)["code"] == "not_found"
    assert stranger.post(f"/api/v1/addresses/{theirs.pk}/default/").status_code == 404
    assert stranger.get("/api/v1/addresses/").json()["results"] == []
    assert Address.objects.filter(pk=theirs.pk, is_default=True).exists()


# --- the bag -------------------------------------------------------------------------------


def test_bag_add_change_and_remove(buyer, live, shirt, mug, django_assert_max_num_queries):
    client = client_for(buyer)
    response = client.post(
        "/api/v1/bag/",
        {"variant": variant_of(shirt).pk, "quantity": 2, "stream": live.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    item = response.json()
    assert (item["title"], item["shop"], item["unit_price"], item["quantity"], item["stream"]) == (
        "Linen shirt",
        "linenco",
        4900,
        2,
        live.pk,
    )
    client.post("/api/v1/bag/", {"variant": variant_of(shirt).pk}, format="json")
    client.post("/api/v1/bag/", {"variant": variant_of(mug).pk}, format="json")
    with django_assert_max_num_queries(3):
        items = client.get("/api/v1/bag/").json()["items"]
    assert [(i["title"], i["quantity"]) for i in items] == [("Linen shirt", 3), ("Mug", 1)]
    response = client.patch(f"/api/v1/bag/{item['id']}/", {"quantity": 5}, format="json")
    assert response.status_code == 200 and response.json()["quantity"] == 5
    assert (
        client.patch(f"/api/v1/bag/{item['id']}/", {"quantity": 0}, format="json").status_code
        == 204
    )
    assert client.delete(f"/api/v1/bag/{items[1]['id']}/").status_code == 204
    assert client.get("/api/v1/bag/").json()["items"] == []
    # The stock is reserved only at checkout.
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 7


def test_bad_bag_input_changes_nothing(buyer, shirt, seller):
    client = client_for(buyer)
    for body in ({"variant": variant_of(shirt).pk, "quantity": 0}, {"variant": "x"}, {}):
        assert _error(client.post("/api/v1/bag/", body, format="json"), 400)["code"] == "invalid"
    hidden = make_product(ShopFactory(status="pending"), "Hidden", sku="H", stock=3)
    response = client.post("/api/v1/bag/", {"variant": variant_of(hidden).pk}, format="json")
    assert _error(response, 400)["code"] == "not_for_sale"
    mine = services.bag_add(user=buyer, variant_id=variant_of(shirt).pk, quantity=1)
    response = client.patch(f"/api/v1/bag/{mine.pk}/", {"quantity": 100}, format="json")
    assert "quantity" in _error(response, 400)["fields"]
    stranger = client_for(UserFactory())
    assert (
        stranger.patch(f"/api/v1/bag/{mine.pk}/", {"quantity": 2}, format="json").status_code == 404
    )
    assert stranger.delete(f"/api/v1/bag/{mine.pk}/").status_code == 404
    assert list(BagItem.objects.values_list("user_id", "quantity")) == [(buyer.pk, 1)]
