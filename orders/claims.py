"""Claiming stock: the one place where orders take units from variants and flash deals.

A claim reserves stock and creates the checkout's pending orders in one transaction, with
conditional UPDATEs that can never take stock below zero or a deal past its quantity (no
read-then-write). What makes it hold a crowd is batching: when many buyers in one process
claim at the same moment, one of them (the leader) gathers what the others asked for
during a short window and claims it all in one transaction: one UPDATE per variant and
per deal for the whole batch, one multi-row INSERT of the orders and one of their lines.
A hot variant's row is locked once per batch instead of once per buyer, so the lock is
held across far fewer round trips (bench/flash_sale.py measures it).

When a batch's total does not fit (the last units of a deal), the batch is claimed again
buyer by buyer, first come first served, each in its own savepoint, so that every buyer
gets exactly what was left for them and the rest get OutOfStock.

Callers see none of this: claim(checkout) returns the created orders or raises.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from config.combining import Combiner
from shops.models import Variant
from streams.models import Deal

from .errors import CheckoutBusy, DealEnded, DealSoldOut, OutOfStock
from .models import Order, OrderEvent, OrderLine

log = logging.getLogger(__name__)


@dataclass
class LineDraft:
    variant_id: int
    product_id: int
    quantity: int
    unit_price_minor: int
    title: str
    variant_title: str = ""
    sku: str = ""
    affiliate_rate_bp: int = 0
    deal_id: int | None = None


@dataclass
class OrderDraft:
    """One order of a checkout, checked and priced, not yet claimed."""

    buyer_id: int
    shop_id: int
    checkout_key: str
    currency: str
    shipping_address: dict
    payment_method: str
    payment_provider: str
    pay_by: datetime
    platform_rate_bp: int
    lines: list[LineDraft]
    stream_id: int | None = None
    creator_id: int | None = None
    shipping_minor: int = 0

    @property
    def subtotal_minor(self) -> int:
        return sum(line.unit_price_minor * line.quantity for line in self.lines)

    def to_order(self) -> Order:
        return Order(
            buyer_id=self.buyer_id,
            shop_id=self.shop_id,
            checkout_key=self.checkout_key,
            currency=self.currency,
            subtotal_minor=self.subtotal_minor,
            shipping_minor=self.shipping_minor,
            total_minor=self.subtotal_minor + self.shipping_minor,
            shipping_address=self.shipping_address,
            payment_method=self.payment_method,
            payment_provider=self.payment_provider,
            pay_by=self.pay_by,
            platform_rate_bp=self.platform_rate_bp,
            stream_id=self.stream_id,
            creator_id=self.creator_id,
        )


@dataclass
class Checkout:
    """What one buyer's tap asks for: one order per shop, all or nothing."""

    drafts: list[OrderDraft]
    # Filled by the claim: the created orders, in the drafts' order.
    orders: list[Order] = field(default_factory=list)

    def demand(self) -> tuple[dict[int, int], dict[int, int]]:
        variants: dict[int, int] = defaultdict(int)
        deals: dict[int, int] = defaultdict(int)
        for draft in self.drafts:
            for line in draft.lines:
                variants[line.variant_id] += line.quantity
                if line.deal_id:
                    deals[line.deal_id] += line.quantity
        return variants, deals


class _Shortfall(Exception):
    """Inside a batch: the batch's total does not fit; claim buyer by buyer."""


# --- the conditional updates -------------------------------------------------------------


def _take(variants: dict[int, int], deals: dict[int, int], now: datetime) -> Exception | None:
    """Take these units, deals first then variants, each in primary-key order (so two
    batches never wait on each other in a cycle). Returns the refusal for the first that
    does not fit, having taken nothing only if the caller rolls back its savepoint."""
    for deal_id in sorted(deals):
        quantity = deals[deal_id]
        taken = Deal.objects.filter(
            pk=deal_id,
            status=Deal.Status.ACTIVE,
            ends_at__gt=now,
            sold__lte=F("quantity") - quantity,
        ).update(sold=F("sold") + quantity)
        if not taken:
            running = Deal.objects.filter(
                pk=deal_id, status=Deal.Status.ACTIVE, ends_at__gt=now
            ).exists()
            return DealSoldOut([deal_id]) if running else DealEnded()
    for variant_id in sorted(variants):
        quantity = variants[variant_id]
        if not Variant.objects.filter(pk=variant_id, stock__gte=quantity).update(
            stock=F("stock") - quantity
        ):
            return OutOfStock([variant_id])
    return None


