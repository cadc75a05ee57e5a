"""Writes for checkout and orders: placing, paying, shipping, cancelling, refunding.

The path of a tap on Buy: order_place checks and prices what was asked (reads only: a
sold-out item is refused here without waiting for any lock), claims the stock and creates
the pending orders (claims.claim, one short transaction), then pays each order through the
provider with no transaction open. A card that succeeds makes the order paid at once; a
declined one cancels it and puts its stock back at once; a delayed one leaves it pending
until the provider's webhook (receivers.py). An order still unpaid at its pay_by time is
cancelled and restocked by orders_release_unpaid (Celery beat).

Money: when an order is paid, one ledger transaction moves its total from the outside
world to the shop, the platform's commission and the creator's affiliate commission; every
refund posts the reverse of its share. Status changes go through order_transition only.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.db.models.functions import Least
from django.utils import timezone

from accounts.models import User
from accounts.permissions import staff_can
from outbox.services import task_enqueue
from payments.errors import DomainError, InvalidPaymentMethod
from payments.ledger import Line, accounts_get, ledger_post
from payments.ledger_models import LedgerAccount
from payments.provider_services import payment_method_resolve
from payments.providers import get_provider
from shops.models import Product, Shop, Variant
from shops.services import announce_stock
from streams import events
from streams.models import Deal, Stream

from . import claims
from .claims import Checkout, LineDraft, OrderDraft
from .errors import (
    AddressNotFound,
    AddressRequired,
    BagItemNotFound,
    DealEnded,
    InvalidOrder,
    InvalidTransition,
    NotForSale,
    NotYourOrder,
    OrderNotFound,
    OutOfStock,
    PaymentDeclined,
    PaymentFailed,
    PriceChanged,
    RefundTooLarge,
)
from .models import ORDER_TRANSITIONS, Address, BagItem, Order, OrderEvent, OrderLine, Refund

log = logging.getLogger(__name__)

MAX_QUANTITY = 99  # units of one variant in one order
MAX_LINES = 50
MAX_ADDRESSES = 20
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")
ADDRESS_LIMITS = {
    "name": 100,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "region": 100,
    "postal_code": 20,
    "country": 2,
    "phone": 30,
}
ADDRESS_REQUIRED = ("name", "line1", "city", "postal_code", "country")


def platform_rate_bp() -> int:
    return int(getattr(settings, "ORDERS_PLATFORM_COMMISSION_BP", 500))


def payment_timeout() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "ORDERS_PAYMENT_TIMEOUT_SECONDS", 15 * 60)))


# --- addresses ----------------------------------------------------------------------------


def _lock_user(user: User) -> None:
    # One user's default address changes one at a time: two "make default" at once would
    # both clear the old one and the partial unique index would refuse the second.
    User.objects.select_for_update(no_key=True).only("pk").get(pk=user.pk)


def _clean_address(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    clean = {}
    for name in ADDRESS_FIELDS:
        value = data.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[name] = ["Text expected."]
            continue
        value = " ".join(value.split())
        if name in ADDRESS_REQUIRED and not value:
            errors[name] = ["This field is required."]
        elif len(value) > ADDRESS_LIMITS[name]:
            errors[name] = [f"At most {ADDRESS_LIMITS[name]} characters."]
        clean[name] = value
    country = clean.get("country", "").upper()
    if "country" not in errors and not (len(country) == 2 and country.isalpha()):
        errors["country"] = ["A two-letter country code, such as US or DE."]
    clean["country"] = country
    if errors:
        raise InvalidOrder("Check the address.", fields=errors)
    return clean


def address_add(*, user: User, data: dict, make_default: bool = False) -> Address:
    """Save a shipping address. The first one is the default whatever make_default says.
    Raises InvalidOrder with a message per field."""
    clean = _clean_address(data)
    with transaction.atomic():
        _lock_user(user)
        if Address.objects.filter(user=user).count() >= MAX_ADDRESSES:
            raise InvalidOrder(f"An account keeps at most {MAX_ADDRESSES} addresses.")
        has_default = Address.objects.filter(user=user, is_default=True).exists()
        if make_default and has_default:
            Address.objects.filter(user=user, is_default=True).update(is_default=False)
        return Address.objects.create(
            user=user, is_default=make_default or not has_default, **clean
        )


def address_set_default(*, user: User, address_id: int) -> Address:
    with transaction.atomic():
        _lock_user(user)
        address = Address.objects.filter(user=user, pk=address_id).first()
        if address is None:
            raise AddressNotFound()
        if not address.is_default:
            Address.objects.filter(user=user, is_default=True).update(is_default=False)
            Address.objects.filter(pk=address.pk).update(is_default=True)
            address.is_default = True
        return address


def address_delete(*, user: User, address_id: int) -> None:
    """Orders keep their own copy of the address, so deleting one changes no order."""
    with transaction.atomic():
        _lock_user(user)
        address = Address.objects.filter(user=user, pk=address_id).first()
        if address is None:
            raise AddressNotFound()
        address.delete()
        if address.is_default:
            successor = Address.objects.filter(user=user).order_by("-created_at", "-pk").first()
            if successor is not None:
                Address.objects.filter(pk=successor.pk).update(is_default=True)


# --- bag ------------------------------------------------------------------------------------


def _check_quantity(quantity, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidOrder(fields={field: ["A whole number of units."]})
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidOrder(fields={field: [f"Between 1 and {MAX_QUANTITY} units."]})
    return quantity


def _buyable_variant(variant_id) -> Variant:
    if isinstance(variant_id, bool) or not isinstance(variant_id, int):
        raise InvalidOrder(fields={"variant": ["A variant id."]})
    variant = Variant.objects.select_related("product__shop").filter(pk=variant_id).first()
    if variant is None or not _for_sale(variant):
        raise NotForSale(fields={"variant": ["This item is not for sale."]})
    return variant


def _for_sale(variant: Variant) -> bool:
    product = variant.product
    return (
        product.status == Product.Status.ACTIVE
        and product.shop.status == Shop.Status.APPROVED
        and not product.external_url
    )


def bag_add(
    *, user: User, variant_id: int, quantity: int = 1, stream_id: int | None = None
) -> BagItem:
    """Put units in the bag (adding to what is there, up to MAX_QUANTITY). Stock is not
    reserved until checkout."""
    _check_quantity(quantity)
    variant = _buyable_variant(variant_id)
    if variant.product.shop.owner_id == user.pk:
        raise NotForSale("You cannot buy from your own shop.")
    stream = Stream.objects.filter(pk=stream_id).only("pk").first() if stream_id else None
    with transaction.atomic():
        item, created = BagItem.objects.get_or_create(
            user=user, variant=variant, defaults={"quantity": quantity, "stream": stream}
        )
        if not created:
            BagItem.objects.filter(pk=item.pk).update(
                quantity=Least(F("quantity") + quantity, MAX_QUANTITY),
                stream=stream or item.stream,
            )
            item.refresh_from_db()
    return item


def bag_set_quantity(*, user: User, item_id: int, quantity: int) -> None:
    """Change a bag line's quantity; 0 removes it. Raises BagItemNotFound for a line that
    is not in the user's bag."""
    if quantity == 0:
        return bag_remove(user=user, item_id=item_id)
    _check_quantity(quantity)
    if not BagItem.objects.filter(user=user, pk=item_id).update(quantity=quantity):
        raise BagItemNotFound()


