"""Every route of the URLconf that takes an identifier, walked by someone who does not own
the object behind it.

The owner (A) gets an object of each kind the routes name: a buyer's order, a shop's
product and orders, a host's live, an address, a card, a bag line, a payout. Then a second
signed-in user, a second merchant with a shop of their own and a signed-out visitor ask for
it with every method the route answers. Owner-only routes refuse them (403 or 404, or the
log-in page for the visitor) and change nothing in the database; public objects read for
everyone and refuse every write; routes where the visitor acts as themselves (follow, remind,
gift, report, buy) leave the owner's object as it was. Admin pages with an id are refused to
non-staff and to staff whose role lacks the model's permission.

ROUTES and ADMIN_MODELS are the tables of what each route is. A route with an id that is in
neither fails test_every_route_with_an_id_is_in_the_table: say what the new route is before
it ships.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from moderation.roles import FINANCE, MODERATORS, roles_ensure
from tests.factories import ShopFactory, UserFactory, make_product, png_bytes

OWNER = "owner"  # only the owner (or staff with the role's permission): others 403/404
PUBLIC = "public"  # anyone reads it (200); every write is refused
ACT = "act"  # anyone signed in acts as themselves on it; the owner's object stays as it was
SECRET = "secret"  # the id is itself the credential (a signed webhook, an emailed key)
FILE = "file"  # a public upload: GET reads the bytes, any other method is 405

WRITES = ("post", "put", "patch", "delete")
METHODS = ("get", *WRITES)
FUNCTION_VIEW_METHODS = ("get", "post")  # views without a class do not say; ask both

# Rows that change on every request of a signed-in user whoever it is, and say nothing of
# anyone's objects.
VOLATILE_APPS = {"sessions", "contenttypes"}
VOLATILE_FIELDS = {("accounts.User", "last_login")}


@dataclass(frozen=True)
class Case:
    """One object a route is walked with: what the world builds (`obj`), what the route is
    for it (`rule`), a body a legitimate request would send, extra URL values, and whether
    the owner may make the same request (a control that the URL and body are right)."""

    obj: str
    rule: str
    body: dict | Callable[[World], dict] = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    owner_ok: bool = True
    counters: tuple[str, ...] = ()  # fields of the object that a public act counts up

    def __str__(self):
        return self.obj


SHIP = {"carrier": "UPS", "tracking_number": "1Z999"}


def _all_lines(world) -> dict:
    """The buyer's refund form: a reason and every unit of every line."""
    order = world.obj("buyer_order_delivered")
    return {"reason": "Broken", **{f"line_{line.pk}": 1 for line in order.lines.all()}}


REPORT = {"reason": "spam", "text": ""}

