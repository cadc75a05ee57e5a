"""Refunding a coin purchase: the coins leave the wallet before the money goes back, so
coins bought with refunded money can never be spent."""

import pytest
from django.utils import timezone

from config.errors import NotAllowed
from gifting import selectors, services
from gifting.errors import CoinRefundNotAllowed, CoinsAlreadySpent, NotEnoughCoins
from gifting.models import CoinPurchase, Gift
from payments.ledger_models import LedgerTransaction
from payments.provider_models import SimulatedCharge
from streams import services as streams_services


def buy(buyer, pack, key="tap-1"):
    return services.coins_buy(buyer=buyer, pack_id=pack.pk, checkout_key=key)


def test_a_refund_takes_the_coins_back_then_refunds_the_card(buyer, packs, staff):
    purchase = buy(buyer, packs[350])
    refunded = services.coin_purchase_refund(purchase_id=purchase.pk, actor=staff)
    assert (refunded.status, refunded.payment_state) == ("refunded", "refunded")
    assert selectors.wallet_balance(user=buyer) == 0
    charge = SimulatedCharge.objects.get(ref=purchase.payment_ref)
    assert charge.amount_refunded == charge.amount_captured == 499
    assert LedgerTransaction.objects.filter(key=f"coins:{purchase.pk}:refunded").exists()
    with pytest.raises(CoinRefundNotAllowed):
        services.coin_purchase_refund(purchase_id=purchase.pk, actor=staff)
    assert SimulatedCharge.objects.get(ref=purchase.payment_ref).amount_refunded == 499


def test_refunded_coins_cannot_be_sent_as_a_gift(buyer, packs, staff, host):
    stream, _ = streams_services.stream_schedule(
        host=host, title="Glazing day", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(stream=stream, actor=host, playback_url="https://x.example/a")
    lion = Gift.objects.create(name="Lion", slug="lion", coins=350)
    purchase = buy(buyer, packs[350])
    services.coin_purchase_refund(purchase_id=purchase.pk, actor=staff)
    with pytest.raises(NotEnoughCoins):
        services.gift_send(
            sender=buyer, stream_id=stream.pk, gift_id=lion.pk, quantity=1, idempotency_key="g"
        )


def test_coins_already_spent_cannot_be_refunded_and_nothing_changes(buyer, packs, staff, host):
    stream, _ = streams_services.stream_schedule(
        host=host, title="Glazing day", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(stream=stream, actor=host, playback_url="https://x.example/a")
    rose = Gift.objects.create(name="Rose", slug="rose", coins=1)
    purchase = buy(buyer, packs[70])
    services.gift_send(
        sender=buyer, stream_id=stream.pk, gift_id=rose.pk, quantity=1, idempotency_key="g"
    )
    with pytest.raises(CoinsAlreadySpent):
        services.coin_purchase_refund(purchase_id=purchase.pk, actor=staff)
    assert CoinPurchase.objects.get(pk=purchase.pk).status == "paid"
    assert selectors.wallet_balance(user=buyer) == 69
    assert SimulatedCharge.objects.get(ref=purchase.payment_ref).amount_refunded == 0


def test_only_staff_refund(buyer, packs, viewer):
    purchase = buy(buyer, packs[70])
    with pytest.raises(NotAllowed):
        services.coin_purchase_refund(purchase_id=purchase.pk, actor=viewer)
    assert CoinPurchase.objects.get(pk=purchase.pk).status == "paid"


def test_the_admin_action_refunds(admin_client, buyer, packs):
    purchase = buy(buyer, packs[70])
    response = admin_client.post(
        "/admin/gifting/coinpurchase/",
        {"action": "refund", "_selected_action": [purchase.pk]},
    )
    assert response.status_code == 302
    assert CoinPurchase.objects.get(pk=purchase.pk).status == "refunded"