def _insert(checkouts: list[Checkout]) -> None:
    """Create the orders, their lines and their first event: three INSERTs in all."""
    orders = [draft.to_order() for checkout in checkouts for draft in checkout.drafts]
    Order.objects.bulk_create(orders)
    lines, events = [], []
    position = 0
    for checkout in checkouts:
        checkout.orders = orders[position : position + len(checkout.drafts)]
        for draft, order in zip(checkout.drafts, checkout.orders, strict=True):
            events.append(
                OrderEvent(
                    order=order,
                    kind="placed",
                    to_status=Order.Status.PENDING_PAYMENT,
                    actor_id=draft.buyer_id,
                    amount_minor=order.total_minor,
                )
            )
            lines += [
                OrderLine(
                    order=order,
                    product_id=line.product_id,
                    variant_id=line.variant_id,
                    deal_id=line.deal_id,
                    title=line.title[:200],
                    variant_title=line.variant_title[:200],
                    sku=line.sku,
                    unit_price_minor=line.unit_price_minor,
                    quantity=line.quantity,
                    affiliate_rate_bp=line.affiliate_rate_bp,
                )
                for line in draft.lines
            ]
        position += len(checkout.drafts)
    OrderLine.objects.bulk_create(lines)
    OrderEvent.objects.bulk_create(events)


def _claim_batch(checkouts: list[Checkout]) -> tuple[list[Exception | None], list[Checkout]]:
    """Claim every checkout of the batch in one transaction. Returns, per checkout, None
    (its orders are in checkout.orders) or the refusal, and the checkouts claimed. The
    caller holds no transaction when there are several checkouts."""
    now = timezone.now()
    outcomes: list[Exception | None] = [None] * len(checkouts)
    with transaction.atomic():
        claimed: list[Checkout] = []
        try:
            with transaction.atomic():
                variants: dict[int, int] = defaultdict(int)
                deals: dict[int, int] = defaultdict(int)
                for checkout in checkouts:
                    wanted_variants, wanted_deals = checkout.demand()
                    for key, value in wanted_variants.items():
                        variants[key] += value
                    for key, value in wanted_deals.items():
                        deals[key] += value
                refusal = _take(variants, deals, now)
                if refusal is not None:
                    raise _Shortfall(refusal)
                _insert(checkouts)
                claimed = list(checkouts)
        except _Shortfall as shortfall:
            if len(checkouts) == 1:
                return [shortfall.args[0]], []
            # The last units: refuse at once, by a plain read that waits for no lock,
            # everyone the units left cannot serve in arrival order; claim the others
            # together, or one by one if the rows changed meanwhile.
            _refuse_beyond(checkouts, outcomes, now)
            claimed = _claim_together(checkouts, outcomes, now)
            if claimed is None:
                claimed = _claim_one_by_one(checkouts, outcomes, now)
        except IntegrityError:
            claimed = _claim_one_by_one(checkouts, outcomes, now)
    return outcomes, claimed


def _left(variant_ids, deal_ids, now: datetime) -> tuple[dict[int, int], dict[int, int]]:
    """Units left per variant and per running deal, by plain reads: under PostgreSQL's
    MVCC a read never waits for a row lock, so this answers at once however busy the
    row is. A deal that is not running has 0 left."""
    stock = dict(Variant.objects.filter(pk__in=list(variant_ids)).values_list("pk", "stock"))
    deals: dict[int, int] = {}
    if deal_ids:
        deals = {
            pk: quantity - sold
            for pk, quantity, sold in Deal.objects.filter(
                pk__in=list(deal_ids), status=Deal.Status.ACTIVE, ends_at__gt=now
            ).values_list("pk", "quantity", "sold")
        }
    return stock, deals


def _refusal(checkout: Checkout, stock: dict[int, int], deals: dict[int, int]) -> Exception | None:
    """Why what is left cannot serve this checkout, or None; takes its units from the
    counts when it can."""
    variants, wanted_deals = checkout.demand()
    for deal_id, quantity in wanted_deals.items():
        if deal_id not in deals:
            return DealEnded()
        if deals[deal_id] < quantity:
            return DealSoldOut([deal_id])
    short = [pk for pk, quantity in variants.items() if stock.get(pk, 0) < quantity]
    if short:
        return OutOfStock(short)
    for deal_id, quantity in wanted_deals.items():
        deals[deal_id] -= quantity
    for pk, quantity in variants.items():
        stock[pk] -= quantity
    return None