def bag_remove(*, user: User, item_id: int) -> None:
    deleted, _ = BagItem.objects.filter(user=user, pk=item_id).delete()
    if not deleted:
        raise BagItemNotFound()


# --- placing an order -----------------------------------------------------------------------


def _resolve_address(buyer: User, address_id) -> dict:
    if address_id is None:
        address = Address.objects.filter(user=buyer, is_default=True).first()
        if address is None:
            raise AddressRequired()
        return address.snapshot()
    if isinstance(address_id, bool) or not isinstance(address_id, int):
        raise InvalidOrder(fields={"address": ["An address id."]})
    address = Address.objects.filter(user=buyer, pk=address_id).first()
    if address is None:
        raise AddressNotFound(fields={"address": ["No such address."]})
    return address.snapshot()


def _attribution(stream_id) -> Stream | None:
    if stream_id is None:
        return None
    if isinstance(stream_id, bool) or not isinstance(stream_id, int):
        raise InvalidOrder(fields={"stream": ["A live's id."]})
    stream = Stream.objects.filter(pk=stream_id).only("pk", "host_id", "status").first()
    if stream is None:
        raise InvalidOrder(fields={"stream": ["No such live."]})
    return stream


def _drafts(
    *,
    buyer: User,
    items: list[dict],
    stream: Stream | None,
    address: dict,
    payment: tuple[str, str],
    checkout_key: str,
) -> list[OrderDraft]:
    """Check and price every item; group them into one draft per shop. Reads only: an
    item already sold out is refused here, without waiting for any row lock."""
    if not isinstance(items, list) or not items:
        raise InvalidOrder(fields={"items": ["At least one item."]})
    if len(items) > MAX_LINES:
        raise InvalidOrder(fields={"items": [f"At most {MAX_LINES} items."]})
    wanted: dict[int, dict] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidOrder(fields={"items": [f"Item {index + 1}: an object."]})
        variant_id = item.get("variant")
        if isinstance(variant_id, bool) or not isinstance(variant_id, int):
            raise InvalidOrder(fields={"items": [f"Item {index + 1}: a variant id."]})
        quantity = _check_quantity(item.get("quantity", 1))
        entry = wanted.setdefault(
            variant_id, {"quantity": 0, "deal": item.get("deal"), "price": item.get("price")}
        )
        entry["quantity"] = _check_quantity(entry["quantity"] + quantity)
    variants = {
        v.pk: v for v in Variant.objects.select_related("product__shop").filter(pk__in=list(wanted))
    }
    missing = [pk for pk in wanted if pk not in variants or not _for_sale(variants[pk])]
    if missing:
        raise NotForSale(fields={"items": [f"Variant {pk} is not for sale." for pk in missing]})
    if any(v.product.shop.owner_id == buyer.pk for v in variants.values()):
        raise NotForSale("You cannot buy from your own shop.")

    now = timezone.now()
    product_ids = {v.product_id for v in variants.values()}
    running = {}
    if stream is not None:
        running = {
            deal.product_id: deal
            for deal in Deal.objects.filter(
                stream=stream,
                product_id__in=product_ids,
                status=Deal.Status.ACTIVE,
                ends_at__gt=now,
            )
        }
    asked_deals = {e["deal"] for e in wanted.values() if e["deal"] is not None}
    for deal_id in asked_deals:
        if isinstance(deal_id, bool) or not isinstance(deal_id, int):
            raise InvalidOrder(fields={"items": ["A deal id."]})
        if not any(deal.pk == deal_id for deal in running.values()):
            raise DealEnded()

    by_shop: dict[int, list[LineDraft]] = defaultdict(list)
    shops: dict[int, Shop] = {}
    changed: dict[int, int] = {}
    short: list[int] = []
    deal_units: dict[int, int] = defaultdict(int)
    for variant_id, entry in wanted.items():
        variant = variants[variant_id]
        product = variant.product
        deal = running.get(product.pk)
        price = variant.price_minor
        if deal is not None:
            price = min(price, deal.price_minor)
            deal_units[deal.pk] += entry["quantity"]
        if entry["price"] is not None and entry["price"] != price:
            changed[variant_id] = price
        if variant.stock < entry["quantity"]:
            short.append(variant_id)
        creator_earns = stream is not None and stream.host_id != product.shop.owner_id
        shops[product.shop_id] = product.shop
        by_shop[product.shop_id].append(
            LineDraft(
                variant_id=variant_id,
                product_id=product.pk,
                quantity=entry["quantity"],
                unit_price_minor=price,
                title=product.title,
                variant_title=variant.title if variant.title != "Default" else "",
                sku=variant.sku,
                affiliate_rate_bp=product.affiliate_rate_bp if creator_earns else 0,
                deal_id=deal.pk if deal is not None else None,
            )
        )
    deals_short = [
        pk
        for pk, units in deal_units.items()
        for deal in running.values()
        if deal.pk == pk and deal.remaining < units
    ]
    if deals_short:
        from .errors import DealSoldOut

        raise DealSoldOut(deals_short)
    if short:
        raise OutOfStock(short)
    if changed:
        raise PriceChanged(changed)
    pay_by = now + payment_timeout()
    drafts = []
    for shop_id, lines in sorted(by_shop.items()):
        currency = shops[shop_id].currency
        drafts.append(
            OrderDraft(
                buyer_id=buyer.pk,
                shop_id=shop_id,
                checkout_key=checkout_key,
                currency=currency,
                shipping_address=address,
                payment_method=payment[0],
                payment_provider=payment[1],
                pay_by=pay_by,
                platform_rate_bp=platform_rate_bp(),
                lines=sorted(lines, key=lambda line: line.variant_id),
                stream_id=stream.pk if stream is not None else None,
                creator_id=stream.host_id if stream is not None else None,
            )
        )
    return drafts


