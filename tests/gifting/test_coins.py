"""Buying coins: the wallet is credited once, only when the payment is captured, and every
purchase is one balanced ledger transaction (the conftest hook checks the whole ledger)."""

import pytest
from django.db import IntegrityError, transaction

from gifting import selectors, services
from gifting.errors import CoinPackNotFound, PaymentDeclined, PaymentMethodRequired
from gifting.models import CoinPurchase, Gift
from payments.errors import InvalidPaymentMethod
from payments.ledger_models import LedgerAccount, LedgerEntry, LedgerTransaction
from payments.provider_models import SimulatedCharge
from payments.providers.simulated import simulated_webhook_send
from payments.signals import payment_failed
from tests.factories import UserFactory


def balances() -> dict[str, int]:
    """Each account's balance from its entries, by code."""
    totals: dict[str, int] = {}
    for code, amount in LedgerEntry.objects.values_list("account__code", "amount"):
        totals[code] = totals.get(code, 0) + amount
    return totals


def buy(buyer, pack, key="tap-1", **kwargs):
    return services.coins_buy(buyer=buyer, pack_id=pack.pk, checkout_key=key, **kwargs)


def test_buying_a_pack_credits_its_coins_once_in_one_balanced_posting(buyer, packs):
    purchase = buy(buyer, packs[350])
    assert (purchase.status, purchase.payment_state) == ("paid", "captured")
    assert (purchase.coins, purchase.price_minor, purchase.currency) == (350, 499, "USD")
    assert purchase.paid_at is not None
    assert selectors.wallet_balance(user=buyer) == 350

    (txn,) = LedgerTransaction.objects.all()
    assert (txn.kind, txn.key) == ("coins.purchased", f"coins:{purchase.pk}:paid")
    assert balances() == {
        "platform:coins:issued": -350,
        f"wallet:coins:user:{buyer.pk}": 350,
        "external:card:simulated:USD": -499,
        "platform:coin-sales:USD": 499,
    }
    wallet = LedgerAccount.objects.get(code=f"wallet:coins:user:{buyer.pk}")
    assert (wallet.kind, wallet.unit, wallet.owner_id) == ("wallet", "COIN", buyer.pk)
    assert wallet.track_balance and not wallet.allow_negative
    issued = LedgerAccount.objects.get(code="platform:coins:issued")
    assert issued.allow_negative and not issued.track_balance

    # A retried capture or a webhook arriving twice credits nothing more.
    assert services.coin_purchase_mark_paid(purchase_id=purchase.pk) is False
    assert services.coin_purchase_capture(purchase_id=purchase.pk) is False
    assert selectors.wallet_balance(user=buyer) == 350
    assert LedgerTransaction.objects.count() == 1
    charge = SimulatedCharge.objects.get(ref=purchase.payment_ref)
    assert (charge.amount_minor, charge.amount_captured) == (499, 499)


def test_purchases_add_up_and_the_history_is_newest_first(buyer, packs):
    first = buy(buyer, packs[70], "a")
    second = buy(buyer, packs[700], "b")
    assert selectors.wallet_balance(user=buyer) == 770
    history = selectors.wallet_history(user=buyer)
    assert [(e.amount, e.transaction.kind) for e in history] == [
        (700, "coins.purchased"),
        (70, "coins.purchased"),
    ]
    assert [p.pk for p in selectors.coin_purchases_for(buyer=buyer)] == [second.pk, first.pk]


def test_the_same_checkout_key_twice_makes_one_purchase_and_one_charge(buyer, packs):
    first = buy(buyer, packs[70], "same")
    again = buy(buyer, packs[70], "same")
    assert again.pk == first.pk
    assert CoinPurchase.objects.count() == 1
    assert SimulatedCharge.objects.count() == 1
    assert selectors.wallet_balance(user=buyer) == 70


def test_a_declined_card_credits_nothing(buyer, packs):
    with pytest.raises(PaymentDeclined) as caught:
        buy(buyer, packs[350], payment_method="pm_card_declined")
    assert caught.value.status == 402
    purchase = CoinPurchase.objects.get()
    assert (purchase.status, purchase.payment_state) == ("failed", "declined")
    assert selectors.wallet_balance(user=buyer) == 0
    assert not LedgerEntry.objects.exists()
    # Its key answers with the failed purchase; a new key may try again.
    assert buy(buyer, packs[350]).status == "failed"
    assert buy(buyer, packs[350], "tap-2").status == "paid"


def test_a_delayed_card_credits_only_when_its_webhook_arrives(
    asgi_server, settings, buyer, packs, scheduled
):
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    purchase = buy(buyer, packs[700], payment_method="pm_card_delayed")
    assert (purchase.status, purchase.payment_state) == ("pending_payment", "pending")
    assert selectors.wallet_balance(user=buyer) == 0
    assert not LedgerEntry.objects.exists()
    assert scheduled == [(purchase.payment_ref,)]

    assert simulated_webhook_send(charge_ref=purchase.payment_ref)
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_state) == ("paid", "captured")
    assert selectors.wallet_balance(user=buyer) == 700
    # The same webhook again is a replay: nothing more is credited.
    SimulatedCharge.objects.filter(ref=purchase.payment_ref).update(webhook_sent_at=None)
    assert simulated_webhook_send(charge_ref=purchase.payment_ref)
    assert selectors.wallet_balance(user=buyer) == 700
    assert LedgerTransaction.objects.count() == 1


def test_a_delayed_payment_that_fails_credits_nothing(buyer, packs, scheduled):
    purchase = buy(buyer, packs[70], payment_method="pm_card_delayed")
    with transaction.atomic():
        payment_failed.send(
            sender="simulated",
            provider_ref=purchase.payment_ref,
            amount_minor=99,
            currency="USD",
            event_id="evt_test_failed",
            decline_code="card_declined",
        )
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_state) == ("failed", "declined")
    assert services.coin_purchase_capture(purchase_id=purchase.pk) is False
    assert selectors.wallet_balance(user=buyer) == 0


def test_a_pack_not_on_sale_is_not_found(buyer, packs):
    with pytest.raises(CoinPackNotFound):
        buy(buyer, packs["retired"])
    with pytest.raises(CoinPackNotFound):
        services.coins_buy(buyer=buyer, pack_id=999_999, checkout_key="k")
    assert not CoinPurchase.objects.exists()


def test_buying_needs_a_card_of_ones_own(buyer, packs):
    stranger = UserFactory(handle="stranger")
    with pytest.raises(PaymentMethodRequired):
        buy(stranger, packs[70])
    own_card = buyer.payment_methods.get()
    with pytest.raises(InvalidPaymentMethod):
        buy(stranger, packs[70], payment_method=own_card.token)
    with pytest.raises(InvalidPaymentMethod):
        buy(stranger, packs[70], payment_method=str(own_card.pk))
    assert buy(stranger, packs[70], payment_method="pm_card_ok").status == "paid"
    assert buy(buyer, packs[70], payment_method=str(own_card.pk)).status == "paid"


def test_a_gift_costs_between_1_and_30000_coins(db):
    Gift.objects.create(name="Lion", slug="lion", coins=30_000)
    for coins in (0, 30_001):
        with pytest.raises(IntegrityError), transaction.atomic():
            Gift.objects.create(name="Bad", slug=f"bad-{coins}", coins=coins)
