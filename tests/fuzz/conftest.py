"""A small marketplace for the fuzzers to act in, and how many examples they try.

FUZZ_EXAMPLES (and FUZZ_STEPS for the state machines) set the size of a run: small by
default so that `make test` stays quick, large under `make fuzz`."""

import os
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from gifting import services as gifting_services
from gifting.models import CoinPack, Gift
from gifting.settlement import earnings_settle
from orders import services as orders_services
from payments.provider_services import payment_method_add
from shops.models import Variant
from streams import realtime
from streams import services as streams_services
from tests.factories import ShopFactory, UserFactory, make_product


def fuzz_examples(default: int) -> int:
    return int(os.environ.get("FUZZ_EXAMPLES", default))


def fuzz_steps(default: int) -> int:
    return int(os.environ.get("FUZZ_STEPS", default))


ADDRESS = {
    "name": "Fay Fuzzer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


def on_air(host, title: str):
    stream, _ = streams_services.stream_schedule(
        host=host, title=title, scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(
        stream=stream, actor=host, playback_url="https://cdn.example/live.m3u8"
    )
    stream.refresh_from_db()
    return stream


def with_card_and_address(user) -> None:
    orders_services.address_add(user=user, data={**ADDRESS, "name": user.display_name})
    payment_method_add(user=user, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123")


def buy_coins(user, coins: int, key: str) -> None:
    pack = CoinPack.objects.create(coins=coins, price_minor=coins, currency="USD")
    gifting_services.coins_buy(
        buyer=user, pack_id=pack.pk, checkout_key=key, payment_method="pm_card_ok"
    )


@dataclass
class Marketplace:
    """The fuzzed user (a business account with a shop, a live on air, an address, a card,
    coins and settled earnings, who has bought from another shop and been bought from) and
    the ids that exist, by kind, for the fuzzers to aim at."""

    user: object
    token: str
    ids: dict[str, list] = field(default_factory=dict)


@pytest.fixture
def marketplace(db) -> Marketplace:
    realtime.reset_local_state()

    fuzzer = UserFactory(handle="fuzzer", display_name="Fay Fuzzer", is_business=True)
    with_card_and_address(fuzzer)
    own_shop = ShopFactory(handle="fuzzshop", owner=fuzzer)
    tee = make_product(own_shop, "Tee", sku="TEE", price_minor=2500, stock=40)
    cap = make_product(own_shop, "Cap", sku="CAP", price_minor=1200, stock=40)

    seller = UserFactory(handle="lina", is_business=True)
    other_shop = ShopFactory(handle="linenco", owner=seller)
    shirt = make_product(
        other_shop, "Linen shirt", sku="LS", price_minor=4900, stock=60, affiliate_rate_bp=1000
    )
    mug = make_product(
        other_shop, "Mug", sku="MG", price_minor=2800, stock=60, affiliate_rate_bp=500
    )

    host = UserFactory(handle="cleo", is_business=True)
    their_live = on_air(host, "Linen drop")
    streams_services.carousel_set(stream=their_live, actor=host, product_ids=[shirt.pk, mug.pk])
    own_live = on_air(fuzzer, "Fuzz live")
    streams_services.carousel_set(stream=own_live, actor=fuzzer, product_ids=[tee.pk, cap.pk])
    deal = streams_services.deal_start(
        stream=own_live, actor=fuzzer, product_id=tee.pk, price_minor=2000, quantity=5, seconds=600
    )

    buyer = UserFactory(handle="mia")
    with_card_and_address(buyer)
    chat = streams_services.chat_send(user=buyer, stream_id=own_live.pk, text="hello")

    gifts = [
        Gift.objects.create(name="Rose", slug="rose", coins=1, position=0),
        Gift.objects.create(name="Lion", slug="lion", coins=500, position=1),
    ]
    packs = [CoinPack.objects.create(coins=70, price_minor=99, currency="USD")]
    buy_coins(fuzzer, 5000, "seed-coins-fuzzer")
    buy_coins(buyer, 6000, "seed-coins-mia")
    # Mia's gifts in the fuzzer's live, settled: earnings to request payouts from.
    gifting_services.gift_send(
        sender=buyer, stream_id=own_live.pk, gift_id=gifts[1].pk, quantity=10, idempotency_key="g"
    )
    earnings_settle(until=timezone.now() + timedelta(seconds=1))

    def order(who, variant, key, stream=None):
        (made,) = orders_services.order_place(
            buyer=who,
            items=[{"variant": variant.pk, "quantity": 1}],
            checkout_key=key,
            stream_id=stream,
        )
        return made

    bought = [
        order(fuzzer, shirt.variants.get(), "seed-1", their_live.pk),
        order(fuzzer, mug.variants.get(), "seed-2"),
    ]
    orders_services.order_ship(
        actor=seller, order_id=bought[1].pk, carrier="UPS", tracking_number="1Z"
    )
    orders_services.order_deliver(actor=fuzzer, order_id=bought[1].pk)
    sold = [order(buyer, tee.variants.get(), f"seed-sold-{i}") for i in range(3)]
    orders_services.order_ship(
        actor=fuzzer, order_id=sold[1].pk, carrier="UPS", tracking_number="1"
    )
    orders_services.order_deliver(actor=buyer, order_id=sold[1].pk)
    bag_item = orders_services.bag_add(user=fuzzer, variant_id=mug.variants.get().pk, quantity=1)

    products = [tee, cap, shirt, mug]
    token = Token.objects.create(user=fuzzer).key
    return Marketplace(
        user=fuzzer,
        token=token,
        ids={
            "address": list(fuzzer.addresses.values_list("pk", flat=True)),
            "bag": [bag_item.pk],
            "chat": [chat.pk],
            "deal": [deal.pk],
            "gift": [g.pk for g in gifts],
            "handle": ["fuzzer", "lina", "cleo", "mia", "fuzzshop", "linenco"],
            "order": [o.pk for o in bought],
            "pack": [p.pk for p in packs],
            "product": [p.pk for p in products],
            "shop_order": [o.pk for o in sold],
            "stream": [own_live.pk, their_live.pk],
            "variant": list(
                Variant.objects.filter(product__in=products).values_list("pk", flat=True)
            ),
        },
    )