def _check_key(checkout_key) -> str:
    if not isinstance(checkout_key, str) or not 1 <= len(checkout_key) <= 120:
        raise InvalidOrder(fields={"checkout_key": ["A checkout key of 1 to 120 characters."]})
    return checkout_key


def order_place(
    *,
    buyer: User,
    items: list[dict],
    checkout_key: str,
    stream_id: int | None = None,
    address_id: int | None = None,
    payment_method: str | None = None,
    one_shop: bool = False,
) -> list[Order]:
    """Buy now: claim the items' stock, create one order per shop and pay each.

    items: [{"variant": id, "quantity": n, "deal": id?, "price": minor?}]. price, when
    given, is what the buyer saw: another current price raises PriceChanged. A running
    flash deal of the live (stream_id) applies its price and takes from its quantity;
    naming a deal that is not running raises DealEnded. The default address and card
    are used when none is given.

    Returns the orders: paid, or pending_payment for a payment that completes by webhook.
    Raises OutOfStock / DealSoldOut (nothing claimed), PaymentDeclined (the orders are
    cancelled and their stock is back), InvalidOrder and others for bad input.
    The same checkout_key returns the orders it made the first time.
    The caller holds no transaction: payment calls go over the network."""
    checkout_key = _check_key(checkout_key)
    existing = list(Order.objects.filter(buyer=buyer, checkout_key=checkout_key).order_by("pk"))
    if existing:
        return _pay_all(existing, retry=True)
    stream = _attribution(stream_id)
    address = _resolve_address(buyer, address_id)
    payment = payment_method_resolve(user=buyer, payment_method=payment_method)
    drafts = _drafts(
        buyer=buyer,
        items=items,
        stream=stream,
        address=address,
        payment=payment,
        checkout_key=checkout_key,
    )
    if one_shop and len(drafts) > 1:
        raise InvalidOrder(
            "An order is from one shop; check out a bag for several.",
            fields={"items": ["Items from more than one shop."]},
        )
    try:
        orders = claims.claim(Checkout(drafts=drafts))
    except IntegrityError:
        # A retry of this checkout raced its first attempt, which made the orders.
        return list(Order.objects.filter(buyer=buyer, checkout_key=checkout_key).order_by("pk"))
    return _pay_all(orders)


