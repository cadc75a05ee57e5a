import threading
import time
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.utils import timezone

from config.celery import app
from payments import tasks
from payments.errors import (
    CaptureExceedsAuthorized,
    ChargeNotFound,
    ChargeStateConflict,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidAmount,
    InvalidCard,
    InvalidPaymentMethod,
    RefundExceedsCaptured,
    UnknownProvider,
)
from payments.provider_models import (
    SimulatedCard,
    SimulatedCharge,
    SimulatedOperation,
    WebhookEvent,
)
from payments.providers import PaymentProvider, ProviderResult, get_provider
from payments.providers.simulated import (
    SimulatedProvider,
    WebhookDeliveryFailed,
    simulated_webhook_send,
    simulated_webhooks_due,
)
from payments.signals import payment_succeeded
from tests.conftest import free_port

SECRET = "whsec_test_secret_for_the_provider"


@pytest.fixture(autouse=True)
def _payment_settings(settings):
    settings.PAYMENTS_PROVIDER = "simulated"
    settings.PAYMENTS_WEBHOOK_SECRET = SECRET
    settings.SIMULATED_WEBHOOK_DELAY = 3


@pytest.fixture
def provider() -> SimulatedProvider:
    return get_provider()


@pytest.fixture
def scheduled(monkeypatch):
    """The webhook tasks scheduled (instead of queued on the real broker)."""
    calls = []
    monkeypatch.setattr(
        tasks.simulated_webhook,
        "apply_async",
        lambda args=None, **options: calls.append((tuple(args), options)),
    )
    return calls


@pytest.fixture
def succeeded():
    """payment_succeeded as the receiving apps see it, from whatever thread sends it."""
    calls = []
    lock = threading.Lock()

    def receiver(sender, provider_ref, amount_minor, currency, event_id, **kwargs):
        with lock:
            calls.append((sender, provider_ref, amount_minor, currency, event_id))

    payment_succeeded.connect(receiver)
    yield calls
    payment_succeeded.disconnect(receiver)


def authorize(provider, payment_method="pm_card_ok", amount_minor=1999, key=None, **kwargs):
    return provider.authorize(
        amount_minor=amount_minor,
        currency=kwargs.pop("currency", "USD"),
        payment_method=payment_method,
        idempotency_key=f"auth-{uuid.uuid4().hex}" if key is None else key,
        metadata=kwargs.pop("metadata", {"order": 1}),
    )


def charge_of(result: ProviderResult) -> SimulatedCharge:
    return SimulatedCharge.objects.get(ref=result.provider_ref)


def amounts(result) -> tuple[int, int, int]:
    charge = charge_of(result)
    return charge.amount_minor, charge.amount_captured, charge.amount_refunded


# --- the registry ------------------------------------------------------------------------


def test_the_registry_gives_the_configured_provider(settings):
    assert isinstance(get_provider(), SimulatedProvider)
    assert isinstance(get_provider("simulated"), PaymentProvider)
    assert get_provider().name == "simulated"
    settings.PAYMENTS_PROVIDER = "nosuch"
    with pytest.raises(UnknownProvider):
        get_provider()


# --- authorizing with each test card -----------------------------------------------------


@pytest.mark.django_db
def test_pm_card_ok_succeeds(provider):
    result = authorize(provider, "pm_card_ok", 1999)
    assert (result.status, result.amount_minor, result.decline_code) == ("succeeded", 1999, "")
    assert result.provider_ref.startswith("ch_sim_") and result.succeeded
    assert charge_of(result).status == SimulatedCharge.Status.AUTHORIZED


@pytest.mark.django_db
def test_pm_card_declined_is_declined_and_cannot_be_captured(provider):
    result = authorize(provider, "pm_card_declined")
    assert (result.status, result.decline_code) == ("declined", "card_declined")
    assert result.message == "Your card was declined."
    with pytest.raises(ChargeStateConflict):
        provider.capture(provider_ref=result.provider_ref, amount_minor=1999, idempotency_key="c")
    assert amounts(result) == (1999, 0, 0)