# Route name (or pattern, for a route without a name) -> the objects it is walked with.
ROUTES: dict[str, tuple[Case, ...]] = {
    # --- accounts --------------------------------------------------------------------------
    "profile": (Case("profile", PUBLIC),),
    "accounts:profile": (Case("profile", PUBLIC),),
    "accounts:follow": (Case("profile", ACT),),
    "accounts:followers": (Case("profile", PUBLIC),),
    "accounts:following": (Case("profile", PUBLIC),),
    "api:user-detail": (Case("profile", PUBLIC),),
    "api:user-follow": (Case("profile", ACT),),
    # The emailed keys: whoever holds one is its owner; a made-up one does nothing.
    "account_confirm_email": (Case("profile", SECRET, values={"key": "made-up-key"}),),
    "account_reset_password_from_key": (
        Case(
            "profile",
            SECRET,
            body={"password1": "x8!Kq2zLm", "password2": "x8!Kq2zLm"},
            values={"uidb36": "1", "key": "made-up-key"},
        ),
    ),
    # --- payments --------------------------------------------------------------------------
    "payments:card-default": (Case("second_card", OWNER),),
    "payments:card-delete": (Case("card", OWNER),),
    "payment_webhooks:receive": (
        Case(
            "profile",
            SECRET,
            body={"id": "evt_1", "type": "charge.succeeded"},
            values={"provider": "simulated"},
        ),
    ),
    # --- shops -----------------------------------------------------------------------------
    "shops:detail": (Case("shop", PUBLIC), Case("pending_shop", OWNER, owner_ok=False)),
    "shops:product": (Case("product", PUBLIC), Case("draft_product", OWNER, owner_ok=False)),
    # Following the link counts a click: a public act on a public product.
    "shops:external": (
        Case("external_product", ACT, counters=("external_clicks",)),
        Case("draft_product", OWNER, owner_ok=False),
    ),
    "api:shop-detail": (
        Case("shop", PUBLIC, body={"name": "Taken over"}),
        Case("pending_shop", OWNER, body={"name": "Taken over"}),
    ),
    "api:product-detail": (
        Case("product", PUBLIC, body={"title": "Taken over"}),
        Case("draft_product", OWNER, body={"title": "Taken over"}),
    ),
    "api:variant-create": (
        Case("product", OWNER, body={"option1": "XL", "sku": "XL-1", "price": 100, "stock": 1}),
    ),
    "api:image-create": (Case("product", OWNER, owner_ok=False),),
    "api:variant-detail": (Case("second_variant", OWNER, body={"price": 1, "stock": 0}),),
    "api:image-detail": (Case("image", OWNER),),
    "seller:product_edit": (Case("product", OWNER, owner_ok=False),),
    "seller:product_images": (Case("product", OWNER, owner_ok=False),),
    "seller:product_image_delete": (Case("image", OWNER),),
    "seller:product_image_move": (Case("image", OWNER, body={"direction": "up"}),),
    "seller:variant_stock": (Case("variant", OWNER, body={"stock": "0"}),),
    "seller:variant_delete": (Case("second_variant", OWNER),),
    # --- streams ---------------------------------------------------------------------------
    "streams:live": (
        Case("live", PUBLIC),
        Case("scheduled", PUBLIC),
        Case("cancelled", OWNER, owner_ok=False),
    ),
    # The player other sites frame: read by anyone exactly when the live page is.
    "streams:embed": (
        Case("live", PUBLIC),
        Case("scheduled", PUBLIC),
        Case("cancelled", OWNER, owner_ok=False),
    ),
    "streams:remind": (Case("scheduled", ACT, body={"on": "1"}),),
    "streams:console": (
        Case("live", OWNER, body={"action": "end"}),
        Case("scheduled", OWNER, body={"action": "cancel"}),
    ),
    "api:stream-detail": (Case("live", PUBLIC), Case("scheduled", PUBLIC)),
    "api:stream-snapshot": (Case("live", PUBLIC),),
    "api:stream-go-live": (
        Case("scheduled", OWNER, body={"playback_url": "https://cdn.example/b.m3u8"}),
    ),
    "api:stream-end": (Case("live", OWNER),),
    "api:stream-key": (Case("scheduled", OWNER),),
    "api:stream-carousel": (Case("live", OWNER, body={"products": []}),),
    "api:stream-pin": (Case("live", OWNER, body={"product": None}),),
    "api:stream-deals": (
        Case("live", OWNER, body={"product": "$product", "price": 1, "quantity": 5, "seconds": 60}),
    ),
    "api:stream-chat-settings": (
        Case("live", OWNER, body={"slow_mode_seconds": 600, "blocked_words": "buy"}),
    ),
    "api:stream-mutes": (Case("live", OWNER, body={"user": "cyd", "muted": True}),),
    "api:stream-remind": (Case("scheduled", ACT),),
    "api:deal-end": (Case("deal", OWNER),),
    "api:chat-message": (Case("chat", OWNER),),
    # --- orders ----------------------------------------------------------------------------
    "orders:detail": (Case("buyer_order", OWNER),),
    "orders:cancel": (Case("buyer_order", OWNER),),
    "orders:received": (Case("buyer_order_shipped", OWNER),),
    "orders:refund": (Case("buyer_order_delivered", OWNER, body=lambda world: _all_lines(world)),),
    "orders:buy": (Case("product", ACT), Case("draft_product", OWNER, owner_ok=False)),
    "orders:bag-item": (Case("bag_item", OWNER, body={"quantity": "0"}),),
    "orders:bag-remove": (Case("bag_item", OWNER),),
    "orders:address-default": (Case("second_address", OWNER),),
    "orders:address-delete": (Case("address", OWNER),),
    "api:order-detail": (Case("buyer_order", OWNER),),
    "api:order-cancel": (Case("buyer_order", OWNER),),
    "api:order-received": (Case("buyer_order_shipped", OWNER),),
    "api:order-refund-request": (Case("buyer_order_delivered", OWNER, body={"reason": "Broken"}),),
    "api:address-detail": (Case("address", OWNER),),
    "api:address-default": (Case("second_address", OWNER),),
    "api:bag-item": (Case("bag_item", OWNER, body={"quantity": 3}),),
    "api:shop-order-ship": (Case("shop_order", OWNER, body=SHIP),),
    "api:shop-order-cancel": (Case("shop_order", OWNER),),
    "api:shop-order-refund": (Case("shop_order_refund_requested", OWNER, body={"reason": "ok"}),),
    "api:shop-order-reject-refund": (
        Case("shop_order_refund_requested", OWNER, body={"reason": "Used"}),
    ),
    "seller_orders:detail": (Case("shop_order", OWNER),),
    "seller_orders:ship": (
        Case("shop_order", OWNER, body={"ship-carrier": "UPS", "ship-tracking_number": "1Z"}),
    ),
    "seller_orders:deliver": (Case("shop_order_shipped", OWNER),),
    "seller_orders:cancel": (Case("shop_order", OWNER, body={"cancel-reason": "No stock"}),),
    "seller_orders:refund": (
        Case("shop_order_refund_requested", OWNER, body={"refund-reason": "ok"}),
    ),
    "seller_orders:reject_refund": (
        Case("shop_order_refund_requested", OWNER, body={"reject-reason": "Used"}),
    ),
    "seller_orders:live": (Case("live", OWNER),),
    # --- gifting ---------------------------------------------------------------------------
    "gifting:panel": (Case("live", ACT, body={"gift": "$gift", "quantity": "1"}),),
    "gifting:summary": (Case("live", OWNER),),
    "gifting:top": (Case("live", PUBLIC),),
    "api:stream-gifts": (Case("live", ACT, body={"gift": "$gift", "quantity": 1}),),
    "api:payout-detail": (Case("payout", OWNER),),
    # --- moderation ------------------------------------------------------------------------
    "moderation:report": (
        Case("product", ACT, body=REPORT, values={"kind": "product"}),
        Case("live", ACT, body=REPORT, values={"kind": "live"}),
        Case("chat", ACT, body=REPORT, values={"kind": "chat_message"}),
        Case("shop", ACT, body=REPORT, values={"kind": "shop"}),
        Case("profile", ACT, body=REPORT, values={"kind": "user"}),
        # What is not public cannot be reported, nor its text read on the report form.
        Case("draft_product", OWNER, values={"kind": "product"}, owner_ok=False),
        Case("pending_shop", OWNER, values={"kind": "shop"}, owner_ok=False),
        Case("hidden_chat", OWNER, values={"kind": "chat_message"}, owner_ok=False),
    ),
    # Uploads, served by Django only with DEBUG or SERVE_MEDIA: public files.
    "media/<path:path>": (Case("image", FILE),),
}

