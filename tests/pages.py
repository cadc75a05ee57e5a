"""The URLconf's HTML routes, and a world to visit them in: the demo data with markup
where users can write text. Shared by the CSP and CSRF walks (tests/config/)."""

import re

from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

HOSTILE = (
    '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>'
)


def html_routes(patterns=None, prefix="", namespace=""):
    """(route, name, view) for every route outside the API and the admin."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from html_routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            if not route.startswith(("admin/", "api/")):
                yield route, namespace + (pattern.name or ""), pattern.callback


def demo_world() -> dict:
    """seed_demo, plus a product, a chat line and a profile full of markup; the ids that
    the routes' parameters take."""
    from accounts.models import User
    from orders import services as orders_services
    from orders.models import Address, Order
    from payments.provider_models import PaymentMethod
    from shops.models import Product
    from streams import services as streams_services
    from streams.models import ChatMessage, Stream
    from tests.factories import make_product

    call_command("seed_demo", force=True)
    mia, noah = User.objects.get(handle="mia"), User.objects.get(handle="noah")
    live = Stream.objects.get(host=mia, status=Stream.Status.LIVE)
    hostile = make_product(mia.shop, HOSTILE, description=HOSTILE, sku="XSS", tags=HOSTILE)
    streams_services.carousel_set(
        stream=live,
        actor=mia,
        product_ids=[*live.carousel.values_list("product_id", flat=True), hostile.pk],
    )
    ChatMessage.objects.create(stream=live, user=noah, text=HOSTILE)
    User.objects.filter(pk=noah.pk).update(display_name=HOSTILE[:50], bio=HOSTILE)
    product = Product.objects.filter(shop=mia.shop, status="active").first()
    item = orders_services.bag_add(user=noah, variant_id=product.variants.first().pk)
    return {
        "live": live.pk,
        "product": hostile.pk,
        "image": product.images.first().pk,
        "variant": product.variants.first().pk,
        "order": Order.objects.filter(shop=mia.shop).first().pk,
        "item": item.pk,
        "address": Address.objects.filter(user=noah).first().pk,
        "card": PaymentMethod.objects.filter(user=noah).first().pk,
        "shop": mia.shop.handle,
        "handle": noah.handle,
    }


NAMED = {
    "account_confirm_email": lambda w: {"key": "not-a-key"},
    "account_reset_password_from_key": lambda w: {"uidb36": "1", "key": "not-a-key"},
    "payment_webhooks:receive": lambda w: {"provider": "simulated"},
    "shops:detail": lambda w: {"handle": w["shop"]},
    "seller_orders:live": lambda w: {"stream_id": w["live"]},
    "orders:buy": lambda w: {"product_id": w["product"]},
    "orders:bag-item": lambda w: {"item_id": w["item"]},
    "orders:bag-remove": lambda w: {"item_id": w["item"]},
    "moderation:report": lambda w: {"kind": "product", "pk": w["product"]},
    "profile": lambda w: {"handle": w["handle"]},
    "": lambda w: {"path": "nothing.png"},
}
# Otherwise a pk, by the route name's start.
PK_BY_PREFIX = [
    ("seller:product_image", "image"),
    ("seller:product", "product"),
    ("seller:variant", "variant"),
    ("shops:", "product"),
    ("streams:", "live"),
    ("gifting:", "live"),
    ("seller_orders:", "order"),
    ("orders:address", "address"),
    ("orders:", "order"),
    ("payments:", "card"),
]


def _arguments(name: str, world: dict) -> dict:
    if name in NAMED:
        return NAMED[name](world)
    if name.startswith("accounts:"):
        return {"handle": world["handle"]}
    for prefix, key in PK_BY_PREFIX:
        if name.startswith(prefix):
            return {"pk": world[key]}
    raise AssertionError(f"tests/pages.py: say which object the route {name!r} takes")


def route_path(route: str, name: str, world: dict) -> str:
    """The route as a path, its parameters filled in from the world."""
    path = re.sub(r"[\^$]", "", route)
    if "<" in path:
        for key, value in _arguments(name, world).items():
            path = re.sub(rf"<(\w+:)?{key}>|\(\?P<{key}>[^)]*\)", str(value), path)
    assert "<" not in path and "(" not in path, (name, path)
    return "/" + path
