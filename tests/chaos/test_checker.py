"""The chaos checker (bench/chaos/checker.py) on made-up histories, so that it is known to
fail when money is lost or doubled, and on a real database."""

import itertools

import pytest
from django.utils import timezone

from bench.chaos.checker import (
    CHECKOUT,
    FAIL,
    GIFT,
    OK,
    UNKNOWN,
    Op,
    Recorder,
    check,
    load_history,
    read_database,
)

_clock = itertools.count(1)


def op(outcome, key="k1", *, kind=CHECKOUT, user=1, amount=4900, process="c1"):
    start = next(_clock)
    return Op(process, kind, user, key, amount, start, start + 0.5, outcome, {})


def test_a_clean_history_is_sound():
    history = [op(OK, "a"), op(FAIL, "b"), op(UNKNOWN, "c"), op(UNKNOWN, "d")]
    verdict = check(history, {(CHECKOUT, 1, "a"): [4900], (CHECKOUT, 1, "c"): [4900]})
    assert verdict.sound, verdict.details()
    assert verdict.summary().endswith("lost: 0, duplicated: 0")
    assert verdict.operations == {OK: 1, FAIL: 1, UNKNOWN: 2}
    assert (verdict.unknown_present, verdict.unknown_absent) == (1, 1)


def test_an_acknowledged_operation_that_is_missing_is_lost():
    verdict = check([op(OK, "a"), op(OK, "b")], {(CHECKOUT, 1, "a"): [4900]})
    assert not verdict.sound
    assert verdict.lost == [(CHECKOUT, 1, "b")]
    assert "lost: 1, duplicated: 0" in verdict.summary()


def test_an_operation_done_twice_is_duplicated_whatever_its_outcome():
    found = {(CHECKOUT, 1, "a"): [4900, 4900], (GIFT, 1, "g"): [10, 10]}
    verdict = check([op(OK, "a"), op(UNKNOWN, "g", kind=GIFT, amount=10)], found)
    assert [name for name, _ in verdict.duplicated] == [(CHECKOUT, 1, "a"), (GIFT, 1, "g")]
    assert "duplicated: 2" in verdict.summary()


def test_a_refused_operation_that_was_done_is_caught():
    verdict = check([op(FAIL, "a")], {(CHECKOUT, 1, "a"): [4900]})
    assert verdict.failed_present == [((CHECKOUT, 1, "a"), [4900])]
    assert not verdict.sound


def test_retries_of_one_key_are_one_operation():
    # Two attempts timed out, the third was acknowledged: one operation, done once.
    history = [op(UNKNOWN, "a"), op(UNKNOWN, "a"), op(OK, "a")]
    verdict = check(history, {(CHECKOUT, 1, "a"): [4900]})
    assert verdict.sound
    assert verdict.operations == {OK: 1}
    assert verdict.attempts == {UNKNOWN: 2, OK: 1}
    # Unanswered, then refused: the server's answer for the key is that nothing was done.
    refused = [op(UNKNOWN, "b"), op(FAIL, "b")]
    assert check(refused, {}).operations == {FAIL: 1}
    assert check(refused, {(CHECKOUT, 1, "b"): [4900]}).failed_present
    # The same key for another user is another operation.
    assert check([op(OK, "a", user=2)], {(CHECKOUT, 1, "a"): [4900]}).lost


def test_wrong_amounts_and_work_nobody_asked_for_are_caught():
    verdict = check([op(OK, "a", amount=4900)], {(CHECKOUT, 1, "a"): [9800], (GIFT, 1, "x"): [5]})
    assert verdict.wrong_amount and verdict.unexpected == [(GIFT, 1, "x")]


