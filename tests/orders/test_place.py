"""Placing orders through the service: stock, deals, payments, attribution, the ledger."""

import pytest
from django.core import mail

from orders import services
from orders.errors import (
    AddressNotFound,
    DealEnded,
    DealSoldOut,
    InvalidOrder,
    NotForSale,
    OutOfStock,
    PaymentDeclined,
    PriceChanged,
)
from orders.models import Order
from payments.ledger_models import LedgerEntry
from shops.models import Variant
from streams import services as streams_services
from streams.models import Deal

from .conftest import variant_of


def balance(code):
    return sum(LedgerEntry.objects.filter(account__code=code).values_list("amount", flat=True))


def test_one_tap_buy_pays_reserves_stock_and_posts_the_commissions(buyer, live, shirt, key):
    variant = variant_of(shirt)
    (order,) = services.order_place(
        buyer=buyer,
        items=[{"variant": variant.pk, "quantity": 2}],
        stream_id=live.pk,
        checkout_key=key(),
    )
    assert order.status == Order.Status.PAID
    assert order.payment_state == Order.PaymentState.CAPTURED
    assert order.total_minor == 9800
    assert order.stream_id == live.pk and order.creator_id == live.host_id
    assert order.shipping_address["city"] == "Springfield"
    line = order.lines.get()
    assert (line.unit_price_minor, line.quantity, line.title) == (4900, 2, "Linen shirt")
    assert Variant.objects.get(pk=variant.pk).stock == 5
    # 5 % platform, 10 % affiliate to the creator, the rest to the shop.
    assert balance(f"platform:commission:{order.currency}") == 490
    assert balance(f"earnings:affiliate:user:{live.host_id}:{order.currency}") == 980
    assert balance(f"merchant:payable:shop:{order.shop_id}:{order.currency}") == 9800 - 490 - 980
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds == ["placed", "paid"]


def test_the_same_checkout_key_makes_one_order(buyer, shirt, key):
    k = key()
    first = services.order_place(
        buyer=buyer, items=[{"variant": variant_of(shirt).pk, "quantity": 1}], checkout_key=k
    )
    again = services.order_place(
        buyer=buyer, items=[{"variant": variant_of(shirt).pk, "quantity": 1}], checkout_key=k
    )
    assert [o.pk for o in first] == [o.pk for o in again]
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 6


@pytest.mark.parametrize("quantity", [0, -1, 10_000, "2", None, True])
def test_bad_quantities_are_refused_and_change_nothing(buyer, shirt, key, quantity):
    with pytest.raises(InvalidOrder) as caught:
        services.order_place(
            buyer=buyer,
            items=[{"variant": variant_of(shirt).pk, "quantity": quantity}],
            checkout_key=key(),
        )
    assert "quantity" in caught.value.fields
    assert Order.objects.count() == 0
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 7


def test_more_than_the_stock_is_refused(buyer, mug, key):
    with pytest.raises(OutOfStock):
        services.order_place(
            buyer=buyer, items=[{"variant": variant_of(mug).pk, "quantity": 4}], checkout_key=key()
        )
    assert Order.objects.count() == 0
    assert Variant.objects.get(pk=variant_of(mug).pk).stock == 3


def test_a_variant_of_an_unapproved_shop_is_not_for_sale(buyer, shirt, key):
    shirt.shop.status = "suspended"
    shirt.shop.save()
    with pytest.raises(NotForSale):
        services.order_place(
            buyer=buyer,
            items=[{"variant": variant_of(shirt).pk, "quantity": 1}],
            checkout_key=key(),
        )
    assert Order.objects.count() == 0


def test_someone_elses_address_is_refused(buyer, shirt, key, viewer):
    other = services.address_add(
        user=viewer,
        data={"name": "V", "line1": "2 Elm", "city": "X", "postal_code": "1", "country": "DE"},
    )
    with pytest.raises(AddressNotFound):
        services.order_place(
            buyer=buyer,
            items=[{"variant": variant_of(shirt).pk, "quantity": 1}],
            address_id=other.pk,
            checkout_key=key(),
        )
    assert Order.objects.count() == 0