@pytest.mark.django_db
def test_pm_card_delayed_is_pending_and_schedules_its_webhook_on_commit(
    provider, scheduled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = authorize(provider, "pm_card_delayed")
        assert scheduled == []  # nothing is sent for a payment that might roll back
    assert result.status == "pending" and result.message
    assert len(callbacks) == 1
    assert scheduled == [((result.provider_ref,), {"countdown": 3.0})]
    with pytest.raises(ChargeStateConflict):
        provider.capture(provider_ref=result.provider_ref, amount_minor=1, idempotency_key="c")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "number, status, brand",
    [
        ("4242 4242 4242 4242", "succeeded", "visa"),
        ("4000 0000 0000 0002", "declined", "visa"),
        ("4000 0000 0000 3220", "pending", "visa"),
        ("5555 5555 5555 4444", "succeeded", "mastercard"),
        ("3782 822463 10005", "succeeded", "amex"),
    ],
)
def test_tokenized_cards_behave_like_their_number(provider, scheduled, number, status, brand):
    cvc = "1234" if brand == "amex" else "123"
    token = provider.tokenize_card(number=number, exp_month=12, exp_year=2040, cvc=cvc)
    assert token.token.startswith("pm_sim_") and len(token.token) > 20
    assert (token.brand, token.last4, token.exp_month, token.exp_year) == (
        brand,
        number[-4:],
        12,
        2040,
    )
    assert authorize(provider, token.token).status == status
    stored = str(list(SimulatedCard.objects.values())) + str(list(SimulatedCharge.objects.values()))
    assert number.replace(" ", "") not in stored


@pytest.mark.django_db
def test_an_invalid_number_is_refused_at_tokenize_time(provider):
    with pytest.raises(InvalidCard) as error:
        provider.tokenize_card(number="4242 4242 4242 4241", exp_month=1, exp_year=2040, cvc="123")
    assert "number" in error.value.fields
    assert not SimulatedCard.objects.exists()


@pytest.mark.django_db
def test_a_saved_card_that_expired_since_is_declined(provider):
    SimulatedCard.objects.create(
        token="pm_sim_expired",
        behaviour="ok",
        brand="visa",
        last4="4242",
        exp_month=1,
        exp_year=2001,
    )
    result = authorize(provider, "pm_sim_expired")
    assert (result.status, result.decline_code) == ("declined", "expired_card")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payment_method", ["pm_card_visa", "pm_sim_unknown", "", "4242424242424242"]
)
def test_an_unknown_payment_method_is_refused(provider, payment_method):
    with pytest.raises(InvalidPaymentMethod) as error:
        authorize(provider, payment_method)
    assert error.value.status == 400 and "payment_method" in error.value.fields
    assert not SimulatedCharge.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -1, 19.99, True, "1999", 10**13])
def test_amounts_are_positive_integers(provider, amount):
    with pytest.raises(InvalidAmount):
        authorize(provider, amount_minor=amount)
    assert not SimulatedCharge.objects.exists()


@pytest.mark.django_db
def test_an_unknown_currency_or_a_missing_key_is_refused(provider):
    with pytest.raises(InvalidAmount) as error:
        authorize(provider, currency="XXX")
    assert "currency" in error.value.fields
    with pytest.raises(IdempotencyKeyRequired):
        authorize(provider, key="")
    with pytest.raises(IdempotencyKeyRequired):
        authorize(provider, key="k" * 151)


# --- idempotency -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_key_returns_the_same_result_and_charges_once(provider):
    first = authorize(provider, key="order-7-authorize")
    again = authorize(provider, key="order-7-authorize")
    assert first == again
    assert SimulatedCharge.objects.count() == 1
    with pytest.raises(IdempotencyKeyReused) as error:
        authorize(provider, key="order-7-authorize", amount_minor=2999)
    assert error.value.status == 409
    assert SimulatedCharge.objects.count() == 1


@pytest.mark.django_db
def test_a_declined_answer_is_replayed_too(provider):
    first = authorize(provider, "pm_card_declined", key="k")
    assert authorize(provider, "pm_card_declined", key="k") == first
    assert SimulatedCharge.objects.count() == 1


@pytest.mark.django_db
def test_a_key_is_for_one_call_only(provider):
    result = authorize(provider, key="shared")
    with pytest.raises(IdempotencyKeyReused):
        provider.capture(provider_ref=result.provider_ref, amount_minor=1, idempotency_key="shared")
    assert amounts(result) == (1999, 0, 0)


# --- capture, refund, void ---------------------------------------------------------------


@pytest.mark.django_db
def test_captures_add_up_to_at_most_the_authorized_amount(provider):
    result = authorize(provider, amount_minor=1000)
    ref = result.provider_ref
    first = provider.capture(provider_ref=ref, amount_minor=600, idempotency_key="cap-1")
    assert (first.status, first.amount_minor, first.provider_ref) == ("succeeded", 600, ref)
    # The same capture retried is not taken twice.
    assert provider.capture(provider_ref=ref, amount_minor=600, idempotency_key="cap-1") == first
    with pytest.raises(CaptureExceedsAuthorized) as error:
        provider.capture(provider_ref=ref, amount_minor=401, idempotency_key="cap-2")
    assert error.value.status == 409 and "400" in error.value.message
    assert amounts(result) == (1000, 600, 0)
    provider.capture(provider_ref=ref, amount_minor=400, idempotency_key="cap-2")
    assert amounts(result) == (1000, 1000, 0)
    assert SimulatedOperation.objects.filter(kind="capture").count() == 2