def test_ledger_and_stock_invariants():
    verdict = check(
        [],
        {},
        unit_totals={"USD": 0, "COIN": -5},
        ledger_problems=["wallet:coins:user:1: cached 5 != entries 0"],
        stock={1: (3, 7), 2: (5, 4), 3: (-1, 11)},
        received={1: 10, 2: 10, 3: 10, 4: 10},
    )
    assert verdict.problems == [
        "the ledger's COIN entries sum to -5, not 0",
        "wallet:coins:user:1: cached 5 != entries 0",
        "variant 2: stock 5 + sold 4 != received 10",
        "variant 3: stock -1 + sold 11 != received 10",
        "variant 4 is missing",
    ]


def test_unknown_outcomes_are_refused():
    with pytest.raises(ValueError):
        check([op("maybe")], {})


def test_the_history_file_round_trips(tmp_path):
    recorder = Recorder(tmp_path / "history.jsonl", meta={"received": {"7": 10}})
    recorder.record(op(OK, "a"))
    recorder.record(op(UNKNOWN, "b", kind=GIFT, amount=10))
    meta, ops = load_history(tmp_path / "history.jsonl")
    assert meta == {"received": {"7": 10}}
    assert [(o.op, o.key, o.outcome) for o in ops] == [(CHECKOUT, "a", OK), (GIFT, "b", UNKNOWN)]


@pytest.mark.django_db(transaction=True)
def test_the_database_is_read_as_the_api_wrote_it(api_client):
    """A paid order and a sent gift made through the API are found once under their keys;
    a checkout refused for want of stock is absent; stock, ledger and balances hold."""
    from gifting.models import CoinPack, Gift
    from gifting.services import coins_buy
    from orders.services import address_add
    from payments.provider_services import payment_method_add
    from streams import realtime
    from streams import services as streams_services
    from tests.factories import ShopFactory, UserFactory, make_product

    realtime.reset_local_state()
    buyer = UserFactory(handle="buyer")
    address_add(
        user=buyer,
        data={"name": "B", "line1": "1 St", "city": "X", "postal_code": "1", "country": "US"},
    )
    payment_method_add(
        user=buyer, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123"
    )
    shop = ShopFactory(handle="shop", owner=UserFactory(handle="owner", is_business=True))
    product = make_product(shop, "Mug", sku="M", price_minor=2800, stock=1)
    variant = product.variants.get()
    host = UserFactory(handle="host", is_business=True)
    stream, _ = streams_services.stream_schedule(
        host=host, title="Live", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(stream=stream, actor=host, playback_url="https://x/a.m3u8")
    gift = Gift.objects.create(name="Heart", slug="heart", coins=5)
    pack = CoinPack.objects.create(coins=100, price_minor=199, currency="USD")
    coins_buy(buyer=buyer, pack_id=pack.pk, checkout_key="c1", payment_method="pm_card_ok")
    api_client.force_authenticate(buyer)
    body = {"items": [{"variant": variant.pk, "quantity": 1}], "payment_method": "pm_card_ok"}
    assert (
        api_client.post(
            "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="o1"
        ).status_code
        == 201
    )
    assert (
        api_client.post(
            "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="o2"
        ).status_code
        == 409
    )
    sent = api_client.post(
        f"/api/v1/streams/{stream.pk}/gifts/",
        {"gift": gift.pk, "quantity": 2},
        format="json",
        HTTP_IDEMPOTENCY_KEY="g1",
    )
    assert sent.status_code == 201, sent.json()

    state = read_database(users=[buyer.pk], variants=[variant.pk])
    history = [
        op(OK, "o1", user=buyer.pk, amount=2800),
        op(FAIL, "o2", user=buyer.pk, amount=2800),
        op(OK, "g1", kind=GIFT, user=buyer.pk, amount=2 * gift.coins),
    ]
    found = state.pop("found")
    verdict = check(history, found, received={variant.pk: 1}, **state)
    assert verdict.sound, verdict.details()
    # Had the client been told the refused checkout went through, it would be lost.
    history[1] = op(OK, "o2", user=buyer.pk, amount=2800)
    assert check(history, found).lost == [(CHECKOUT, buyer.pk, "o2")]
