"""Many viewers of one process sending at the same moment: their sends are made in
batches (gifting.sends), each viewer answered on their own, the totals and the ledger exact."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone

from gifting import selectors, services
from gifting.models import Gift, GiftSend, GiftTotal
from payments.ledger import Line, ledger_post, ledger_problems
from streams import services as streams_services
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

VIEWERS = 24


def _fund(user, coins):
    ledger_post(
        kind="coins.purchased",
        key=f"fund:{user.pk}",
        lines=[
            Line(services.wallet_account(user=user), coins),
            Line(services._issued_account(), -coins),
        ],
    )


def _live(host):
    stream, _ = streams_services.stream_schedule(
        host=host, title="Batch", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(stream=stream, actor=host, playback_url="https://cdn.example/x")
    return stream


def _all_at_once(calls):
    barrier = threading.Barrier(len(calls))
    outcomes = {}
    lock = threading.Lock()

    def run(name, call):
        barrier.wait(timeout=30)
        try:
            outcome = call()
        except Exception as exc:  # noqa: BLE001 (compared below)
            outcome = exc
        finally:
            connection.close()
        with lock:
            outcomes[name] = outcome

    threads = [threading.Thread(target=run, args=item) for item in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@override_settings(GIFTING_SEND_BATCH_WINDOW=0.05)
def test_viewers_sending_at_once_share_batches_and_each_gets_their_own_answer(host):
    live = _live(host)
    heart = Gift.objects.create(name="Heart", slug="heart", coins=10)
    viewers = [UserFactory(handle=f"v{i}") for i in range(VIEWERS)]
    # Every third viewer has too few coins; every fourth never bought any (no wallet).
    for i, viewer in enumerate(viewers):
        if i % 4 == 3:
            continue
        _fund(viewer, 5 if i % 3 == 2 else 100)
    outcomes = _all_at_once(
        [
            (
                viewer.handle,
                lambda viewer=viewer: services.gift_send(
                    sender=viewer,
                    stream_id=live.pk,
                    gift_id=heart.pk,
                    quantity=2,
                    idempotency_key="k",
                ),
            )
            for viewer in viewers
        ]
    )
    refused = {v.handle for i, v in enumerate(viewers) if i % 4 == 3 or i % 3 == 2}
    for viewer in viewers:
        outcome = outcomes[viewer.handle]
        if viewer.handle in refused:
            assert getattr(outcome, "code", outcome) == "not_enough_coins"
        else:
            assert isinstance(outcome, GiftSend) and outcome.sender_id == viewer.pk
            assert selectors.wallet_balance(user=viewer) == 80
    sent = len(viewers) - len(refused)
    assert GiftSend.objects.count() == sent
    # Fewer batches than sends: the totals of one batch share its time.
    per_live = GiftTotal.objects.filter(stream=live)
    assert per_live.count() == sent
    assert per_live.values("last_sent_at").distinct().count() < sent
    assert per_live.aggregate(s=Sum("coins"))["s"] == sent * 20
    fans = GiftTotal.objects.filter(creator=host, stream__isnull=True)
    assert fans.aggregate(s=Sum("coins"))["s"] == sent * 20
    assert ledger_problems() == []


@override_settings(GIFTING_SEND_BATCH_WINDOW=0.02)
def test_one_viewer_tapping_fast_has_one_send_per_batch_and_a_growing_combo(viewer, host):
    live = _live(host)
    rose = Gift.objects.create(name="Rose", slug="rose", coins=1)
    _fund(viewer, 1_000)
    outcomes = _all_at_once(
        [
            (
                n,
                lambda n=n: services.gift_send(
                    sender=viewer,
                    stream_id=live.pk,
                    gift_id=rose.pk,
                    quantity=1,
                    idempotency_key=f"t{n}",
                ),
            )
            for n in range(12)
        ]
    )
    assert Counter(type(o).__name__ for o in outcomes.values()) == {"GiftSend": 12}
    total = GiftTotal.objects.get(stream=live, sender=viewer)
    assert (total.coins, total.gifts, total.combo, total.combo_gift) == (12, 12, 12, rose.pk)
    assert selectors.wallet_balance(user=viewer) == 988
    assert ledger_problems() == []
