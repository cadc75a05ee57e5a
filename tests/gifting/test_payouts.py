"""Payouts: a host asks to be paid some of their settled earnings, staff approve or reject,
a task sends it through the provider once; a failed or rejected payout returns the money
to the balance, and every movement is a balanced ledger posting."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from config.errors import NotAllowed
from gifting import payouts, services, tasks
from gifting.errors import InvalidPayout, NotEnoughEarnings, PayoutStateConflict
from gifting.models import CoinPack, Gift, Payout
from gifting.settlement import earnings_settle
from payments.ledger import account_balance
from payments.ledger_models import LedgerAccount, LedgerTransaction
from payments.provider_models import SimulatedOperation
from streams import services as streams_services
from tests.factories import UserFactory

EARNED = 5000  # 50.00 USD settled for the host in every test


def balance(code: str) -> int:
    account = LedgerAccount.objects.filter(code=code).first()
    return account_balance(account=account) if account else 0


def settled(user) -> int:
    return balance(f"earnings:settled:user:{user.pk}:USD")


def held(user) -> int:
    return balance(f"earnings:payout-hold:user:{user.pk}:USD")


def paid_out() -> int:
    return balance("external:payouts:simulated:USD")


@pytest.fixture
def earner(host, viewer):
    """The host with EARNED settled: a viewer bought coins, sent gifts in the host's live
    (50 % share of one minor unit per coin), and settlement ran."""
    stream, _ = streams_services.stream_schedule(
        host=host, title="Payday live", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(
        stream=stream, actor=host, playback_url="https://cdn.example/live.m3u8"
    )
    pack = CoinPack.objects.create(coins=EARNED * 2, price_minor=EARNED * 2, currency="USD")
    services.coins_buy(
        buyer=viewer, pack_id=pack.pk, checkout_key="coins-1", payment_method="pm_card_ok"
    )
    gift = Gift.objects.create(name="Lion", slug="lion", coins=1000)
    services.gift_send(
        sender=viewer, stream_id=stream.pk, gift_id=gift.pk, quantity=10, idempotency_key="g-1"
    )
    earnings_settle(until=timezone.now() + timedelta(seconds=1))
    assert settled(host) == EARNED
    return host


@pytest.fixture
def queued(monkeypatch):
    """payout_execute tasks enqueued (on approval through the outbox, by the sweep
    directly), kept instead of sent to the broker."""
    from config.celery import app

    calls = []

    def send_task(name, kwargs=None, **options):
        assert name == tasks.payout_execute.name
        calls.append(kwargs["payout_id"])

    monkeypatch.setattr(tasks.payout_execute, "delay", lambda payout_id: calls.append(payout_id))
    monkeypatch.setattr(app, "send_task", send_task)
    return calls


def request(user, amount=2000, destination="acct_ok", key="p-1"):
    return payouts.payout_request(
        creator=user, amount_minor=amount, destination=destination, idempotency_key=key
    )


def approve(payout, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return payouts.payout_approve(payout_id=payout.pk, actor=staff, reason="ok")


def test_a_request_holds_the_amount_out_of_the_settled_balance(earner):
    payout = request(earner, amount=2000)

    assert payout.status == Payout.Status.REQUESTED
    assert (payout.amount_minor, payout.currency, payout.destination) == (2000, "USD", "acct_ok")
    assert settled(earner) == EARNED - 2000
    assert held(earner) == 2000
    hold = LedgerTransaction.objects.get(key=f"payout:{payout.pk}:hold")
    assert hold.kind == "payout.requested"


def test_the_same_key_returns_the_first_payout_and_holds_once(earner):
    first = request(earner, amount=2000, key="same")
    again = request(earner, amount=2000, key="same")

    assert again.pk == first.pk
    assert Payout.objects.count() == 1
    assert settled(earner) == EARNED - 2000


def test_approved_and_executed_it_is_paid_once_and_leaves_the_books(
    earner, staff, queued, django_capture_on_commit_callbacks
):
    payout = request(earner, amount=3000)
    approved = approve(payout, staff, django_capture_on_commit_callbacks)
    assert approved.status == Payout.Status.APPROVED
    assert approved.decided_by == staff
    assert queued == [payout.pk]

    assert tasks.payout_execute(payout.pk) == Payout.Status.PAID

    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert payout.provider == "simulated"
    assert payout.provider_ref.startswith("po_sim_")
    assert payout.paid_at is not None
    assert settled(earner) == EARNED - 3000
    assert held(earner) == 0
    assert paid_out() == 3000
    assert LedgerTransaction.objects.filter(key=f"payout:{payout.pk}:paid").exists()


def test_executing_twice_pays_once_with_one_provider_operation(
    earner, staff, queued, django_capture_on_commit_callbacks
):
    payout = request(earner, amount=3000)
    approve(payout, staff, django_capture_on_commit_callbacks)

    payouts.payout_execute(payout_id=payout.pk)
    payouts.payout_execute(payout_id=payout.pk)

    assert SimulatedOperation.objects.filter(idempotency_key=f"payout:{payout.pk}").count() == 1
    assert SimulatedOperation.objects.filter(kind="payout").count() == 1
    assert paid_out() == 3000
    assert settled(earner) == EARNED - 3000


def test_a_worker_killed_after_the_provider_paid_finishes_without_paying_again(
    earner, staff, queued, django_capture_on_commit_callbacks
):
    payout = request(earner, amount=3000)
    approve(payout, staff, django_capture_on_commit_callbacks)
    # The first worker claimed it and the provider paid, then the worker died before it
    # recorded the outcome: the payout is still sending.
    Payout.objects.filter(pk=payout.pk).update(status=Payout.Status.SENDING)
    from payments.providers import get_provider

    get_provider().payout(
        amount_minor=3000,
        currency="USD",
        destination="acct_ok",
        idempotency_key=f"payout:{payout.pk}",
    )

    assert payouts.payout_execute(payout_id=payout.pk).status == Payout.Status.PAID
    assert SimulatedOperation.objects.filter(kind="payout").count() == 1
    assert paid_out() == 3000


def test_a_payout_the_provider_fails_returns_the_money_to_the_balance(
    earner, staff, queued, django_capture_on_commit_callbacks
):
    payout = request(earner, amount=2500, destination="acct_fail")
    approve(payout, staff, django_capture_on_commit_callbacks)

    done = payouts.payout_execute(payout_id=payout.pk)

    assert done.status == Payout.Status.FAILED
    assert done.failure_code == "payout_failed"
    assert done.paid_at is None
    assert settled(earner) == EARNED
    assert held(earner) == 0
    assert paid_out() == 0
    assert LedgerTransaction.objects.get(key=f"payout:{payout.pk}:release").kind == "payout.failed"
    # Running it again changes nothing.
    assert payouts.payout_execute(payout_id=payout.pk).status == Payout.Status.FAILED
    assert settled(earner) == EARNED


def test_a_rejected_payout_returns_the_money_and_is_never_sent(earner, staff, queued):
    payout = request(earner, amount=2000)

    rejected = payouts.payout_reject(payout_id=payout.pk, actor=staff, reason="Check your ID")

    assert rejected.status == Payout.Status.REJECTED
    assert rejected.reason == "Check your ID"
    assert settled(earner) == EARNED
    assert held(earner) == 0
    assert queued == []
    assert payouts.payout_execute(payout_id=payout.pk).status == Payout.Status.REJECTED
    assert not SimulatedOperation.objects.filter(kind="payout").exists()
    with pytest.raises(PayoutStateConflict):
        payouts.payout_approve(payout_id=payout.pk, actor=staff)


def test_a_payout_below_the_minimum_is_refused(earner, settings):
    settings.GIFTING_PAYOUT_MINIMUM_MINOR = 1000
    with pytest.raises(InvalidPayout) as refused:
        request(earner, amount=999)
    assert "amount" in refused.value.fields
    assert Payout.objects.count() == 0
    assert settled(earner) == EARNED


@pytest.mark.parametrize(
    ("amount", "destination", "field"),
    [(0, "acct_ok", "amount"), ("10", "acct_ok", "amount"), (2000, "", "destination")],
)
def test_bad_input_is_refused(earner, amount, destination, field):
    with pytest.raises(InvalidPayout) as refused:
        request(earner, amount=amount, destination=destination)
    assert field in refused.value.fields
    assert Payout.objects.count() == 0


def test_a_payout_above_the_settled_balance_is_refused_and_holds_nothing(earner):
    request(earner, amount=4000, key="first")
    with pytest.raises(NotEnoughEarnings):
        request(earner, amount=1001, key="second")

    assert Payout.objects.count() == 1
    assert settled(earner) == EARNED - 4000
    assert held(earner) == 4000


def test_a_user_without_earnings_cannot_request(viewer):
    with pytest.raises(NotEnoughEarnings):
        request(viewer, amount=1000)
    assert Payout.objects.count() == 0


def test_only_staff_decide(earner, viewer, queued):
    payout = request(earner)
    for actor in (viewer, earner):
        with pytest.raises(NotAllowed):
            payouts.payout_approve(payout_id=payout.pk, actor=actor)
        with pytest.raises(NotAllowed):
            payouts.payout_reject(payout_id=payout.pk, actor=actor)
    payout.refresh_from_db()
    assert payout.status == Payout.Status.REQUESTED
    assert queued == []


def test_a_provider_without_payouts_still_loads_and_declines_them():
    from payments.providers.base import PaymentProvider

    class CardsOnly(PaymentProvider):
        name = "cards-only"

        def authorize(self, **kw): ...
        def capture(self, **kw): ...
        def refund(self, **kw): ...
        def void(self, **kw): ...
        def tokenize_card(self, **kw): ...
        def verify_webhook(self, **kw): ...

    result = CardsOnly().payout(
        amount_minor=1, currency="USD", destination="x", idempotency_key="k"
    )
    assert (result.status, result.decline_code, result.succeeded) == (
        "declined",
        "payouts_unsupported",
        False,
    )


# --- API -----------------------------------------------------------------------------------


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post_payout(client, body, key="k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/payouts/", body, format="json", **headers)


def test_the_api_requests_a_payout_and_lists_only_your_own(
    earner, viewer, django_assert_max_num_queries
):
    client = client_for(earner)
    answer = post_payout(client, {"amount": 1500, "destination": "acct_ok"})
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["amount"], body["currency"], body["status"]) == (1500, "USD", "requested")
    # A retry with the same key gets the same answer and holds nothing more.
    again = post_payout(client, {"amount": 1500, "destination": "acct_ok"})
    assert again.json()["id"] == body["id"]
    post_payout(client, {"amount": 1000, "destination": "acct_ok"}, key="k-2")
    assert settled(earner) == EARNED - 2500

    with django_assert_max_num_queries(3):
        listed = client.get("/api/v1/payouts/")
    assert [row["amount"] for row in listed.json()] == [1000, 1500]
    assert client_for(viewer).get("/api/v1/payouts/").json() == []


def test_another_users_payout_is_not_found(earner, viewer):
    payout = request(earner)
    mine = client_for(earner).get(f"/api/v1/payouts/{payout.pk}/")
    assert mine.status_code == 200
    theirs = client_for(viewer).get(f"/api/v1/payouts/{payout.pk}/")
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "not_found"


def test_the_api_refuses_without_an_idempotency_key(earner):
    answer = post_payout(client_for(earner), {"amount": 1500, "destination": "acct_ok"}, key="")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "idempotency_key_required"
    assert Payout.objects.count() == 0


def test_the_api_refuses_below_the_minimum_and_above_the_balance(earner):
    client = client_for(earner)
    low = post_payout(client, {"amount": 999, "destination": "acct_ok"}, key="low")
    assert low.status_code == 400
    assert "amount" in low.json()["error"]["fields"]
    high = post_payout(client, {"amount": EARNED + 1, "destination": "acct_ok"}, key="high")
    assert high.status_code == 409
    assert high.json()["error"]["code"] == "not_enough_earnings"
    assert Payout.objects.count() == 0
    assert settled(earner) == EARNED


def test_anonymous_callers_see_no_payouts(earner):
    assert APIClient().get("/api/v1/payouts/").status_code in {401, 403}


# --- admin ---------------------------------------------------------------------------------


def test_staff_approve_in_the_admin_and_non_staff_are_refused(
    earner, staff, viewer, queued, client, django_capture_on_commit_callbacks
):
    payout = request(earner)
    other = request(earner, key="p-2")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            "/admin/gifting/payout/",
            {
                "action": "approve",
                "_selected_action": [payout.pk],
                "apply": "1",
                "reason": "Earnings checked",
            },
        )
    assert answer.status_code == 302
    payout.refresh_from_db()
    assert payout.status == Payout.Status.APPROVED
    assert queued == [payout.pk]

    client.post(
        "/admin/gifting/payout/",
        {"action": "reject", "_selected_action": [other.pk], "apply": "1", "reason": "Fraud"},
    )
    other.refresh_from_db()
    assert other.status == Payout.Status.REJECTED
    assert settled(earner) == EARNED - 2000

    # Non-staff approving through the service: 403 in the error shape.
    with pytest.raises(NotAllowed) as refused:
        payouts.payout_approve(payout_id=other.pk, actor=viewer)
    assert refused.value.status == 403


def test_someone_elses_earnings_stay_untouched(earner, queued):
    stranger = UserFactory(handle="stranger")
    with pytest.raises(NotEnoughEarnings):
        request(stranger, amount=1000)
    assert settled(earner) == EARNED


# --- races on real PostgreSQL connections --------------------------------------------------


def race(count, work):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run(index):
        try:
            barrier.wait(timeout=10)
            results.append(work(index))
        except Exception as exc:  # noqa: BLE001 (reported to the test)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_requests_racing_for_one_balance_never_hold_more_than_was_settled(earner):
    results, errors = race(8, lambda i: request(earner, amount=2000, key=f"race-{i}").pk)

    assert len(results) == 2  # 2 × 2000 fit in 5000; a third would not
    assert len(errors) == 6 and all(isinstance(e, NotEnoughEarnings) for e in errors)
    assert Payout.objects.count() == 2
    assert settled(earner) == EARNED - 4000
    assert held(earner) == 4000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_to_execute_one_payout_pay_it_once(earner, staff, queued):
    payout = request(earner, amount=3000)
    payouts.payout_approve(payout_id=payout.pk, actor=staff)

    results, errors = race(6, lambda i: payouts.payout_execute(payout_id=payout.pk).status)

    assert not errors
    assert set(results) <= {Payout.Status.PAID, Payout.Status.SENDING}
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert SimulatedOperation.objects.filter(kind="payout").count() == 1
    assert LedgerTransaction.objects.filter(key__startswith=f"payout:{payout.pk}:").count() == 2
    assert paid_out() == 3000


def test_the_sweep_sends_again_a_payout_stuck_without_an_outcome(
    earner, staff, queued, django_capture_on_commit_callbacks
):
    payout = approve(request(earner), staff, django_capture_on_commit_callbacks)
    assert queued == [payout.pk]  # its task was lost on the way, say
    assert tasks.payouts_sweep.apply().get() == 0  # not stuck yet
    Payout.objects.filter(pk=payout.pk).update(decided_at=timezone.now() - timedelta(hours=1))
    assert tasks.payouts_sweep.apply().get() == 1
    assert queued == [payout.pk, payout.pk]
    assert payouts.payout_execute(payout_id=payout.pk).status == Payout.Status.PAID
    assert payouts.payouts_stuck() == []
