"""Demo orders for seed_demo: the two shoppers have an address and a saved card (so their
next buy is one tap), and a few orders in different states, one of them from the live."""

from __future__ import annotations

from accounts.models import User
from payments.provider_services import payment_method_add
from shops.models import Product
from streams.models import Stream

from . import services
from .models import Address, Order

SHOPPERS = {
    "noah": {
        "name": "Noah Smith",
        "line1": "221 Market Street",
        "city": "San Francisco",
        "region": "CA",
        "postal_code": "94105",
        "country": "US",
    },
    "zoe": {
        "name": "Zoe Martin",
        "line1": "12 Rue de la Paix",
        "city": "Paris",
        "postal_code": "75002",
        "country": "FR",
    },
}


def _buy(buyer: User, product: Product, key: str, *, quantity: int = 1, stream=None) -> Order:
    variant = product.variants.filter(stock__gte=quantity).order_by("pk").first()
    (order,) = services.order_place(
        buyer=buyer,
        items=[{"variant": variant.pk, "quantity": quantity}],
        checkout_key=f"demo:{key}",
        stream_id=stream.pk if stream else None,
    )
    return order


def seed() -> list[str]:
    shoppers = {}
    for handle, address in SHOPPERS.items():
        user = User.objects.get(handle=handle)
        if not Address.objects.filter(user=user).exists():
            services.address_add(user=user, data=address)
            payment_method_add(
                user=user, number="4242424242424242", exp_month=12, exp_year=2035, cvc="123"
            )
        shoppers[handle] = user
    if Order.objects.filter(checkout_key__startswith="demo:").exists():
        return []
    mia, leo = User.objects.get(handle="mia"), User.objects.get(handle="leo.makes")
    live = Stream.objects.filter(host=mia, status=Stream.Status.LIVE).first()
    mias = list(Product.objects.filter(shop__owner=mia, status="active").order_by("pk"))
    leos = list(Product.objects.filter(shop__owner=leo, status="active").order_by("pk"))

    _buy(shoppers["noah"], mias[0], "noah-live", stream=live)
    shipped = _buy(shoppers["zoe"], leos[0], "zoe-shipped", quantity=2)
    services.order_ship(
        actor=leo, order_id=shipped.pk, carrier="La Poste", tracking_number="LP123456789FR"
    )
    delivered = _buy(shoppers["noah"], leos[1], "noah-delivered")
    services.order_ship(
        actor=leo, order_id=delivered.pk, carrier="UPS", tracking_number="1Z999AA10123456784"
    )
    services.order_deliver(actor=shoppers["noah"], order_id=delivered.pk)
    _buy(shoppers["zoe"], mias[2], "zoe-live", stream=live)
    return ["shoppers   noah, zoe    have an address and a saved card: buying is one tap"]