def _pay_all(orders: list[Order], *, retry: bool = False) -> list[Order]:
    """Pay each shop's order of a checkout. On a retry of the checkout (retry=True), only
    the orders whose first attempt stopped before it knew the payment's answer (its
    process was killed) are paid, the others are left as they are. Asking the provider
    again is safe: it answers an authorization or a capture it has seen with its first
    answer (idempotency keys order:<id>:authorize, …:capture), so nothing is charged twice,
    and the transitions are compare-and-set."""
    for index, order in enumerate(orders):
        pending = order.status == Order.Status.PENDING_PAYMENT
        try:
            if not retry or (pending and order.payment_state == Order.PaymentState.NONE):
                order_pay(order=order)
            elif pending and order.payment_state == Order.PaymentState.AUTHORIZED:
                order_capture(order_id=order.pk)
        except DomainError:
            # One shop's payment failed: its order and those not yet paid for give their
            # stock back at once instead of holding it until their pay-by time. Those
            # already paid stay paid (each shop's order is a payment of its own).
            rest = Order.objects.filter(
                pk__in=[o.pk for o in orders[index:]], status=Order.Status.PENDING_PAYMENT
            )
            for pk in rest.order_by("pk").values_list("pk", flat=True):
                with contextlib.suppress(InvalidTransition):
                    order_cancel(order_id=pk, actor=None, reason="checkout_failed")
            raise
    return [Order.objects.get(pk=order.pk) for order in orders]


def bag_checkout(
    *,
    buyer: User,
    checkout_key: str,
    address_id: int | None = None,
    payment_method: str | None = None,
) -> list[Order]:
    """Check out the whole bag: one order per shop, all claimed together or none. The bag
    is emptied of what was ordered. Same errors as order_place."""
    items = list(BagItem.objects.filter(user=buyer).order_by("pk"))
    if not items:
        existing = list(Order.objects.filter(buyer=buyer, checkout_key=checkout_key))
        if existing:
            return existing
        raise InvalidOrder(fields={"items": ["Your bag is empty."]})
    streams = {item.stream_id for item in items if item.stream_id}
    try:
        return order_place(
            buyer=buyer,
            items=[{"variant": item.variant_id, "quantity": item.quantity} for item in items],
            checkout_key=checkout_key,
            # A bag filled in one live is attributed to it; a mixed bag to none.
            stream_id=streams.pop() if len(streams) == 1 else None,
            address_id=address_id,
            payment_method=payment_method,
        )
    finally:
        # What was bought leaves the bag, also when another shop's payment failed, so
        # that checking out again never buys it twice.
        bought = OrderLine.objects.filter(
            order__buyer=buyer,
            order__checkout_key=checkout_key,
            order__status=Order.Status.PAID,
        ).values_list("variant_id", flat=True)
        BagItem.objects.filter(pk__in=[item.pk for item in items], variant_id__in=bought).delete()


def after_claim(*, checkouts: list[Checkout]) -> None:
    """Once a claim has committed (or inside the caller's transaction, for a claim made
    in one): announce the new stock to the lives, and end the deals the claim sold out."""
    product_ids = sorted({line.product_id for c in checkouts for d in c.drafts for line in d.lines})
    deal_ids = sorted(
        {line.deal_id for c in checkouts for d in c.drafts for line in d.lines if line.deal_id}
    )
    announce_stock(product_ids=product_ids)
    if deal_ids:
        # Until the deal is ended here, a buyer after its last unit is refused by the deal's
        # own count (DealSoldOut): it can never sell past its quantity.
        deals_end_sold_out(deal_ids=deal_ids)


def deals_end_sold_out(*, deal_ids: Iterable[int]) -> int:
    """End the running deals that have no units left, or whose product has no stock."""
    from streams.services import deal_end

    ended = 0
    running = Deal.objects.filter(pk__in=list(deal_ids), status=Deal.Status.ACTIVE).annotate(
        stock=Sum("product__variants__stock")
    )
    for deal in running:
        if deal.sold >= deal.quantity or (deal.stock or 0) <= 0:
            ended += deal_end(deal_id=deal.pk, reason="sold_out")
    return ended


# --- payment --------------------------------------------------------------------------------


def order_pay(*, order: Order) -> Order:
    """Take the payment of a pending order through its provider. The caller holds no
    transaction. Succeeded: the order is paid. Pending: it waits for the webhook.
    Declined: the order is cancelled with its stock back, and PaymentDeclined raised."""
    provider = get_provider(order.payment_provider)
    try:
        result = provider.authorize(
            amount_minor=order.total_minor,
            currency=order.currency,
            payment_method=order.payment_method,
            idempotency_key=f"order:{order.pk}:authorize",
            metadata={"order": order.pk},
        )
    except DomainError as exc:
        order_cancel(order_id=order.pk, actor=None, reason="payment_failed", void=False)
        if isinstance(exc, InvalidPaymentMethod):
            raise
        raise PaymentFailed() from exc
    if result.status == "declined":
        Order.objects.filter(pk=order.pk).update(
            payment_ref=result.provider_ref,
            payment_state=Order.PaymentState.DECLINED,
            payment_message=result.message[:200],
        )
        order_cancel(order_id=order.pk, actor=None, reason="payment_declined", void=False)
        raise PaymentDeclined(result.message or None)
    if result.status == "failed":
        order_cancel(order_id=order.pk, actor=None, reason="payment_failed", void=False)
        raise PaymentFailed()
    state = (
        Order.PaymentState.PENDING if result.status == "pending" else Order.PaymentState.AUTHORIZED
    )
    Order.objects.filter(pk=order.pk, payment_state=Order.PaymentState.NONE).update(
        payment_ref=result.provider_ref, payment_state=state, payment_message=result.message[:200]
    )
    if state == Order.PaymentState.AUTHORIZED:
        order_capture(order_id=order.pk)
    return order