@pytest.mark.django_db
def test_partial_refunds_add_up_to_at_most_the_captured_amount(provider):
    result = authorize(provider, amount_minor=1000)
    ref = result.provider_ref
    with pytest.raises(RefundExceedsCaptured):
        provider.refund(provider_ref=ref, amount_minor=1, idempotency_key="ref-0")
    provider.capture(provider_ref=ref, amount_minor=800, idempotency_key="cap")
    refund = provider.refund(provider_ref=ref, amount_minor=300, idempotency_key="ref-1")
    assert (refund.status, refund.amount_minor) == ("succeeded", 300)
    assert provider.refund(provider_ref=ref, amount_minor=300, idempotency_key="ref-1") == refund
    provider.refund(provider_ref=ref, amount_minor=300, idempotency_key="ref-2")
    with pytest.raises(RefundExceedsCaptured) as error:
        provider.refund(provider_ref=ref, amount_minor=201, idempotency_key="ref-3")
    assert "200" in error.value.message
    assert amounts(result) == (1000, 800, 600)
    provider.refund(provider_ref=ref, amount_minor=200, idempotency_key="ref-3")
    assert amounts(result) == (1000, 800, 800)


@pytest.mark.django_db
def test_void_releases_an_authorization(provider):
    result = authorize(provider, amount_minor=1000)
    ref = result.provider_ref
    voided = provider.void(provider_ref=ref, idempotency_key="void")
    assert (voided.status, voided.amount_minor) == ("succeeded", 1000)
    assert provider.void(provider_ref=ref, idempotency_key="void") == voided
    assert charge_of(result).status == SimulatedCharge.Status.VOIDED
    with pytest.raises(ChargeStateConflict):
        provider.capture(provider_ref=ref, amount_minor=1, idempotency_key="cap")
    with pytest.raises(ChargeStateConflict):
        provider.void(provider_ref=ref, idempotency_key="void-again")
    assert amounts(result) == (1000, 0, 0)


@pytest.mark.django_db
def test_a_captured_payment_is_refunded_not_voided(provider):
    result = authorize(provider, amount_minor=1000)
    provider.capture(provider_ref=result.provider_ref, amount_minor=1, idempotency_key="cap")
    with pytest.raises(ChargeStateConflict) as error:
        provider.void(provider_ref=result.provider_ref, idempotency_key="void")
    assert "refund" in error.value.message
    assert charge_of(result).status == SimulatedCharge.Status.AUTHORIZED


@pytest.mark.django_db
def test_an_unknown_ref_is_not_found(provider):
    for call in (
        lambda: provider.capture(provider_ref="ch_nope", amount_minor=1, idempotency_key="a"),
        lambda: provider.refund(provider_ref="ch_nope", amount_minor=1, idempotency_key="b"),
        lambda: provider.void(provider_ref="ch_nope", idempotency_key="c"),
    ):
        with pytest.raises(ChargeNotFound) as error:
            call()
        assert error.value.status == 404
    assert not SimulatedOperation.objects.exists()


# --- the delayed card's webhook ----------------------------------------------------------


def test_the_delayed_card_succeeds_when_its_webhook_reaches_the_site(
    asgi_server, settings, provider, scheduled, succeeded
):
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    result = authorize(provider, "pm_card_delayed", amount_minor=2500)
    assert result.status == "pending"
    assert scheduled == [((result.provider_ref,), {"countdown": 3.0})]

    # What the worker runs once the countdown is over: the real task, over real HTTP.
    assert tasks.simulated_webhook.apply(args=[result.provider_ref]).get() is True
    event_id = "evt_" + result.provider_ref.removeprefix("ch_")
    assert succeeded == [("simulated", result.provider_ref, 2500, "USD", event_id)]
    charge = charge_of(result)
    assert charge.status == SimulatedCharge.Status.AUTHORIZED and charge.webhook_sent_at
    assert WebhookEvent.objects.filter(event_id=event_id).count() == 1

    # Run again (a redelivered task): the site is not told twice.
    assert tasks.simulated_webhook.apply(args=[result.provider_ref]).get() is True
    assert len(succeeded) == 1
    # And the payment can now be captured.
    captured = provider.capture(
        provider_ref=result.provider_ref, amount_minor=2500, idempotency_key="c"
    )
    assert captured.succeeded


def test_a_lost_delivery_is_resent_and_the_site_refuses_the_replay(
    asgi_server, settings, provider, scheduled, succeeded
):
    """The site processed the webhook but the answer never reached the provider: the
    retry is refused as a replay, which the provider takes as delivered."""
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    result = authorize(provider, "pm_card_delayed")
    assert simulated_webhook_send(charge_ref=result.provider_ref)
    SimulatedCharge.objects.filter(ref=result.provider_ref).update(webhook_sent_at=None)
    assert simulated_webhook_send(charge_ref=result.provider_ref)
    assert len(succeeded) == 1 and WebhookEvent.objects.count() == 1
    assert charge_of(result).webhook_sent_at is not None


