"""Retries of one Buy racing each other on real PostgreSQL connections: one purchase, one
charge, the coins credited once."""

import threading

import pytest
from django.db import connection

from gifting import selectors, services
from gifting.models import CoinPurchase
from payments.provider_models import SimulatedCharge

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_checkout_key_from_eight_threads_buys_once(buyer, packs):
    barrier = threading.Barrier(8)
    results, errors = [], []

    def tap():
        try:
            barrier.wait(timeout=10)
            purchase = services.coins_buy(buyer=buyer, pack_id=packs[350].pk, checkout_key="race")
            results.append(purchase.pk)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(set(results)) == 1 and len(results) == 8
    assert CoinPurchase.objects.count() == 1
    assert SimulatedCharge.objects.count() == 1
    assert selectors.wallet_balance(user=buyer) == 350


def test_purchases_at_once_from_one_buyer_all_land(buyer, packs):
    """Eight different purchases at once each credit the one wallet row: its conditional
    UPDATE serialises them without losing any."""
    barrier = threading.Barrier(8)
    errors = []

    def tap(index):
        try:
            barrier.wait(timeout=10)
            services.coins_buy(buyer=buyer, pack_id=packs[70].pk, checkout_key=f"k{index}")
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tap, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert CoinPurchase.objects.filter(status="paid").count() == 8
    assert selectors.wallet_balance(user=buyer) == 560