def order_capture(*, order_id: int) -> bool:
    """Capture an authorized order's payment and mark it paid. Safe to run twice (the
    provider call is idempotent on its key; the transition is a compare-and-set). An order
    cancelled meanwhile (its pay-by time passed) gets its authorization voided instead.
    The caller holds no transaction."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.payment_state != Order.PaymentState.AUTHORIZED:
        return False
    provider = get_provider(order.payment_provider)
    if order.status != Order.Status.PENDING_PAYMENT:
        if order.status == Order.Status.CANCELLED:
            order_payment_void(order_id=order.pk)
        return False
    result = provider.capture(
        provider_ref=order.payment_ref,
        amount_minor=order.total_minor,
        idempotency_key=f"order:{order.pk}:capture",
    )
    if not result.succeeded:
        log.warning("capture of order %s answered %s", order.pk, result.status)
        return False
    return order_mark_paid(order_id=order.pk)


def order_mark_paid(*, order_id: int) -> bool:
    """The payment is captured: pending_payment → paid, post the money to the ledger,
    announce it. Returns whether this call made the change. If the order was cancelled
    meanwhile (released at its pay-by time), the captured money goes back to the buyer."""
    with transaction.atomic():
        Order.objects.filter(pk=order_id).update(payment_state=Order.PaymentState.CAPTURED)
        changed = _transition(order_id, Order.Status.PAID, actor=None, kind="paid")
        if changed:
            Order.objects.filter(pk=order_id).update(paid_at=timezone.now())
            order = (
                Order.objects.select_related("shop", "buyer")
                .prefetch_related("lines")
                .get(pk=order_id)
            )
            _post_paid(order)
            _announce_paid(order)
    if not changed:
        order = Order.objects.get(pk=order_id)
        if order.status == Order.Status.CANCELLED:
            _refund_money(order=order, amount_minor=order.total_minor, key="late-capture")
    return changed


def order_payment_void(*, order_id: int) -> None:
    """Release the authorization (or pending payment) of a cancelled order, or give back
    what was captured. No money stays with Tapbuy for an order that does not exist."""
    order = Order.objects.get(pk=order_id)
    if not order.payment_ref or order.payment_state in (
        Order.PaymentState.DECLINED,
        Order.PaymentState.VOIDED,
    ):
        return
    provider = get_provider(order.payment_provider)
    if order.payment_state == Order.PaymentState.CAPTURED:
        _refund_money(order=order, amount_minor=order.total_minor, key="late-capture")
        return
    try:
        provider.void(provider_ref=order.payment_ref, idempotency_key=f"order:{order.pk}:void")
    except DomainError:
        log.warning("could not void the payment of order %s", order.pk, exc_info=True)
        return
    Order.objects.filter(pk=order.pk).update(payment_state=Order.PaymentState.VOIDED)


def _refund_money(*, order: Order, amount_minor: int, key: str) -> str:
    provider = get_provider(order.payment_provider)
    result = provider.refund(
        provider_ref=order.payment_ref,
        amount_minor=amount_minor,
        idempotency_key=f"order:{order.pk}:refund:{key}",
    )
    if not result.succeeded:
        raise PaymentFailed("The refund could not be processed; try again.")
    return result.provider_ref


# --- the ledger -----------------------------------------------------------------------------


def _accounts(order: Order, roles: set[str]) -> dict[str, LedgerAccount]:
    """The ledger accounts an order's money moves between, by role: one query when they
    exist, created on first use."""
    currency = order.currency
    specs = {
        "external": {
            "code": f"external:card:{order.payment_provider}:{currency}",
            "kind": LedgerAccount.Kind.EXTERNAL,
            "allow_negative": True,
        },
        "merchant": {
            "code": f"merchant:payable:shop:{order.shop_id}:{currency}",
            "kind": LedgerAccount.Kind.MERCHANT,
            "owner": User(pk=order.shop.owner_id),
        },
        "platform": {
            "code": f"platform:commission:{currency}",
            "kind": LedgerAccount.Kind.PLATFORM,
        },
        "creator": {
            "code": f"earnings:affiliate:user:{order.creator_id}:{currency}",
            "kind": LedgerAccount.Kind.EARNINGS,
            "owner": User(pk=order.creator_id),
            # Settlement moves its balance to the creator's settled earnings; a refund
            # after that takes back commission already settled, netted at the next one.
            "allow_negative": True,
        },
    }
    # Every sale of a flash deal credits these accounts: they keep no cached balance, so a
    # posting appends entries and never waits for a hot row.
    wanted = {role: {"unit": currency, "track_balance": False, **specs[role]} for role in roles}
    found = accounts_get(list(wanted.values()))
    return {role: found[spec["code"]] for role, spec in wanted.items()}


def commission_split(*, amount_minor: int, platform_bp: int, affiliate_bp: int) -> tuple[int, int]:
    """(platform, affiliate) commissions of an amount, rounded down; the shop gets the
    remainder, so the three always add up to the amount."""
    platform = amount_minor * platform_bp // 10_000
    affiliate = amount_minor * affiliate_bp // 10_000
    return platform, affiliate


def _shares(order: Order, amounts: dict[int, int]) -> tuple[int, int]:
    """Commissions of these line amounts {line id: amount}."""
    platform = affiliate = 0
    rates = {line.pk: line.affiliate_rate_bp for line in order.lines.all()}
    for line_id, amount in amounts.items():
        p, a = commission_split(
            amount_minor=amount,
            platform_bp=order.platform_rate_bp,
            affiliate_bp=rates[line_id] if order.creator_id else 0,
        )
        platform += p
        affiliate += a
    return platform, affiliate


def _post(
    order: Order, *, kind: str, key: str, total: int, platform: int, affiliate: int, sign: int
):
    amounts = {
        "external": -total,
        "merchant": total - platform - affiliate,
        "platform": platform,
        "creator": affiliate if order.creator_id else 0,
    }
    amounts = {role: amount for role, amount in amounts.items() if amount}
    accounts = _accounts(order, set(amounts))
    lines = [Line(accounts[role], sign * amount) for role, amount in amounts.items()]
    if len(lines) >= 2:
        ledger_post(kind=kind, key=key, lines=lines, memo=f"{order.reference}")


def _post_paid(order: Order) -> None:
    amounts = {line.pk: line.total_minor for line in order.lines.all()}
    platform, affiliate = _shares(order, amounts)
    # Shipping, when there is any, is the shop's, without commission.
    _post(
        order,
        kind="order.paid",
        key=f"order:{order.pk}:paid",
        total=order.total_minor,
        platform=platform,
        affiliate=affiliate,
        sign=1,
    )


def _email_later(order_id: int, what: str) -> None:
    """Queue the emails about an order through the outbox: they are sent once the current
    transaction (if any) commits, also when the broker is down at that moment."""
    task_enqueue(task="orders.emails", kwargs={"order_id": order_id, "what": what})


def _announce_paid(order: Order) -> None:
    first_line = next(iter(order.lines.all()), None)
    if order.stream_id and first_line is not None:
        events.publish(
            order.stream_id,
            "order.placed",
            {
                "buyer": (order.buyer.display_name or order.buyer.handle).split()[0][:30],
                "product": {"id": first_line.product_id, "title": first_line.title},
                "quantity": first_line.quantity,
            },
        )
    _email_later(order.pk, "paid")


# --- status changes -------------------------------------------------------------------------


def _transition(
    order_id: int,
    to: str,
    *,
    actor: User | None,
    kind: str = "",
    note: str = "",
    amount_minor=None,
    sources=None,
) -> bool:
    """Compare-and-set the status along ORDER_TRANSITIONS and record it. Returns False
    when the order is in no state that may become `to`."""
    allowed = [s for s, targets in ORDER_TRANSITIONS.items() if to in targets]
    if sources is not None:
        allowed = [s for s in allowed if s in sources]
    current = Order.objects.filter(pk=order_id).values_list("status", flat=True).first()
    if current is None or current not in allowed:
        return False
    with transaction.atomic():
        if not Order.objects.filter(pk=order_id, status=current).update(status=to):
            return False
        OrderEvent.objects.create(
            order_id=order_id,
            kind=kind or to,
            from_status=current,
            to_status=to,
            actor=actor,
            note=note[:500],
            amount_minor=amount_minor,
        )
    return True


def order_transition(*, order_id: int, to: str, actor: User | None, note: str = "") -> None:
    """Move an order along the transition table, or raise InvalidTransition."""
    if not _transition(order_id, to, actor=actor, note=note):
        raise InvalidTransition()


def _restock(order: Order) -> None:
    """Put an order's units back, variants in primary-key order; a deal that is still
    running gets its units back too."""
    lines = list(order.lines.order_by("variant_id"))
    for line in lines:
        Variant.objects.filter(pk=line.variant_id).update(stock=F("stock") + line.quantity)
    for line in lines:
        if line.deal_id:
            Deal.objects.filter(
                pk=line.deal_id, status=Deal.Status.ACTIVE, sold__gte=line.quantity
            ).update(sold=F("sold") - line.quantity)
    announce_stock(product_ids=[line.product_id for line in lines])


def _get_for_buyer(buyer: User, order_id: int) -> Order:
    order = Order.objects.filter(pk=order_id, buyer=buyer).first()
    if order is None:
        raise OrderNotFound()
    return order


def _get_for_shop(actor: User, order_id: int) -> Order:
    order = Order.objects.select_related("shop").filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound()
    if order.shop.owner_id != actor.pk and not staff_can(actor, "refund_order"):
        raise NotYourOrder()
    return order


def order_cancel(
    *, order_id: int, actor: User | None, reason: str = "cancelled", void: bool = True
) -> Order:
    """pending_payment | paid → cancelled, with the stock back. A paid order's money is
    refunded in full (and the ledger reversed); a pending payment is voided. The caller
    holds no transaction. Raises InvalidTransition once the order has shipped."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("shop").get(pk=order_id)
        was = order.status
        if not _transition(
            order_id, Order.Status.CANCELLED, actor=actor, kind="cancelled", note=reason
        ):
            raise InvalidTransition("Only an order that has not shipped can be cancelled.")
        Order.objects.filter(pk=order_id).update(
            cancel_reason=reason[:40], closed_at=timezone.now()
        )
        _restock(order)
        if was == Order.Status.PAID:
            amounts = {line.pk: line.total_minor for line in order.lines.all()}
            platform, affiliate = _shares(order, amounts)
            _post(
                order,
                kind="order.cancelled",
                key=f"order:{order.pk}:cancelled",
                total=order.total_minor,
                platform=platform,
                affiliate=affiliate,
                sign=-1,
            )
            Order.objects.filter(pk=order_id).update(refunded_minor=order.total_minor)
    if was == Order.Status.PAID:
        _refund_money(order=order, amount_minor=order.total_minor, key="cancel")
        _email_later(order.pk, "cancelled")
    elif void and order.payment_ref:
        order_payment_void(order_id=order.pk)
    order.refresh_from_db()
    return order