@pytest.mark.django_db
def test_an_unreachable_site_raises_for_a_retry_and_the_sweep_resends(
    settings, provider, scheduled, succeeded
):
    settings.PAYMENTS_WEBHOOK_URL = f"http://127.0.0.1:{free_port()}/payments/webhooks/simulated/"
    result = authorize(provider, "pm_card_delayed")
    with pytest.raises(WebhookDeliveryFailed):
        simulated_webhook_send(charge_ref=result.provider_ref)
    assert (
        OSError in tasks.simulated_webhook.autoretry_for and tasks.simulated_webhook.retry_backoff
    )
    charge = charge_of(result)
    assert charge.status == SimulatedCharge.Status.AUTHORIZED and charge.webhook_sent_at is None
    assert succeeded == []

    assert simulated_webhooks_due() == []  # not overdue yet: its task may still retry
    later = timezone.now() + timedelta(minutes=5)
    assert simulated_webhooks_due(now=later) == [result.provider_ref]
    assert simulated_webhooks_due(now=later + timedelta(days=4)) == []  # given up


@pytest.mark.django_db
def test_the_sweep_schedules_the_overdue_webhooks(provider, monkeypatch, scheduled):
    queued = []
    monkeypatch.setattr(tasks.simulated_webhook, "delay", queued.append)
    due = authorize(provider, "pm_card_delayed")
    authorize(provider, "pm_card_delayed")  # just made: not due
    authorize(provider, "pm_card_ok")
    SimulatedCharge.objects.filter(ref=due.provider_ref).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    assert tasks.simulated_webhooks_sweep.apply().get() == 1
    assert queued == [due.provider_ref]


@pytest.mark.django_db
def test_a_payment_voided_while_pending_sends_nothing(provider, scheduled, succeeded):
    result = authorize(provider, "pm_card_delayed")
    provider.void(provider_ref=result.provider_ref, idempotency_key="void")
    assert simulated_webhook_send(charge_ref=result.provider_ref) is False
    assert charge_of(result).status == SimulatedCharge.Status.VOIDED
    assert simulated_webhooks_due(now=timezone.now() + timedelta(minutes=5)) == []
    assert succeeded == []


def test_a_real_worker_delivers_the_delayed_webhook(
    asgi_server, settings, provider, monkeypatch, succeeded
):
    """End to end: authorize → on commit the task is queued with its countdown → a real
    worker (through this configuration's broker) runs it → HTTP → the signal."""
    settings.PAYMENTS_WEBHOOK_URL = f"{asgi_server}/payments/webhooks/simulated/"
    settings.SIMULATED_WEBHOOK_DELAY = 0.5
    queue = f"test-{uuid.uuid4().hex[:8]}"  # nobody else's worker consumes this queue
    send = tasks.simulated_webhook.apply_async
    monkeypatch.setattr(
        tasks.simulated_webhook, "apply_async", lambda *a, **kw: send(*a, queue=queue, **kw)
    )
    with start_worker(
        app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10
    ):
        started = time.monotonic()
        result = authorize(provider, "pm_card_delayed", amount_minor=700)
        assert result.status == "pending"
        deadline = started + 30
        while not succeeded:
            assert time.monotonic() < deadline, "the webhook did not arrive"
            time.sleep(0.1)
    assert time.monotonic() - started >= 0.5
    assert succeeded == [
        ("simulated", result.provider_ref, 700, "USD", "evt_" + result.provider_ref[3:])
    ]
    assert charge_of(result).status == SimulatedCharge.Status.AUTHORIZED


# --- concurrency (PostgreSQL) ------------------------------------------------------------


def _race(count, work):
    outcomes = []
    start = threading.Barrier(count)

    def run(n):
        try:
            start.wait()
            outcomes.append(work(n))
        except Exception as error:  # the refusal is the outcome under test
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_captures_never_exceed_the_authorization(provider):
    result = authorize(provider, amount_minor=1000)
    outcomes = _race(
        10,
        lambda n: (
            provider.capture(
                provider_ref=result.provider_ref, amount_minor=300, idempotency_key=f"cap-{n}"
            ).status
        ),
    )
    assert outcomes.count("succeeded") == 3
    assert outcomes.count("CaptureExceedsAuthorized") == 7
    assert amounts(result) == (1000, 900, 0)
    assert SimulatedOperation.objects.filter(kind="capture").count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_with_one_key_charge_once(provider):
    outcomes = _race(8, lambda n: authorize(provider, key="one-key").provider_ref)
    assert len(set(outcomes)) == 1 and outcomes[0].startswith("ch_sim_")
    assert SimulatedCharge.objects.count() == 1