# Routes that exist only in some configurations (the table may name them when absent).
OPTIONAL_ROUTES = {"media/<path:path>"}

# Admin: each registered model, what to show its pages with, and the staff roles that may
# read it (none may change or delete through these pages: the staff actions are services).
ADMIN_MODELS: dict[str, tuple[str, frozenset[str]]] = {
    "auth.group": ("group", frozenset()),
    "sites.site": ("site", frozenset()),
    "authtoken.tokenproxy": ("token", frozenset()),
    "account.emailaddress": ("email_address", frozenset()),
    "accounts.follow": ("follow", frozenset()),
    "accounts.user": ("profile", frozenset({MODERATORS})),
    "payments.paymentmethod": ("card", frozenset()),
    "payments.webhookevent": ("webhook_event", frozenset()),
    "payments.simulatedcharge": ("simulated_charge", frozenset()),
    "payments.simulatedcard": ("simulated_card", frozenset()),
    "payments.ledgeraccount": ("ledger_account", frozenset({FINANCE})),
    "payments.ledgertransaction": ("ledger_transaction", frozenset({FINANCE})),
    "payments.idempotencykey": ("idempotency_key", frozenset()),
    "shops.shop": ("shop", frozenset({MODERATORS})),
    "shops.product": ("product", frozenset({MODERATORS})),
    "shops.variant": ("variant", frozenset({MODERATORS})),
    "shops.productimage": ("image", frozenset()),
    "shops.category": ("category", frozenset()),
    "streams.stream": ("live", frozenset({MODERATORS})),
    "streams.deal": ("deal", frozenset({MODERATORS})),
    "streams.chatmessage": ("chat", frozenset({MODERATORS})),
    "orders.order": ("buyer_order", frozenset({FINANCE})),
    "orders.address": ("address", frozenset()),
    "gifting.coinpack": ("coin_pack", frozenset()),
    "gifting.coinpurchase": ("coin_purchase", frozenset({FINANCE})),
    "gifting.gift": ("gift", frozenset()),
    "gifting.giftsend": ("gift_send", frozenset({FINANCE})),
    "gifting.earningsstatement": ("statement", frozenset({FINANCE})),
    "gifting.payout": ("payout", frozenset({FINANCE})),
    "moderation.auditentry": ("audit_entry", frozenset({MODERATORS, FINANCE})),
    "moderation.report": ("report", frozenset({MODERATORS})),
}

# Admin routes besides each model's change, delete, history and bare-id pages: the object
# they are walked with, the roles that may open them, and the URL values.
ADMIN_EXTRA: dict[str, tuple[str, frozenset[str], dict]] = {
    "admin:view_on_site": ("product", frozenset({MODERATORS, FINANCE, "staff"}), {}),
    "admin:moderation_user_history": ("profile", frozenset({MODERATORS, FINANCE}), {}),
    "admin:moderation_report_decide": ("product", frozenset({MODERATORS}), {}),
    "admin:auth_user_password_change": ("profile", frozenset(), {}),
    "admin:app_list": ("buyer_order", frozenset({FINANCE}), {}),
    "admin:catch_all": ("buyer_order", frozenset(), {}),
}