def order_cancel_by_buyer(*, buyer: User, order_id: int) -> Order:
    order = _get_for_buyer(buyer, order_id)
    return order_cancel(order_id=order.pk, actor=buyer, reason="buyer")


def order_cancel_by_shop(*, actor: User, order_id: int, reason: str = "") -> Order:
    order = _get_for_shop(actor, order_id)
    return order_cancel(order_id=order.pk, actor=actor, reason=reason or "shop")


def orders_release_unpaid(*, now=None, limit: int = 500) -> int:
    """Cancel the orders still unpaid at their pay-by time and put their stock back (Celery
    beat runs it every minute). An authorized payment whose capture was interrupted is
    captured instead. Safe to run twice and beside anything: each release is a
    compare-and-set."""
    now = now or timezone.now()
    released = 0
    due = Order.objects.filter(status=Order.Status.PENDING_PAYMENT, pay_by__lte=now).order_by(
        "pay_by"
    )[:limit]
    for order_id, state in due.values_list("pk", "payment_state"):
        if state == Order.PaymentState.AUTHORIZED:
            order_capture(order_id=order_id)
            continue
        try:
            order_cancel(order_id=order_id, actor=None, reason="payment_timeout")
            released += 1
        except InvalidTransition:
            pass  # paid or cancelled meanwhile
    return released


