"""Coin purchases whose payment never completes: a delayed card whose webhook does not come
is failed and its payment voided after GIFTING_PAYMENT_TIMEOUT_SECONDS, with no coins
credited; a success arriving after that gives the money back (the conftest hook checks the
whole ledger after each test)."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.utils import timezone

from config.celery import app
from gifting import selectors, services, tasks
from gifting.models import CoinPurchase
from payments.ledger_models import LedgerEntry, LedgerTransaction
from payments.provider_models import SimulatedCharge, SimulatedOperation
from payments.providers.simulated import SimulatedProvider, simulated_webhook_send


def buy_delayed(buyer, pack, key="tap-1"):
    purchase = services.coins_buy(
        buyer=buyer, pack_id=pack.pk, checkout_key=key, payment_method="pm_card_delayed"
    )
    assert (purchase.status, purchase.payment_state) == ("pending_payment", "pending")
    return purchase


def past_the_timeout(settings):
    return timezone.now() + timedelta(seconds=settings.GIFTING_PAYMENT_TIMEOUT_SECONDS + 1)


def charge_of(purchase):
    return SimulatedCharge.objects.get(ref=purchase.payment_ref)


def test_a_delayed_purchase_is_released_after_the_timeout_and_credits_nothing(
    settings, buyer, packs, scheduled
):
    purchase = buy_delayed(buyer, packs[700])
    assert services.coin_purchases_release_unpaid() == 0  # not due yet
    later = past_the_timeout(settings)
    assert services.coin_purchases_release_unpaid(now=later) == 1

    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_state) == ("failed", "voided")
    assert purchase.payment_message == "The payment did not complete in time."
    assert purchase.paid_at is None
    assert selectors.wallet_balance(user=buyer) == 0
    assert not LedgerEntry.objects.exists()
    # The payment it was waiting for is voided at the provider: its webhook never comes.
    charge = charge_of(purchase)
    assert (charge.status, charge.amount_captured) == ("voided", 0)
    assert simulated_webhook_send(charge_ref=purchase.payment_ref) is False

    # Safe to run twice: nothing more is released, voided or posted.
    operations = SimulatedOperation.objects.count()
    assert services.coin_purchases_release_unpaid(now=later) == 0
    assert SimulatedOperation.objects.count() == operations
    assert CoinPurchase.objects.get(pk=purchase.pk).status == "failed"
    assert not LedgerEntry.objects.exists()
    # Its checkout key answers with the failed purchase; a new key may buy again.
    again = services.coins_buy(buyer=buyer, pack_id=packs[700].pk, checkout_key="tap-1")
    assert again.pk == purchase.pk and again.status == "failed"


def test_only_purchases_older_than_the_timeout_are_released(settings, buyer, packs, scheduled):
    settings.GIFTING_PAYMENT_TIMEOUT_SECONDS = 120
    old = buy_delayed(buyer, packs[70], "old")
    recent = buy_delayed(buyer, packs[350], "recent")
    now = timezone.now()
    CoinPurchase.objects.filter(pk=old.pk).update(created_at=now - timedelta(seconds=121))
    CoinPurchase.objects.filter(pk=recent.pk).update(created_at=now - timedelta(seconds=119))

    assert services.coin_purchases_release_unpaid(now=now) == 1
    statuses = dict(CoinPurchase.objects.values_list("checkout_key", "status"))
    assert statuses == {"old": "failed", "recent": "pending_payment"}
    assert charge_of(recent).status == "pending"
    # The recent one still pays when its webhook arrives: nothing was taken from it.
    assert services.coin_purchases_release_unpaid(now=now) == 0


def test_a_purchase_paid_just_before_the_release_is_not_touched(
    asgi_server, settings, buyer, packs, scheduled
):
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    purchase = buy_delayed(buyer, packs[700])
    assert simulated_webhook_send(charge_ref=purchase.payment_ref)
    assert CoinPurchase.objects.get(pk=purchase.pk).status == "paid"

    assert services.coin_purchases_release_unpaid(now=past_the_timeout(settings)) == 0
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_state) == ("paid", "captured")
    assert selectors.wallet_balance(user=buyer) == 700
    assert LedgerTransaction.objects.count() == 1
    charge = charge_of(purchase)
    assert (charge.amount_captured, charge.amount_refunded) == (999, 0)


def test_an_authorized_purchase_whose_capture_was_interrupted_is_captured(
    settings, buyer, packs, scheduled
):
    """The webhook authorized the payment but the capture after it never ran (the process
    died): the buyer paid, so the release captures and credits instead of failing it."""
    purchase = buy_delayed(buyer, packs[350])
    SimulatedCharge.objects.filter(ref=purchase.payment_ref).update(status="authorized")
    CoinPurchase.objects.filter(pk=purchase.pk).update(payment_state="authorized")

    assert services.coin_purchases_release_unpaid(now=past_the_timeout(settings)) == 0
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_state) == ("paid", "captured")
    assert selectors.wallet_balance(user=buyer) == 350
    assert charge_of(purchase).amount_captured == 499


def test_a_webhook_after_the_release_credits_nothing_and_gives_the_money_back(
    asgi_server, settings, buyer, packs, scheduled, monkeypatch
):
    """The release could not reach the provider to void the payment; the card issuer then
    confirms it and the signed payment.succeeded webhook arrives for a failed purchase."""
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    purchase = buy_delayed(buyer, packs[700])

    def unreachable(self, **kwargs):
        raise ConnectionError("the provider cannot be reached")

    with monkeypatch.context() as patched:
        patched.setattr(SimulatedProvider, "void", unreachable)
        assert services.coin_purchases_release_unpaid(now=past_the_timeout(settings)) == 1
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_state) == ("failed", "pending")
    assert charge_of(purchase).status == "pending"

    # The provider settles the payment and posts its signed webhook to the running site.
    assert simulated_webhook_send(charge_ref=purchase.payment_ref)
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_state) == ("failed", "voided")
    charge = charge_of(purchase)
    assert (charge.status, charge.amount_captured, charge.amount_refunded) == ("voided", 0, 0)
    assert selectors.wallet_balance(user=buyer) == 0
    assert not LedgerEntry.objects.exists()

    # The same webhook again is a replay: still nothing credited, nothing charged.
    SimulatedCharge.objects.filter(ref=purchase.payment_ref).update(webhook_sent_at=None)
    assert simulated_webhook_send(charge_ref=purchase.payment_ref) is False  # voided now
    assert selectors.wallet_balance(user=buyer) == 0
    assert not LedgerEntry.objects.exists()


def test_a_capture_that_lands_after_the_release_is_refunded(settings, buyer, packs, scheduled):
    """The webhook's capture reached the provider, then the purchase turned out failed:
    marking it paid changes nothing, and the captured money goes back to the card."""
    purchase = buy_delayed(buyer, packs[70])
    assert services.coin_purchases_release_unpaid(now=past_the_timeout(settings)) == 1
    # As if the void had not been accepted and a capture had gone through meanwhile.
    SimulatedCharge.objects.filter(ref=purchase.payment_ref).update(
        status="authorized", amount_captured=99
    )
    assert services.coin_purchase_mark_paid(purchase_id=purchase.pk) is False
    charge = charge_of(purchase)
    assert charge.amount_refunded == charge.amount_captured == 99
    assert CoinPurchase.objects.get(pk=purchase.pk).status == "failed"
    assert selectors.wallet_balance(user=buyer) == 0
    assert not LedgerEntry.objects.exists()


def test_the_release_task_is_scheduled_every_minute():
    entry = app.conf.beat_schedule["gifting-release-unpaid"]
    assert entry == {"task": tasks.release_unpaid.name, "schedule": 60}
    assert tasks.release_unpaid.name == "gifting.release_unpaid"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_release(settings, buyer, packs, scheduled):
    """The task through the broker on a real worker, as beat sends it."""
    purchase = buy_delayed(buyer, packs[350])
    due = timezone.now() - timedelta(seconds=settings.GIFTING_PAYMENT_TIMEOUT_SECONDS + 1)
    CoinPurchase.objects.filter(pk=purchase.pk).update(created_at=due)
    queue = f"test-{uuid.uuid4().hex[:8]}"  # nobody else's worker consumes this queue
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]):
        tasks.release_unpaid.apply_async(queue=queue)
        deadline = time.monotonic() + 20
        while CoinPurchase.objects.get(pk=purchase.pk).status != "failed":
            assert time.monotonic() < deadline, "the worker did not release the purchase"
            time.sleep(0.1)
    assert charge_of(purchase).status == "voided"
    assert selectors.wallet_balance(user=buyer) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_releases_at_once_fail_and_void_each_purchase_once(settings, buyer, packs, scheduled):
    purchases = [buy_delayed(buyer, packs[70], f"tap-{n}") for n in range(6)]
    later = past_the_timeout(settings)
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(services.coin_purchases_release_unpaid(now=later))
        except Exception as exc:  # noqa: BLE001 (reported below)
            results.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 6
    refs = [p.payment_ref for p in purchases]
    assert set(CoinPurchase.objects.values_list("status", "payment_state")) == {
        ("failed", "voided")
    }
    assert set(SimulatedCharge.objects.filter(ref__in=refs).values_list("status", flat=True)) == {
        "voided"
    }
    assert SimulatedOperation.objects.filter(kind="void").count() == 6
    assert not LedgerEntry.objects.exists()
