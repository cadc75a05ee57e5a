"""One viewer's gifts racing each other on real PostgreSQL connections: the wallet's
conditional debit lets exactly as many through as the coins cover, never below zero."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from gifting import selectors, services
from gifting.errors import NotEnoughCoins
from gifting.models import CoinPack, Gift, GiftSend
from payments.ledger import account_balance, ledger_problems
from payments.ledger_models import LedgerAccount, LedgerTransaction
from streams import services as streams_services

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SENDS = 100
COVERED = 60
# PostgreSQL allows 100 connections, shared with other test runs: at most this many of the
# senders hold one at a time.
MAX_CONNECTIONS = 40


def test_a_hundred_gifts_at_once_when_the_coins_cover_sixty(viewer, host):
    stream, _ = streams_services.stream_schedule(
        host=host, title="Gift rush", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(stream=stream, actor=host, playback_url="https://cdn.example/x")
    gift = Gift.objects.create(name="Heart", slug="heart", coins=10)
    pack = CoinPack.objects.create(coins=COVERED * 10, price_minor=999, currency="USD")
    services.coins_buy(
        buyer=viewer, pack_id=pack.pk, checkout_key="rush", payment_method="pm_card_ok"
    )
    assert selectors.wallet_balance(user=viewer) == 600

    barrier = threading.Barrier(SENDS)
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    outcomes = []
    lock = threading.Lock()

    def tap(index):
        try:
            barrier.wait(timeout=30)
            with slots:
                try:
                    services.gift_send(
                        sender=viewer,
                        stream_id=stream.pk,
                        gift_id=gift.pk,
                        quantity=1,
                        idempotency_key=f"tap-{index}",
                    )
                    outcome = "sent"
                except NotEnoughCoins as exc:
                    outcome = (exc.status, exc.code)
                except Exception as exc:  # noqa: BLE001 (reported below)
                    outcome = repr(exc)
                finally:
                    connection.close()
        except threading.BrokenBarrierError:
            outcome = "BrokenBarrierError"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=tap, args=(i,)) for i in range(SENDS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(outcomes) == {"sent": COVERED, (402, "not_enough_coins"): SENDS - COVERED}
    assert selectors.wallet_balance(user=viewer) == 0
    assert GiftSend.objects.count() == COVERED
    assert LedgerTransaction.objects.filter(kind="gift.sent").count() == COVERED
    earnings = LedgerAccount.objects.get(code=f"earnings:gifts:user:{host.pk}:USD")
    assert account_balance(account=earnings) == COVERED * 5
    assert ledger_problems() == []


def test_the_same_key_from_eight_threads_sends_once(viewer, host):
    stream, _ = streams_services.stream_schedule(
        host=host, title="Double tap", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(stream=stream, actor=host, playback_url="https://cdn.example/x")
    gift = Gift.objects.create(name="Heart", slug="heart", coins=10)
    pack = CoinPack.objects.create(coins=100, price_minor=199, currency="USD")
    services.coins_buy(
        buyer=viewer, pack_id=pack.pk, checkout_key="tap", payment_method="pm_card_ok"
    )
    barrier = threading.Barrier(8)
    sends, errors = [], []

    def tap():
        try:
            barrier.wait(timeout=10)
            sent = services.gift_send(
                sender=viewer,
                stream_id=stream.pk,
                gift_id=gift.pk,
                quantity=1,
                idempotency_key="same",
            )
            sends.append(sent.pk)
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
    assert len(sends) == 8 and len(set(sends)) == 1
    assert selectors.wallet_balance(user=viewer) == 90
    assert ledger_problems() == []