def order_ship(*, actor: User, order_id: int, carrier: str, tracking_number: str) -> Order:
    """paid → shipped, with the carrier and tracking number the buyer sees."""
    order = _get_for_shop(actor, order_id)
    carrier = " ".join(str(carrier or "").split())
    tracking_number = "".join(str(tracking_number or "").split())
    errors = {}
    if not 1 <= len(carrier) <= 60:
        errors["carrier"] = ["The carrier's name (1 to 60 characters)."]
    if not 1 <= len(tracking_number) <= 60 or not tracking_number.isprintable():
        errors["tracking_number"] = ["The tracking number (1 to 60 characters)."]
    if errors:
        raise InvalidOrder(fields=errors)
    with transaction.atomic():
        if not _transition(
            order.pk, Order.Status.SHIPPED, actor=actor, note=f"{carrier} {tracking_number}"
        ):
            raise InvalidTransition("Only a paid order can be shipped.")
        Order.objects.filter(pk=order.pk).update(
            carrier=carrier, tracking_number=tracking_number, shipped_at=timezone.now()
        )
        _email_later(order.pk, "shipped")
    order.refresh_from_db()
    return order


def order_deliver(*, actor: User, order_id: int) -> Order:
    """shipped → delivered: the buyer confirms receipt, or the shop marks it."""
    order = Order.objects.select_related("shop").filter(pk=order_id).first()
    if order is None or (
        order.buyer_id != actor.pk
        and order.shop.owner_id != actor.pk
        and not staff_can(actor, "refund_order")
    ):
        raise OrderNotFound()
    with transaction.atomic():
        if not _transition(order.pk, Order.Status.DELIVERED, actor=actor):
            raise InvalidTransition("Only a shipped order can be marked delivered.")
        Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now())
    order.refresh_from_db()
    return order


# --- refunds --------------------------------------------------------------------------------


def _refund_lines(order: Order, lines) -> dict[int, int]:
    """{line id: quantity} checked against what is left to refund of each line. None means
    every unit not yet refunded."""
    left = {line.pk: line.quantity - line.refunded_quantity for line in order.lines.all()}
    if lines is None:
        chosen = {pk: n for pk, n in left.items() if n}
    else:
        if not isinstance(lines, dict) or not lines:
            raise InvalidOrder(fields={"lines": ["Name the lines and units to refund."]})
        chosen = {}
        for key, quantity in lines.items():
            try:
                line_id = int(key)
            except (TypeError, ValueError):
                raise InvalidOrder(
                    fields={"lines": [f"{key!r} is not a line of this order."]}
                ) from None
            if line_id not in left:
                raise InvalidOrder(fields={"lines": [f"{line_id} is not a line of this order."]})
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                raise InvalidOrder(
                    fields={"lines": ["Refund at least one unit of each line named."]}
                )
            if quantity > left[line_id]:
                raise RefundTooLarge(
                    f"Line {line_id} has {left[line_id]} unit(s) left to refund.",
                    fields={"lines": [f"At most {left[line_id]} unit(s) of line {line_id}."]},
                )
            chosen[line_id] = quantity
    if not chosen:
        raise RefundTooLarge("Everything in this order was already refunded.")
    return chosen