def _refuse_beyond(checkouts: list[Checkout], outcomes: list[Exception | None], now) -> None:
    variant_ids, deal_ids = set(), set()
    for checkout in checkouts:
        variants, deals = checkout.demand()
        variant_ids |= set(variants)
        deal_ids |= set(deals)
    stock, deals = _left(variant_ids, deal_ids, now)
    for index, checkout in enumerate(checkouts):
        outcomes[index] = _refusal(checkout, stock, deals)


def _claim_together(
    checkouts: list[Checkout], outcomes: list[Exception | None], now: datetime
) -> list[Checkout] | None:
    """Claim every checkout not yet refused in one go (in a savepoint); None when their
    total no longer fits."""
    chosen = [c for c, outcome in zip(checkouts, outcomes, strict=True) if outcome is None]
    if not chosen:
        return []
    variants: dict[int, int] = defaultdict(int)
    deals: dict[int, int] = defaultdict(int)
    for checkout in chosen:
        wanted_variants, wanted_deals = checkout.demand()
        for key, value in wanted_variants.items():
            variants[key] += value
        for key, value in wanted_deals.items():
            deals[key] += value
    try:
        with transaction.atomic():
            refusal = _take(variants, deals, now)
            if refusal is not None:
                raise _Shortfall(refusal)
            _insert(chosen)
    except (_Shortfall, IntegrityError):
        return None
    return chosen


def _claim_one_by_one(
    checkouts: list[Checkout], outcomes: list[Exception | None], now: datetime
) -> list[Checkout]:
    """First come, first served: each buyer takes what still fits, or is refused. Runs in
    the batch's transaction, each buyer in a savepoint."""
    claimed = []
    for index, checkout in enumerate(checkouts):
        if outcomes[index] is not None:
            continue  # already refused
        try:
            with transaction.atomic():
                variants, deals = checkout.demand()
                refusal = _take(variants, deals, now)
                if refusal is not None:
                    raise refusal
                _insert([checkout])
                claimed.append(checkout)
        except (OutOfStock, DealEnded) as exc:
            outcomes[index] = exc
        except IntegrityError as exc:
            # The same checkout key already made its orders (a retry that raced its first
            # attempt): the caller finds and returns them.
            outcomes[index] = exc
    return claimed


def _announce(claimed: list[Checkout]) -> None:
    from .services import after_claim  # services imports this module

    if not claimed:
        return
    try:
        after_claim(checkouts=claimed)
    except Exception:
        # The orders are made and answered: a failed announcement must not turn them into
        # errors. The deal sweep and the next stock change catch up.
        log.exception("announcing %d claimed checkouts failed", len(claimed))


# --- batching across the threads of a process ------------------------------------------


CLAIM_WAIT_SECONDS = 30
BATCH_MAX = 200


def batch_window() -> float:
    return float(getattr(settings, "ORDERS_CLAIM_BATCH_WINDOW", 0.002))


def claim(checkout: Checkout) -> list[Order]:
    """Reserve the checkout's stock and create its pending orders, all or nothing.
    Raises OutOfStock, DealSoldOut or DealEnded, having changed nothing; IntegrityError
    when this checkout key already made its orders.

    The caller holds no transaction (a caller inside one, such as a test, is claimed
    alone, in that transaction): a claim may be made on another thread's connection.

    Sold-out answers do not queue behind the row locks of the buyers being served: the
    caller refuses what is already sold out by a plain read (order_place does), and a
    batch that does not fit refuses at once, by a plain read, those it cannot serve."""
    if connection.in_atomic_block or not getattr(settings, "ORDERS_CLAIM_BATCHING", True):
        outcomes, claimed = _claim_batch([checkout])
        _announce(claimed)
        if outcomes[0] is not None:
            raise outcomes[0]
    else:
        _combiner.submit(checkout)
    return checkout.orders


# Flat combining (config.combining): the first buyer to arrive leads a batch on its own
# connection and tells the lives about the new stock once everyone has their answer.
_combiner: Combiner[Checkout] = Combiner(
    _claim_batch,
    window=batch_window,
    busy=CheckoutBusy,
    batch_max=BATCH_MAX,
    wait_seconds=CLAIM_WAIT_SECONDS,
    after=_announce,
)
