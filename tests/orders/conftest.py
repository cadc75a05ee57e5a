import itertools

import pytest
from django.utils import timezone

from orders import services
from payments.provider_services import payment_method_add
from streams import realtime
from streams import services as streams_services
from tests.factories import ShopFactory, UserFactory, make_product

_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_live_state():
    realtime.reset_local_state()
    yield


@pytest.fixture
def key():
    """A fresh checkout key per call."""
    return lambda: f"checkout-{next(_keys)}"


@pytest.fixture
def seller(db):
    shop = ShopFactory(handle="linenco", owner=UserFactory(handle="lina", is_business=True))
    return shop.owner


@pytest.fixture
def shirt(seller):
    return make_product(
        seller.shop, "Linen shirt", sku="LS", price_minor=4900, stock=7, affiliate_rate_bp=1000
    )


@pytest.fixture
def mug(seller):
    return make_product(
        seller.shop, "Mug", sku="MG", price_minor=2800, stock=3, affiliate_rate_bp=500
    )


@pytest.fixture
def buyer(db):
    """A viewer with a default address and a saved card: every buy is one tap."""
    user = UserFactory(handle="mia", display_name="Mia Buyer")
    services.address_add(
        user=user,
        data={
            "name": "Mia Buyer",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        },
    )
    payment_method_add(user=user, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123")
    return user


@pytest.fixture
def creator(db):
    """A host who features the seller's products for the affiliate commission."""
    return UserFactory(handle="cleo", display_name="Cleo Creator", is_business=True)


@pytest.fixture
def live(creator, shirt, mug):
    stream, _ = streams_services.stream_schedule(
        host=creator, title="Linen drop", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(
        stream=stream, actor=creator, playback_url="https://cdn.example/live.m3u8"
    )
    streams_services.carousel_set(stream=stream, actor=creator, product_ids=[shirt.pk, mug.pk])
    streams_services.carousel_pin(stream=stream, actor=creator, product_id=shirt.pk)
    stream.refresh_from_db()
    return stream


def variant_of(product):
    return product.variants.get()