# --- the URLconf ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str
    route: str
    pattern: URLPattern

    @property
    def methods(self) -> tuple[str, ...]:
        view = getattr(self.pattern.callback, "view_class", None)
        if view is None:
            return FUNCTION_VIEW_METHODS
        allowed = view.http_method_names
        return tuple(m for m in METHODS if m in allowed and hasattr(view, m))


def _walk(resolver, prefix="", namespace=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        else:
            yield prefix + str(entry.pattern), namespace, entry


def _route_key(route: str, namespace: str, pattern: URLPattern) -> str:
    if route.startswith("admin/"):
        if pattern.name == "app_list":
            return "admin:app_list"
        if route.endswith("(?P<url>.*)$"):
            return "admin:catch_all"
    if pattern.name:
        return f"{namespace}:{pattern.name}" if namespace else pattern.name
    return route


def id_routes() -> list[Route]:
    """Every route of the URLconf with a parameter (a path converter or a regex group)."""
    found = []
    for route, namespace, pattern in _walk(get_resolver()):
        if "<" in route:
            found.append(Route(_route_key(route, namespace, pattern), route, pattern))
    return found


ADMIN_ROUTE = re.compile(
    r"^admin/(?P<app>\w+)/(?P<model>\w+)/<path:object_id>/(?P<kind>change/|delete/|history/|)$"
)


def _admin_model(route: Route) -> tuple[str, str] | None:
    """(model label, kind) for a model's own admin kind with an id, else None."""
    match = ADMIN_ROUTE.match(route.route)
    if match is None:
        return None
    return f"{match['app']}.{match['model']}", match["kind"].rstrip("/") or "bare"


ALL_ROUTES = id_routes()
PAGE_ROUTES = [r for r in ALL_ROUTES if not r.route.startswith("admin/")]
ADMIN_ROUTES = [r for r in ALL_ROUTES if r.route.startswith("admin/")]


def _walk_params():
    for route in PAGE_ROUTES:
        for case in ROUTES.get(route.key, ()):
            for method in route.methods:
                yield pytest.param(route, case, method, id=f"{route.key}[{case}]-{method.upper()}")


def _admin_params():
    for route in ADMIN_ROUTES:
        found = _admin_model(route)
        if found is not None:
            label, kind = found
            if label not in ADMIN_MODELS:
                continue
            obj, viewers = ADMIN_MODELS[label]
        elif route.key in ADMIN_EXTRA:
            kind = route.key
            obj, viewers, _ = ADMIN_EXTRA[route.key]
        else:
            continue
        methods = route.methods
        for method in methods:
            yield pytest.param(
                route, kind, obj, viewers, method, id=f"{route.key}[{obj}]-{method.upper()}"
            )


# --- the table and the URLconf agree -------------------------------------------------------


def test_every_route_with_an_id_is_in_the_table():
    unknown = []
    for route in ALL_ROUTES:
        if route.route.startswith("admin/"):
            found = _admin_model(route)
            known = (found is not None and found[0] in ADMIN_MODELS) or route.key in ADMIN_EXTRA
        else:
            known = route.key in ROUTES
        if not known:
            unknown.append(f"{route.key} ({route.route})")
    assert not unknown, (
        "routes with an id that the permission walk does not know: add each to ROUTES or "
        f"ADMIN_MODELS in {__name__} with the object it is about and who may use it: {unknown}"
    )


def test_the_table_names_no_route_that_is_gone():
    keys = {route.key for route in ALL_ROUTES}
    models = {found[0] for route in ADMIN_ROUTES if (found := _admin_model(route))}
    assert set(ROUTES) - keys <= OPTIONAL_ROUTES
    assert set(ADMIN_EXTRA) <= keys
    assert set(ADMIN_MODELS) == models


def test_the_walk_covers_every_route_and_method():
    walked = {param.values[0].key for param in _walk_params()}
    admin = {param.values[0].key for param in _admin_params()}
    assert walked == {r.key for r in PAGE_ROUTES}
    assert admin == {r.key for r in ADMIN_ROUTES}


# --- the world: A's objects and the people who walk them ------------------------------------


@dataclass
class Owned:
    obj: object
    owner: object
    values: dict


class World:
    """A's objects, each made on first use (a test builds only what its route needs).

    A (ada) is a business account with an approved shop, an address and a card, who hosts
    lives and buys from cyd's shop. cyd buys from ada's shop, chats and sends gifts in her
    live. The walkers: sam (signed in, no shop), rex (a merchant with a shop and a live of
    his own) and a signed-out visitor."""

    def __init__(self):
        self._made = {}
        self.ada = self._buyer(UserFactory(handle="ada", is_business=True))
        ShopFactory(owner=self.ada, handle="adashop")
        self.cyd = self._buyer(UserFactory(handle="cyd", is_business=True))
        ShopFactory(owner=self.cyd, handle="cydshop")
        self.sam = self._buyer(UserFactory(handle="sam"))
        self.rex = self._buyer(UserFactory(handle="rex", is_business=True))
        make_product(ShopFactory(owner=self.rex, handle="rexshop"), "Rex hat", sku="RH")
        self.mug = make_product(self.cyd.shop, "Mug", sku="MG", stock=50)
        self.walkers = [self.sam, self.rex]

    @staticmethod
    def _buyer(user):
        from orders.services import address_add
        from payments.provider_services import payment_method_add

        address_add(
            user=user,
            data={
                "name": user.handle.title(),
                "line1": "1 Main St",
                "city": "Springfield",
                "postal_code": "12345",
                "country": "US",
            },
        )
        payment_method_add(
            user=user, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123"
        )
        return user

    def get(self, name: str) -> Owned:
        if name not in self._made:
            self._made[name] = getattr(self, f"make_{name}")()
        return self._made[name]

    def obj(self, name: str):
        return self.get(name).obj

    def _pk(self, obj, owner=None, **values) -> Owned:
        return Owned(obj, owner or self.ada, {"pk": obj.pk, **values})

    # accounts
    def make_profile(self):
        return Owned(self.ada, self.ada, {"handle": self.ada.handle, "pk": self.ada.pk})

    # payments
    def make_card(self):
        return self._pk(self.ada.payment_methods.get())

    def make_second_card(self):
        from payments.provider_services import payment_method_add

        card = payment_method_add(
            user=self.ada, number="5555555555554444", exp_month=1, exp_year=2041, cvc="321"
        )
        return self._pk(card)

    # shops
    def make_shop(self):
        shop = self.ada.shop
        return Owned(shop, self.ada, {"handle": shop.handle, "pk": shop.pk})

    def make_pending_shop(self):
        from shops.services import shop_open

        pia = UserFactory(handle="pia", is_business=True)
        shop = shop_open(owner=pia, name="Pia's", handle="piashop")
        return Owned(shop, pia, {"handle": shop.handle, "pk": shop.pk})

    def make_product(self):
        return self._pk(make_product(self.ada.shop, "Linen shirt", sku="LS", stock=50))

    def make_draft_product(self):
        return self._pk(make_product(self.ada.shop, "Secret drop", sku="SD", status="draft"))

    def make_external_product(self):
        product = make_product(
            self.ada.shop, "Elsewhere", sku="EW", external_url="https://shop.example/ew"
        )
        return self._pk(product)

    def make_variant(self):
        return self._pk(self.obj("product").variants.get())

    def make_second_variant(self):
        from shops.services import variant_add

        product = self.obj("product")
        variant = variant_add(
            product=product, actor=self.ada, option1="XL", sku="LS-XL", price_minor=2100, stock=3
        )
        return self._pk(variant)

    def make_image(self):
        from shops.services import product_image_add

        upload = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
        image = product_image_add(product=self.obj("product"), actor=self.ada, upload=upload)
        return self._pk(image, path=image.large.name)

    def make_category(self):
        from shops.models import Category

        return self._pk(Category.objects.create(name="Linen", slug="linen"))

    # streams
    def make_scheduled(self):
        from streams.services import stream_schedule

        stream, _ = stream_schedule(
            host=self.ada, title="Next week", scheduled_at=timezone.now() + timedelta(days=7)
        )
        return self._pk(stream, stream_id=stream.pk)

    def make_cancelled(self):
        from streams.services import stream_cancel, stream_schedule

        stream, _ = stream_schedule(
            host=self.ada, title="Called off", scheduled_at=timezone.now() + timedelta(days=2)
        )
        stream_cancel(stream=stream, actor=self.ada)
        return self._pk(stream, stream_id=stream.pk)

    def make_live(self):
        from streams import services

        product = self.obj("product")
        stream, _ = services.stream_schedule(
            host=self.ada, title="Linen drop", scheduled_at=timezone.now()
        )
        services.stream_go_live(
            stream=stream, actor=self.ada, playback_url="https://cdn.example/live.m3u8"
        )
        services.carousel_set(stream=stream, actor=self.ada, product_ids=[product.pk])
        stream.refresh_from_db()
        return self._pk(stream, stream_id=stream.pk)

    def make_deal(self):
        from streams.services import deal_start

        deal = deal_start(
            stream=self.obj("live"),
            actor=self.ada,
            product_id=self.obj("product").pk,
            price_minor=999,
            quantity=5,
            seconds=600,
        )
        return self._pk(deal)

    def make_chat(self):
        from streams.services import chat_send

        return self._pk(chat_send(user=self.cyd, stream_id=self.obj("live").pk, text="hello"))

    def make_hidden_chat(self):
        from streams.services import chat_delete, chat_send

        message = chat_send(user=self.cyd, stream_id=self.obj("live").pk, text="my phone is 555")
        chat_delete(actor=self.ada, message_id=message.pk)
        message.refresh_from_db()
        return self._pk(message)

    # orders
    def _buy(self, buyer, product):
        from orders.services import order_place

        (order,) = order_place(
            buyer=buyer,
            items=[{"variant": product.variants.get().pk, "quantity": 1}],
            checkout_key=uuid.uuid4().hex,
            payment_method="pm_card_ok",
        )
        return order

    def _advance(self, order, *, to: str, shop_owner):
        from orders import services

        if to in ("shipped", "delivered", "refund_requested"):
            services.order_ship(actor=shop_owner, order_id=order.pk, **SHIP)
        if to in ("delivered", "refund_requested"):
            services.order_deliver(actor=order.buyer, order_id=order.pk)
        if to == "refund_requested":
            services.order_request_refund(buyer=order.buyer, order_id=order.pk, reason="Torn")
        order.refresh_from_db()
        return order

    def make_buyer_order(self):
        return self._pk(self._buy(self.ada, self.mug))

    def make_buyer_order_shipped(self):
        order = self._buy(self.ada, self.mug)
        return self._pk(self._advance(order, to="shipped", shop_owner=self.cyd))

    def make_buyer_order_delivered(self):
        order = self._buy(self.ada, self.mug)
        return self._pk(self._advance(order, to="delivered", shop_owner=self.cyd))

    def make_shop_order(self):
        return self._pk(self._buy(self.cyd, self.obj("product")))

    def make_shop_order_shipped(self):
        order = self._buy(self.cyd, self.obj("product"))
        return self._pk(self._advance(order, to="shipped", shop_owner=self.ada))

    def make_shop_order_refund_requested(self):
        order = self._buy(self.cyd, self.obj("product"))
        return self._pk(self._advance(order, to="refund_requested", shop_owner=self.ada))

    def make_address(self):
        return self._pk(self.ada.addresses.get())

    def make_second_address(self):
        from orders.services import address_add

        address = address_add(
            user=self.ada,
            data={
                "name": "Ada at work",
                "line1": "2 Mill Rd",
                "city": "Springfield",
                "postal_code": "12345",
                "country": "US",
            },
        )
        return self._pk(address)

    def make_bag_item(self):
        from orders.services import bag_add

        item = bag_add(user=self.ada, variant_id=self.mug.variants.get().pk)
        return self._pk(item, item_id=item.pk)

    # gifting
    def make_gift(self):
        from gifting.models import Gift

        return self._pk(Gift.objects.create(name="Lion", slug="lion", coins=1000))

    def make_coin_pack(self):
        from gifting.models import CoinPack

        return self._pk(CoinPack.objects.create(coins=20000, price_minor=20000, currency="USD"))

    def make_coin_purchase(self):
        from gifting.services import coins_buy

        purchase = coins_buy(
            buyer=self.cyd,
            pack_id=self.obj("coin_pack").pk,
            checkout_key="coins-1",
            payment_method="pm_card_ok",
        )
        return self._pk(purchase, owner=self.cyd)

    def make_gift_send(self):
        from gifting.services import gift_send

        self.get("coin_purchase")
        sent = gift_send(
            sender=self.cyd,
            stream_id=self.obj("live").pk,
            gift_id=self.obj("gift").pk,
            quantity=10,
            idempotency_key="g-1",
        )
        return self._pk(sent)

    def make_statement(self):
        from gifting.models import EarningsStatement
        from gifting.settlement import earnings_settle

        self.get("gift_send")
        earnings_settle(until=timezone.now() + timedelta(seconds=1))
        return self._pk(EarningsStatement.objects.get(creator=self.ada))

    def make_payout(self):
        from gifting.payouts import payout_request

        self.get("statement")
        payout = payout_request(
            creator=self.ada, amount_minor=2000, destination="acct_ok", idempotency_key="p-1"
        )
        return self._pk(payout)

    # the rows behind them (admin)
    def make_group(self):
        return self._pk(Group.objects.get(name=MODERATORS))

    def make_site(self):
        from django.contrib.sites.models import Site

        return self._pk(Site.objects.get_current())

    def make_token(self):
        from rest_framework.authtoken.models import Token, TokenProxy

        Token.objects.create(user=self.ada)
        # The admin names a token by its user (TokenProxy.pk), never by the secret key.
        return self._pk(TokenProxy.objects.get(user=self.ada))

    def make_email_address(self):
        return self._pk(self.ada.emailaddress_set.get())

    def make_follow(self):
        from accounts.models import Follow
        from accounts.services import user_follow

        user_follow(follower=self.cyd, followee=self.ada)
        return self._pk(Follow.objects.get(follower=self.cyd, followee=self.ada))

    def _first_after(self, build: str, model_label: str, **filters):
        self.get(build)
        model = apps.get_model(model_label)
        return self._pk(model.objects.filter(**filters).order_by("pk").first())

    def make_webhook_event(self):
        from payments.provider_models import WebhookEvent

        event = WebhookEvent.objects.create(
            provider="simulated", event_id="evt_1", type="charge.succeeded", payload={}
        )
        return self._pk(event)

    def make_simulated_charge(self):
        return self._first_after("buyer_order", "payments.SimulatedCharge")

    def make_simulated_card(self):
        return self._first_after("card", "payments.SimulatedCard")

    def make_ledger_account(self):
        return self._first_after("buyer_order", "payments.LedgerAccount")

    def make_ledger_transaction(self):
        return self._first_after("buyer_order", "payments.LedgerTransaction")

    def make_idempotency_key(self):
        from payments.ledger_models import IdempotencyKey

        key = IdempotencyKey.objects.create(
            user=self.ada, scope="orders.place", key="k-1", fingerprint="0" * 64
        )
        return self._pk(key)

    def make_audit_entry(self):
        from moderation.services import shop_decide

        staff = UserFactory(handle="root", is_staff=True, is_superuser=True)
        entry = shop_decide(
            actor=staff,
            shop_id=self.obj("pending_shop").pk,
            decision="approve",
            reason="Looks right",
        )
        return self._pk(entry)

    def make_report(self):
        from moderation.reports import report_create

        report = report_create(
            reporter=self.cyd, target_type="product", target_id=self.obj("product").pk, **REPORT
        )
        return self._pk(report)


@pytest.fixture
def world(db, settings, monkeypatch):
    from streams import realtime

    realtime.reset_local_state()
    if Group.objects.filter(name__in=[MODERATORS, FINANCE]).count() < 2:
        roles_ensure()  # a flushed database (after a transactional test) lost them
    for route in ALL_ROUTES:
        # Uploads (when Django serves them) from this test's MEDIA_ROOT.
        if "document_root" in route.pattern.default_args:
            monkeypatch.setitem(route.pattern.default_args, "document_root", settings.MEDIA_ROOT)
    return World()


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _walkers(world) -> dict[str, Client]:
    return {"sam": _client(world.sam), "rex": _client(world.rex), "anonymous": _client()}


# --- requests and what counts as refused ---------------------------------------------------


def _url(route: Route, values: dict) -> str:
    def value(match):
        name = match.group(1)
        if name not in values and name.endswith("_id"):
            name = "pk"  # item_id, product_id, stream_id: the object's own id
        return str(values[name])

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", value, route.route)  # regex routes
    path = re.sub(r"<(?:\w+:)?(\w+)>", value, path)
    return "/" + path.replace("^", "").replace("$", "")


def _body(world, case: Case) -> dict:
    """The case's body with $names replaced by the pk of the world's object of that name."""
    if callable(case.body):
        return case.body(world)
    return {
        key: world.obj(value[1:]).pk if isinstance(value, str) and value.startswith("$") else value
        for key, value in case.body.items()
    }


def _send(client: Client, method: str, url: str, body: dict):
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if url.startswith("/api/"):
        data = json.dumps(body) if method != "get" else None
        if method == "get":
            return client.get(url, headers=headers)
        return client.generic(
            method.upper(), url, data, content_type="application/json", headers=headers
        )
    if method == "get":
        return client.get(url, headers=headers)
    if method == "post":
        return client.post(url, body, headers=headers)
    return client.generic(
        method.upper(),
        url,
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def _to_login(response, login_url: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(login_url)


def _refused(response, *, anonymous: bool) -> bool:
    if response.status_code in (403, 404, 405):
        return True
    login = resolve_url(settings.LOGIN_URL)
    return anonymous and (response.status_code == 401 or _to_login(response, login))


def _describe(response) -> str:
    where = f" -> {response['Location']}" if response.has_header("Location") else ""
    return f"{response.status_code}{where}"


def fingerprint(walkers=()) -> dict[str, list]:
    """Every row of every table the apps keep, minus the bookkeeping of a request: the
    walkers' own idempotency keys hold the refusal they were given, so that a retry gets the
    same answer (payments.idempotency); they are the walker's rows, not the owner's."""
    from payments.ledger_models import IdempotencyKey

    rows = {}
    for model in apps.get_models():
        opts = model._meta
        if opts.app_label in VOLATILE_APPS or opts.proxy or not opts.managed:
            continue
        fields = [
            f.attname for f in opts.concrete_fields if (opts.label, f.name) not in VOLATILE_FIELDS
        ]
        queryset = model._base_manager.order_by("pk")
        if model is IdempotencyKey:
            queryset = queryset.exclude(user__in=walkers)
        rows[opts.label] = list(queryset.values_list(*fields))
    return rows


def _changed(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after.get(label)]


def _row(obj, ignore=()) -> dict:
    row = type(obj)._base_manager.filter(pk=obj.pk).values().first()
    return {key: value for key, value in row.items() if key not in ignore}


# --- the walk ------------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "case", "method"), list(_walk_params()))
def test_a_route_with_an_id_refuses_whoever_does_not_own_the_object(world, route, case, method):
    owned = world.get(case.obj)
    url = _url(route, {**owned.values, **case.values})
    body = _body(world, case)
    walkers = _walkers(world)
    before = fingerprint(world.walkers)
    row = _row(owned.obj, ignore=case.counters)

    for who, client in walkers.items():
        anonymous = who == "anonymous"
        response = _send(client, method, url, body)
        status = _describe(response)
        assert response.status_code < 500, f"{who}: {method.upper()} {url} -> {status}"
        reads = method == "get"

        if case.rule == OWNER or (case.rule == PUBLIC and not reads):
            assert _refused(response, anonymous=anonymous), (
                f"{who} was not refused {method.upper()} {url} (the {case.obj} of "
                f"@{owned.owner.handle}): {status}"
            )
        elif case.rule == PUBLIC or (case.rule == FILE and reads):
            assert response.status_code == 200, f"{who}: {method.upper()} {url} -> {status}"
        elif case.rule == FILE:
            assert response.status_code == 405, f"{who}: {method.upper()} {url} -> {status}"
        elif case.rule == ACT:
            if anonymous and not reads:
                assert _refused(response, anonymous=True), f"anonymous: {method} {url} {status}"
            # Acting as themselves never changes the owner's object.
            assert _row(owned.obj, ignore=case.counters) == row, (
                f"{who} changed the {case.obj}: {method.upper()} {url}"
            )
            continue

        after = fingerprint(world.walkers)
        assert not _changed(before, after), (
            f"{who} {method.upper()} {url} ({status}) changed {_changed(before, after)}"
        )

    if case.rule == OWNER and case.owner_ok:
        # The control: the owner is not refused the same request (so the URL and body are
        # the ones a legitimate request sends, and the refusals above are about who asks).
        response = _send(_client(owned.owner), method, url, body)
        assert response.status_code not in (400, 401, 403, 404, 405), (
            f"the owner @{owned.owner.handle}: {method.upper()} {url} -> {_describe(response)}"
        )
        assert response.status_code < 500


# --- admin ---------------------------------------------------------------------------------


def _staff(handle: str, role: str | None):
    user = UserFactory(handle=handle, is_staff=True)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def _admin_values(world, kind: str, owned: Owned) -> dict:
    from django.contrib.admin.utils import quote
    from django.contrib.contenttypes.models import ContentType

    obj = owned.obj
    values = {"object_id": quote(obj.pk), "id": obj.pk, "user_id": obj.pk}
    if kind == "admin:view_on_site":
        values["content_type_id"] = ContentType.objects.get_for_model(obj).pk
    if kind == "admin:moderation_report_decide":
        values.update(target_type="product", target_id=obj.pk)
    return values


def _admin_url(route: Route, kind: str, values: dict, obj) -> str:
    if kind == "admin:app_list":
        return f"/admin/{obj._meta.app_label}/"
    if kind == "admin:catch_all":
        return f"/admin/nothing-here/{obj.pk}/"
    return _url(route, values)


def _admin_expected(kind: str, method: str, role: str, viewers: frozenset[str]) -> set[int]:
    """What a staff member in role (a group, or "staff": no group) gets."""
    reads = role in viewers
    if kind == "bare":
        return {302}  # to the change page, which decides
    if kind == "admin:view_on_site":
        return {302, 404}
    if kind == "admin:app_list":
        return {200} if reads else {404}
    if kind == "admin:catch_all":
        return {404}
    if kind in ("change", "history", "admin:moderation_user_history"):
        if method != "get" and kind == "change":
            return {403}
        return {200} if reads else {403}
    if kind == "admin:moderation_report_decide":
        # A reader posting the walk's body gets the form back with its errors.
        return ({200} if method == "get" else {200, 400}) if reads else {403}
    return {403}  # delete, password: no role holds them


@pytest.mark.parametrize(("route", "kind", "obj", "viewers", "method"), list(_admin_params()))
def test_an_admin_route_with_an_id_needs_staff_with_the_permission(
    world, route, kind, obj, viewers, method
):
    owned = world.get(obj)
    values = _admin_values(world, kind, owned)
    if kind in ADMIN_EXTRA:
        values.update(ADMIN_EXTRA[kind][2])
    url = _admin_url(route, kind, values, owned.obj)
    body = {"post": "yes", "decision": "resolve", "reason": "walked"}
    staff = {
        "staff": _staff("stan", None),
        MODERATORS: _staff("mod", MODERATORS),
        FINANCE: _staff("fin", FINANCE),
    }
    before = fingerprint(world.walkers)

    # Not staff, signed in or not: the admin's log-in page, whatever the object.
    for who, client in {"sam": _client(world.sam), "anonymous": _client()}.items():
        response = _send(client, method, url, body)
        assert _to_login(response, "/admin/login/"), f"{who}: {method} {url} {_describe(response)}"

    for role, user in staff.items():
        response = _send(_client(user), method, url, body)
        expected = _admin_expected(kind, method, role, viewers)
        assert response.status_code in expected, (
            f"staff in {role}: {method.upper()} {url} -> {_describe(response)}, "
            f"expected {sorted(expected)}"
        )
    assert not _changed(before, fingerprint(world.walkers))