def order_request_refund(
    *, buyer: User, order_id: int, reason: str, lines: dict | None = None
) -> Refund:
    """delivered → refund_requested: the buyer asks for some or all units back."""
    order = _get_for_buyer(buyer, order_id)
    reason = " ".join(str(reason or "").split())
    if not 1 <= len(reason) <= 500:
        raise InvalidOrder(fields={"reason": ["Say why (1 to 500 characters)."]})
    chosen = _refund_lines(order, lines)
    amount = _lines_amount(order, chosen)
    with transaction.atomic():
        if not _transition(
            order.pk,
            Order.Status.REFUND_REQUESTED,
            actor=buyer,
            note=reason,
            amount_minor=amount,
        ):
            raise InvalidTransition("A refund can be requested once the order is delivered.")
        Order.objects.filter(pk=order.pk).update(refund_reason=reason)
        refund = Refund.objects.create(
            order=order,
            status=Refund.Status.REQUESTED,
            amount_minor=amount,
            lines={str(k): v for k, v in chosen.items()},
            reason=reason,
            requested_by=buyer,
        )
    return refund


def _lines_amount(order: Order, chosen: dict[int, int]) -> int:
    prices = dict(order.lines.values_list("pk", "unit_price_minor"))
    return sum(prices[line_id] * quantity for line_id, quantity in chosen.items())


def order_refund(
    *, actor: User, order_id: int, lines: dict | None = None, reason: str = ""
) -> Refund:
    """The shop (or staff) refunds some units of a delivered order, or approves the
    buyer's request (lines None: what was requested, else everything left). The money
    goes back through the provider and the ledger reverses the shares of those units.
    Raises RefundTooLarge past what was paid and not yet refunded."""
    order = _get_for_shop(actor, order_id)
    request = order.refunds.filter(status=Refund.Status.REQUESTED).first()
    if lines is None and request is not None:
        lines = {int(k): v for k, v in request.lines.items()}
    chosen = _refund_lines(order, lines)
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("shop").get(pk=order.pk)
        # Checked again under the lock: two refunds at once must not both pass.
        chosen = _refund_lines(order, chosen)
        amount = _lines_amount(order, chosen)
        if amount > order.refundable_minor:
            raise RefundTooLarge()
        if not _transition(
            order.pk,
            Order.Status.REFUNDED,
            actor=actor,
            kind="refunded",
            note=reason,
            amount_minor=amount,
        ):
            raise InvalidTransition("Only a delivered order can be refunded.")
        before = {line.pk: line.refunded_minor for line in order.lines.all()}
        prices = dict(order.lines.values_list("pk", "unit_price_minor"))
        for line_id, quantity in sorted(chosen.items()):
            OrderLine.objects.filter(pk=line_id).update(
                refunded_quantity=F("refunded_quantity") + quantity,
                refunded_minor=F("refunded_minor") + prices[line_id] * quantity,
            )
        Order.objects.filter(pk=order.pk).update(
            refunded_minor=F("refunded_minor") + amount, closed_at=timezone.now()
        )
        # Reverse the commissions as the difference of the shares before and after, so
        # that refunding everything in parts reverses exactly what was posted.
        after = {pk: before[pk] + prices[pk] * chosen.get(pk, 0) for pk in before}
        p_before, a_before = _shares(order, before)
        p_after, a_after = _shares(order, after)
        if request is not None:
            Refund.objects.filter(pk=request.pk).update(
                status=Refund.Status.REFUNDED, decided_by=actor, decided_at=timezone.now()
            )
            refund = request
        else:
            refund = Refund.objects.create(
                order=order,
                status=Refund.Status.REFUNDED,
                amount_minor=amount,
                lines={str(k): v for k, v in chosen.items()},
                reason=reason[:500],
                requested_by=actor,
                decided_by=actor,
                decided_at=timezone.now(),
            )
        _post(
            order,
            kind="order.refunded",
            key=f"order:{order.pk}:refund:{refund.pk}",
            total=amount,
            platform=p_after - p_before,
            affiliate=a_after - a_before,
            sign=-1,
        )
    ref = _refund_money(order=order, amount_minor=amount, key=str(refund.pk))
    Refund.objects.filter(pk=refund.pk).update(provider_ref=ref, amount_minor=amount)
    _email_later(order.pk, "refunded")
    refund.refresh_from_db()
    return refund


def order_reject_refund(*, actor: User, order_id: int, reason: str) -> Refund:
    """refund_requested → refund_rejected, with the shop's reason."""
    order = _get_for_shop(actor, order_id)
    reason = " ".join(str(reason or "").split())
    if not 1 <= len(reason) <= 500:
        raise InvalidOrder(fields={"reason": ["Say why (1 to 500 characters)."]})
    with transaction.atomic():
        if not _transition(order.pk, Order.Status.REFUND_REJECTED, actor=actor, note=reason):
            raise InvalidTransition("There is no refund request to reject.")
        request = order.refunds.filter(status=Refund.Status.REQUESTED).first()
        Refund.objects.filter(pk=request.pk).update(
            status=Refund.Status.REJECTED, decided_by=actor, decided_at=timezone.now()
        )
    request.refresh_from_db()
    return request