def test_a_declined_card_cancels_and_restocks_at_once(buyer, shirt, key):
    with pytest.raises(PaymentDeclined):
        services.order_place(
            buyer=buyer,
            items=[{"variant": variant_of(shirt).pk, "quantity": 3}],
            payment_method="pm_card_declined",
            checkout_key=key(),
        )
    order = Order.objects.get()
    assert order.status == Order.Status.CANCELLED and order.cancel_reason == "payment_declined"
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 7
    assert not LedgerEntry.objects.exists()


def test_a_running_deal_sets_the_price_and_ends_when_sold_out(buyer, live, shirt, key, creator):
    deal = streams_services.deal_start(
        stream=live, actor=creator, product_id=shirt.pk, price_minor=2900, quantity=2, seconds=60
    )
    variant = variant_of(shirt)
    (order,) = services.order_place(
        buyer=buyer,
        items=[{"variant": variant.pk, "quantity": 2, "price": 2900, "deal": deal.pk}],
        stream_id=live.pk,
        checkout_key=key(),
    )
    assert order.total_minor == 5800 and order.lines.get().deal_id == deal.pk
    deal.refresh_from_db()
    assert (deal.sold, deal.status, deal.ended_reason) == (2, "ended", "sold_out")
    with pytest.raises(DealEnded):
        services.order_place(
            buyer=buyer,
            items=[{"variant": variant.pk, "quantity": 1, "deal": deal.pk}],
            stream_id=live.pk,
            checkout_key=key(),
        )
    # The deal's price is gone with it.
    with pytest.raises(PriceChanged):
        services.order_place(
            buyer=buyer,
            items=[{"variant": variant.pk, "quantity": 1, "price": 2900}],
            stream_id=live.pk,
            checkout_key=key(),
        )


def test_a_deal_never_sells_past_its_quantity(buyer, live, shirt, key, creator):
    deal = streams_services.deal_start(
        stream=live, actor=creator, product_id=shirt.pk, price_minor=2900, quantity=2, seconds=60
    )
    with pytest.raises(DealSoldOut):
        services.order_place(
            buyer=buyer,
            items=[{"variant": variant_of(shirt).pk, "quantity": 3}],
            stream_id=live.pk,
            checkout_key=key(),
        )
    assert Deal.objects.get(pk=deal.pk).sold == 0


def test_paid_order_emails_buyer_and_merchant(buyer, shirt, key):
    from orders.emails import order_emails_send

    (order,) = services.order_place(
        buyer=buyer, items=[{"variant": variant_of(shirt).pk, "quantity": 1}], checkout_key=key()
    )
    mail.outbox.clear()
    assert order_emails_send(order_id=order.pk, what="paid") == 2
    assert order_emails_send(order_id=order.pk, what="paid") == 0  # once
    assert {m.to[0] for m in mail.outbox} == {buyer.email, order.shop.owner.email}
    assert order.reference in mail.outbox[0].subject


def test_an_ordered_variant_cannot_be_deleted_only_emptied(buyer, seller, key):
    from shops import services as shop_services
    from shops.errors import InvalidProduct
    from tests.factories import make_product

    product = make_product(
        seller.shop,
        "Tee",
        variants=[
            {"option1": "S", "price_minor": 1000, "stock": 2},
            {"option1": "M", "price_minor": 1000, "stock": 2},
        ],
        option1_name="Size",
    )
    small = product.variants.get(option1="S")
    services.order_place(
        buyer=buyer, items=[{"variant": small.pk, "quantity": 1}], checkout_key=key()
    )
    with pytest.raises(InvalidProduct):
        shop_services.variant_delete(variant=small, actor=seller)
    assert Variant.objects.filter(pk=small.pk).exists()
