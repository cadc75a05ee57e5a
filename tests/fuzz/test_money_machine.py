"""The money as a Hypothesis state machine on PostgreSQL: buyers fund wallets, buy, gift,
retry with the same idempotency key (the first answer, nothing moves twice) or with the
key and another body (refused), cancel, get refunds; the host's earnings settle and are
paid out. Every step goes through the services the API calls, the money-moving ones
through payments.idempotency as the API wraps them, with the simulated card provider.

After every step: the ledger balances per unit, no balance is below zero where none may
be, each cached balance is the sum of its entries (payments.ledger.ledger_problems), each
wallet holds what its owner bought less what they gave, and each variant's stock plus
what is sold equals what was received. FUZZ_EXAMPLES / FUZZ_STEPS size the run."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
)

from config.errors import DomainError
from gifting import payouts, selectors
from gifting import services as gifting_services
from gifting.models import CoinPack, Gift, Payout
from gifting.settlement import earnings_settle
from orders import services as orders_services
from orders.models import Order, OrderLine
from payments.errors import IdempotencyKeyReused
from payments.idempotency import idempotent
from payments.ledger import ledger_problems
from payments.ledger_models import LedgerAccount, LedgerEntry
from shops.models import Variant
from streams import realtime
from streams import services as streams_services
from tests.factories import ShopFactory, UserFactory, make_product
from tests.fuzz.conftest import fuzz_examples, fuzz_steps, on_air, with_card_and_address

pytestmark = pytest.mark.postgres

CARDS = ["pm_card_ok", "pm_card_ok", "pm_card_declined"]
STOCK = 6
_names = itertools.count(1)


class MoneyMachine(RuleBasedStateMachine):
    """One marketplace per example, made in a savepoint of the test's transaction and
    rolled back at its end."""

    requests = Bundle("requests")
    orders = Bundle("orders")
    payouts_ = Bundle("payouts")

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()
        realtime.reset_local_state()
        n = next(_names)
        self.seller = UserFactory(handle=f"seller{n}", is_business=True)
        shop = ShopFactory(handle=f"shop{n}", owner=self.seller)
        products = [
            make_product(
                shop, "Shirt", sku="S", price_minor=1999, stock=STOCK, affiliate_rate_bp=1000
            ),
            make_product(shop, "Mug", sku="M", price_minor=333, stock=STOCK, affiliate_rate_bp=333),
        ]
        self.variants = [p.variants.get().pk for p in products]
        self.received = dict.fromkeys(self.variants, STOCK)
        self.host = UserFactory(handle=f"host{n}", is_business=True)
        self.live = on_air(self.host, "Money live")
        streams_services.carousel_set(
            stream=self.live, actor=self.host, product_ids=[p.pk for p in products]
        )
        self.buyers = []
        for i in range(2):
            buyer = UserFactory(handle=f"buyer{n}x{i}")
            with_card_and_address(buyer)
            self.buyers.append(buyer)
        self.staff = UserFactory(handle=f"staff{n}", is_staff=True, is_superuser=True)
        self.packs = [
            CoinPack.objects.create(coins=coins, price_minor=price, currency="USD")
            for coins, price in [(70, 99), (1400, 1999), (7000, 9999)]
        ]
        self.gifts = [
            Gift.objects.create(name=f"Rose {n}", slug=f"rose-{n}", coins=1),
            Gift.objects.create(name=f"Lion {n}", slug=f"lion-{n}", coins=500),
        ]
        self.coins = {buyer.pk: 0 for buyer in self.buyers}
        self.keys = itertools.count(1)

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    # --- helpers ---------------------------------------------------------------------------

    def _once(self, *, user, scope: str, payload: dict, action) -> dict:
        """Like the API: the service under an idempotency key. Remembers the request so
        that it can be retried."""
        key = f"k{next(self.keys)}"
        status, body = idempotent(user=user, scope=scope, key=key, payload=payload, action=action)
        return {
            "user": user,
            "scope": scope,
            "key": key,
            "payload": payload,
            "answer": (status, body),
        }

    @staticmethod
    def _movement() -> tuple[int, int]:
        return LedgerEntry.objects.count(), Order.objects.count()

    # --- rules -----------------------------------------------------------------------------

    @rule(
        target=requests,
        buyer=st.integers(0, 1),
        pack=st.integers(0, 2),
        card=st.sampled_from(CARDS),
    )
    def buy_coins(self, buyer, pack, card):
        user, pack = self.buyers[buyer], self.packs[pack]

        def buy():
            purchase = gifting_services.coins_buy(
                buyer=user, pack_id=pack.pk, payment_method=card, checkout_key=f"c{next(self.keys)}"
            )
            return 201, {"id": purchase.pk, "status": purchase.status}

        made = self._once(
            user=user,
            scope="gifting.coins",
            payload={"pack": pack.pk, "payment_method": card},
            action=buy,
        )
        status, body = made["answer"]
        if card == "pm_card_ok":
            assert (status, body["status"]) == (201, "paid")
            self.coins[user.pk] += pack.coins
        else:
            assert status == 402
        return made

    @rule(
        target=requests,
        buyer=st.integers(0, 1),
        variant=st.integers(0, 1),
        quantity=st.integers(1, 4),
        in_live=st.booleans(),
        card=st.sampled_from(CARDS),
    )
    def buy_product(self, buyer, variant, quantity, in_live, card):
        user = self.buyers[buyer]
        payload = {
            "items": [{"variant": self.variants[variant], "quantity": quantity}],
            "stream": self.live.pk if in_live else None,
            "payment_method": card,
        }

        def place():
            (order,) = orders_services.order_place(
                buyer=user,
                items=payload["items"],
                checkout_key=f"o{next(self.keys)}",
                stream_id=payload["stream"],
                payment_method=card,
                one_shop=True,
            )
            return 201, {"id": order.pk, "status": order.status}

        made = self._once(user=user, scope="orders.place", payload=payload, action=place)
        status, body = made["answer"]
        assert status in (201, 402, 409), made["answer"]
        if card == "pm_card_declined":
            assert status != 201
        return made

    @rule(
        target=requests,
        buyer=st.integers(0, 1),
        gift=st.integers(0, 1),
        quantity=st.integers(1, 30),
    )
    def send_gift(self, buyer, gift, quantity):
        user, gift = self.buyers[buyer], self.gifts[gift]
        payload = {"gift": gift.pk, "quantity": quantity}

        def send():
            sent = gifting_services.gift_send(
                sender=user,
                stream_id=self.live.pk,
                gift_id=gift.pk,
                quantity=quantity,
                idempotency_key=f"g{next(self.keys)}",
            )
            return 201, {"id": sent.pk, "coins": sent.coins}

        made = self._once(user=user, scope="gifting.gift", payload=payload, action=send)
        status, body = made["answer"]
        cost = gift.coins * quantity
        if cost <= self.coins[user.pk]:
            assert status == 201, made["answer"]
            assert body["coins"] == cost
            self.coins[user.pk] -= cost
        else:
            assert status == 402, made["answer"]
        return made

    @rule(made=requests)
    def retry_the_same(self, made):
        before = self._movement()
        again = idempotent(
            user=made["user"],
            scope=made["scope"],
            key=made["key"],
            payload=made["payload"],
            action=lambda: pytest.fail("a retry ran the work again"),
        )
        assert again == made["answer"]
        assert self._movement() == before

    @rule(made=requests, change=st.integers(1, 3))
    def retry_with_another_body(self, made, change):
        before = self._movement()
        payload = {**made["payload"], "changed": change}
        with pytest.raises(IdempotencyKeyReused):
            idempotent(
                user=made["user"],
                scope=made["scope"],
                key=made["key"],
                payload=payload,
                action=lambda: pytest.fail("a changed retry ran the work"),
            )
        assert self._movement() == before

    @rule(target=orders, made=requests)
    def keep_order(self, made):
        status, body = made["answer"]
        if made["scope"] != "orders.place" or status != 201:
            return multiple()
        return body["id"]

    @rule(order=orders)
    def cancel(self, order):
        owner = Order.objects.get(pk=order).buyer
        cancellable = Order.objects.get(pk=order).status in (
            Order.Status.PENDING_PAYMENT,
            Order.Status.PAID,
        )
        try:
            orders_services.order_cancel_by_buyer(buyer=owner, order_id=order)
        except DomainError:
            assert not cancellable
        else:
            assert cancellable

    @rule(order=orders)
    def ship_and_deliver(self, order):
        found = Order.objects.get(pk=order)
        if found.status != Order.Status.PAID:
            return
        orders_services.order_ship(
            actor=self.seller, order_id=order, carrier="UPS", tracking_number="1Z"
        )
        orders_services.order_deliver(actor=found.buyer, order_id=order)

    @rule(order=orders, units=st.integers(1, 4), everything=st.booleans())
    def refund(self, order, units, everything):
        found = Order.objects.get(pk=order)
        if found.status not in (Order.Status.DELIVERED, Order.Status.REFUNDED):
            return
        line = found.lines.get()
        lines = None if everything else {str(line.pk): units}
        left = line.quantity - line.refunded_quantity
        payload = {"lines": lines, "reason": "fuzz"}

        def refund():
            made = orders_services.order_refund(
                actor=self.seller, order_id=order, lines=lines, reason="fuzz"
            )
            return 200, {"id": made.pk}

        made = self._once(user=self.seller, scope="orders.refund", payload=payload, action=refund)
        status, _ = made["answer"]
        fits = left > 0 and (everything or units <= left)
        assert status == (200 if fits else 409), made["answer"]

    @rule()
    def settle(self):
        earnings_settle(until=timezone.now() + timedelta(seconds=1))

    @rule(target=payouts_, amount=st.integers(1000, 6000))
    def ask_payout(self, amount):
        settled = selectors_settled(self.host)
        made = self._once(
            user=self.host,
            scope="gifting.payout",
            payload={"amount": amount, "destination": "acct_ok"},
            action=lambda: (
                201,
                {
                    "id": payouts.payout_request(
                        creator=self.host,
                        amount_minor=amount,
                        destination="acct_ok",
                        idempotency_key=f"p{next(self.keys)}",
                    ).pk
                },
            ),
        )
        status, body = made["answer"]
        if amount <= settled:
            assert status == 201, made["answer"]
            return body["id"]
        assert status == 409, made["answer"]
        return multiple()

    @rule(payout=consumes(payouts_), pay=st.booleans())
    def decide_payout(self, payout, pay):
        if pay:
            payouts.payout_approve(payout_id=payout, actor=self.staff, reason="ok")
            # The task that approval enqueues after commit; here, its service directly.
            payouts.payout_execute(payout_id=payout)
            assert Payout.objects.get(pk=payout).status == Payout.Status.PAID
        else:
            payouts.payout_reject(payout_id=payout, actor=self.staff, reason="no")

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def the_ledger_is_sound(self):
        assert ledger_problems() == []
        negative = LedgerAccount.objects.filter(
            allow_negative=False, track_balance=True, balance__lt=0
        )
        assert not negative.exists()

    @invariant()
    def wallets_hold_what_was_bought_less_what_was_given(self):
        for buyer in self.buyers:
            assert selectors.wallet_balance(user=buyer) == self.coins[buyer.pk]

    @invariant()
    def stock_plus_sold_is_what_was_received(self):
        sold = dict(
            OrderLine.objects.filter(variant_id__in=self.variants)
            .exclude(order__status=Order.Status.CANCELLED)
            .values("variant_id")
            .annotate(n=Sum("quantity"))
            .values_list("variant_id", "n")
        )
        stock = dict(Variant.objects.filter(pk__in=self.variants).values_list("pk", "stock"))
        for pk in self.variants:
            assert stock[pk] >= 0
            assert stock[pk] + sold.get(pk, 0) == self.received[pk]


def selectors_settled(host) -> int:
    account = LedgerAccount.objects.filter(code=f"earnings:settled:user:{host.pk}:USD").first()
    return account.balance if account is not None else 0


MoneyMachine.TestCase.settings = settings(
    max_examples=fuzz_examples(10),
    stateful_step_count=fuzz_steps(30),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_money_holds_through_any_sequence_of_steps(db):
    MoneyMachine.TestCase("runTest").runTest()
