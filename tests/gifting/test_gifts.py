"""Sending a gift in a live: the coins leave the wallet, the host earns their share, the
platform the rest, one balanced ledger transaction, and gift.sent to everyone watching."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gifting import selectors, sends, services
from gifting.errors import (
    GiftNotFound,
    GiftToSelf,
    InvalidGift,
    LiveNotFound,
    NotEnoughCoins,
    StreamNotLive,
)
from gifting.models import GiftSend, GiftTotal
from payments.ledger import account_balance
from payments.ledger_models import LedgerAccount, LedgerTransaction
from streams import services as streams_services
from tests.gifting.conftest import give_coins


def earnings(user) -> int:
    account = LedgerAccount.objects.filter(code=f"earnings:gifts:user:{user.pk}:USD").first()
    return account_balance(account=account) if account else 0


def commission() -> int:
    account = LedgerAccount.objects.filter(code="platform:gift-commission:USD").first()
    return account_balance(account=account) if account else 0


def send(viewer, live, gift, quantity=1, key="g-1"):
    return services.gift_send(
        sender=viewer, stream_id=live.pk, gift_id=gift.pk, quantity=quantity, idempotency_key=key
    )


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post_gift(client, live, body, key="k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/streams/{live.pk}/gifts/", body, format="json", **headers)


# --- the service -------------------------------------------------------------------------------


def test_a_gift_debits_the_wallet_and_splits_its_value_between_host_and_platform(
    viewer, host, live, gifts
):
    give_coins(viewer, 100)
    sent = send(viewer, live, gifts["heart"], quantity=3)

    assert (sent.coins, sent.value_minor, sent.creator_minor, sent.platform_minor) == (15, 15, 7, 8)
    assert (sent.creator, sent.stream, sent.currency, sent.settled_at) == (host, live, "USD", None)
    assert selectors.wallet_balance(user=viewer) == 85
    assert earnings(host) == 7
    assert commission() == 8
    txn = LedgerTransaction.objects.get(key=f"gift:{sent.pk}")
    assert txn.kind == "gift.sent"
    amounts = {entry.account.code: entry.amount for entry in txn.entries.select_related("account")}
    assert amounts == {
        f"wallet:coins:user:{viewer.pk}": -15,
        "platform:coins:issued": 15,
        "platform:coin-sales:USD": -15,
        f"earnings:gifts:user:{host.pk}:USD": 7,
        "platform:gift-commission:USD": 8,
    }
    assert selectors.wallet_history(user=viewer)[0].transaction.kind == "gift.sent"


def test_the_share_and_the_coin_value_come_from_settings(viewer, host, live, gifts, settings):
    settings.GIFTING_CREATOR_SHARE_BP = 7000
    settings.GIFTING_COIN_VALUE_MINOR = 3
    give_coins(viewer, 500)
    sent = send(viewer, live, gifts["lion"])
    assert (sent.value_minor, sent.creator_minor, sent.platform_minor) == (1500, 1050, 450)
    assert earnings(host) == 1050


def test_a_one_coin_gift_whose_host_share_rounds_to_nothing_still_balances(
    viewer, host, live, gifts
):
    give_coins(viewer, 10)
    sent = send(viewer, live, gifts["rose"])
    assert (sent.creator_minor, sent.platform_minor) == (0, 1)
    assert earnings(host) == 0 and commission() == 1
    assert selectors.wallet_balance(user=viewer) == 9


def test_the_earnings_account_belongs_to_the_host_and_locks_no_row(viewer, host, live, gifts):
    give_coins(viewer, 100)
    send(viewer, live, gifts["heart"])
    account = LedgerAccount.objects.get(code=f"earnings:gifts:user:{host.pk}:USD")
    assert (account.kind, account.owner, account.track_balance) == ("earnings", host, False)
    assert not account.allow_negative
    assert LedgerAccount.objects.get(code="platform:coin-sales:USD").allow_negative
    assert not LedgerAccount.objects.get(code="platform:gift-commission:USD").allow_negative
    assert not LedgerAccount.objects.get(code=f"wallet:coins:user:{viewer.pk}").allow_negative


def test_the_same_key_twice_sends_once(viewer, live, gifts):
    give_coins(viewer, 100)
    first = send(viewer, live, gifts["heart"], key="tap-1")
    again = send(viewer, live, gifts["heart"], key="tap-1")
    assert again.pk == first.pk
    assert GiftSend.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="gift.sent").count() == 1
    assert selectors.wallet_balance(user=viewer) == 95


@pytest.fixture
def unchanged(viewer):
    """Asserts, after the test's refusal, that nothing moved."""

    def snapshot():
        return (
            selectors.wallet_balance(user=viewer),
            GiftSend.objects.count(),
            LedgerTransaction.objects.count(),
        )

    def check():
        assert snapshot() == before

    give_coins(viewer, 20)
    before = snapshot()
    return check


@pytest.mark.parametrize("quantity", [0, -1, 1_000_000, 10_000, 2.5, "3", True, None])
def test_a_quantity_out_of_range_or_not_a_whole_number_is_refused(
    viewer, live, gifts, unchanged, quantity
):
    with pytest.raises(InvalidGift) as caught:
        send(viewer, live, gifts["rose"], quantity=quantity)
    assert caught.value.status == 400 and "quantity" in caught.value.fields
    unchanged()


def test_an_unknown_or_inactive_gift_is_refused(viewer, live, gifts, unchanged):
    for gift_id in (gifts["retired"].pk, 999_999):
        with pytest.raises(GiftNotFound) as caught:
            services.gift_send(
                sender=viewer, stream_id=live.pk, gift_id=gift_id, quantity=1, idempotency_key="k"
            )
        assert caught.value.status == 404
    unchanged()


def test_a_live_not_on_air_is_refused(viewer, host, live, gifts, unchanged):
    streams_services.stream_end(stream=live, actor=host)
    with pytest.raises(StreamNotLive) as caught:
        send(viewer, live, gifts["rose"])
    assert (caught.value.status, caught.value.code) == (409, "stream_not_live")
    scheduled, _ = streams_services.stream_schedule(
        host=host, title="Later", scheduled_at=timezone.now()
    )
    with pytest.raises(StreamNotLive):
        send(viewer, scheduled, gifts["rose"])
    with pytest.raises(LiveNotFound):
        services.gift_send(
            sender=viewer,
            stream_id=999_999,
            gift_id=gifts["rose"].pk,
            quantity=1,
            idempotency_key="k",
        )
    unchanged()


def test_the_host_cannot_gift_their_own_live(host, live, gifts):
    give_coins(host, 20)
    with pytest.raises(GiftToSelf) as caught:
        send(host, live, gifts["rose"])
    assert (caught.value.status, caught.value.code) == (400, "gift_to_self")
    assert selectors.wallet_balance(user=host) == 20
    assert not GiftSend.objects.exists()


def test_not_enough_coins_is_refused_and_nothing_moves(viewer, host, live, gifts, unchanged):
    with pytest.raises(NotEnoughCoins) as caught:
        send(viewer, live, gifts["heart"], quantity=5)  # 25 coins, 20 in the wallet
    assert (caught.value.status, caught.value.code) == (402, "not_enough_coins")
    unchanged()
    assert earnings(host) == 0
    # The refused key is free: the same tap once coins are bought goes through.
    give_coins(viewer, 10)
    assert send(viewer, live, gifts["heart"], quantity=5).coins == 25


def test_a_viewer_without_a_wallet_has_no_coins(viewer, live, gifts):
    with pytest.raises(NotEnoughCoins):
        send(viewer, live, gifts["rose"])
    assert not GiftSend.objects.exists()


# --- gift.sent ---------------------------------------------------------------------------------


@pytest.fixture
def watching(live, watch_live):
    """A viewer of the live: the events its socket receives, one at a time."""
    return watch_live(live.pk).received


def test_gift_sent_reaches_the_live_after_commit(
    viewer, live, gifts, watching, django_capture_on_commit_callbacks
):
    give_coins(viewer, 1000)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent = send(viewer, live, gifts["lion"])
    assert callbacks, "gift.sent waits for the commit"
    for callback in callbacks:
        callback()
    event = watching()
    assert event["type"] == "gift.sent"
    assert event["data"] == {
        "id": sent.pk,
        "sender": {"handle": "viewer", "name": "Vera Viewer"},
        "gift": {"id": gifts["lion"].pk, "name": "Lion", "image": None, "level": "fullscreen"},
        "quantity": 1,
        "coins": 500,
        "combo": 1,
        "leaderboard": [{"handle": "viewer", "name": "Vera Viewer", "coins": 500}],
    }


def test_a_refused_gift_announces_nothing(viewer, live, gifts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(NotEnoughCoins):
        send(viewer, live, gifts["lion"])
    assert callbacks == []


def test_combo_counts_the_same_gift_sent_again_by_one_sender_within_five_seconds(
    viewer, merchant, live, gifts, watching, django_capture_on_commit_callbacks
):
    give_coins(viewer, 100)
    give_coins(merchant, 100)

    def combo_of(user, gift, key):
        with django_capture_on_commit_callbacks(execute=True):
            send(user, live, gift, key=key)
        return watching()["data"]["combo"]

    assert [combo_of(viewer, gifts["rose"], f"r{i}") for i in range(3)] == [1, 2, 3]
    assert combo_of(viewer, gifts["heart"], "h1") == 1  # another gift
    assert combo_of(merchant, gifts["rose"], "m1") == 1  # another sender
    # Another gift in between starts a new combo.
    assert [combo_of(viewer, gifts["rose"], f"r{i}") for i in (4, 5)] == [1, 2]
    # A send longer than the window after the last one starts again too.
    GiftTotal.objects.filter(sender=viewer, stream=live).update(
        last_sent_at=timezone.now() - sends.COMBO_WINDOW - timezone.timedelta(seconds=1)
    )
    assert combo_of(viewer, gifts["rose"], "r6") == 1


# --- the API -----------------------------------------------------------------------------------


def test_anyone_lists_the_active_gifts_in_few_queries(
    api_client, gifts, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        response = api_client.get("/api/v1/gifts/")
    assert response.status_code == 200
    assert response.json() == [
        {"id": gifts[slug].pk, "name": name, "coins": coins, "image": None, "level": level}
        for slug, name, coins, level in [
            ("rose", "Rose", 1, "small"),
            ("heart", "Heart", 5, "small"),
            ("lion", "Lion", 500, "fullscreen"),
        ]
    ]


def test_sending_a_gift_answers_the_send_and_the_new_balance(viewer, host, live, gifts):
    give_coins(viewer, 100)
    client = client_for(viewer)
    response = post_gift(client, live, {"gift": gifts["heart"].pk, "quantity": 4})
    assert response.status_code == 201
    sent = GiftSend.objects.get()
    assert response.json() == {
        "id": sent.pk,
        "gift": gifts["heart"].pk,
        "quantity": 4,
        "coins": 20,
        "creator_share": 10,
        "currency": "USD",
        "wallet": 80,
    }
    assert earnings(host) == 10 and commission() == 10
    # A retry with the same key gets the same answer and moves nothing more.
    again = post_gift(client, live, {"gift": gifts["heart"].pk, "quantity": 4})
    assert (again.status_code, again.json()) == (201, response.json())
    assert GiftSend.objects.count() == 1
    assert selectors.wallet_balance(user=viewer) == 80
    # The same key with another body is a conflict.
    other = post_gift(client, live, {"gift": gifts["heart"].pk, "quantity": 5})
    assert other.status_code == 409


@pytest.mark.parametrize(
    ("body", "key", "status", "code"),
    [
        ({"quantity": 1}, "k", 400, "invalid"),
        ({"gift": "rose", "quantity": 1}, "k", 400, "invalid"),
        ({"gift": "GIFT", "quantity": 0}, "k", 400, "invalid"),
        ({"gift": "GIFT", "quantity": 1_000_000}, "k", 400, "invalid"),
        ({"gift": "GIFT", "quantity": 1.5}, "k", 400, "invalid"),
        ({"gift": "GIFT", "quantity": 1}, "", 400, None),
        ({"gift": 999_999, "quantity": 1}, "k", 404, "not_found"),
        ({"gift": "RETIRED", "quantity": 1}, "k", 404, "not_found"),
        ({"gift": "GIFT", "quantity": 9_999}, "k", 402, "not_enough_coins"),
    ],
)
def test_bad_requests_are_refused_and_nothing_moves(
    viewer, live, gifts, unchanged, body, key, status, code
):
    body = {
        name: {"GIFT": gifts["heart"].pk, "RETIRED": gifts["retired"].pk}.get(value, value)
        for name, value in body.items()
    }
    response = post_gift(client_for(viewer), live, body, key=key)
    assert response.status_code == status, response.json()
    if code:
        assert response.json()["error"]["code"] == code
    unchanged()


def test_a_missing_idempotency_key_is_refused(viewer, live, gifts, unchanged):
    response = post_gift(client_for(viewer), live, {"gift": gifts["rose"].pk}, key=None)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"
    unchanged()


@pytest.fixture
def host_coins(host):
    give_coins(host, 10)


def test_a_gift_to_an_ended_live_or_your_own_is_refused_over_the_api(
    viewer, host, live, gifts, host_coins, unchanged
):
    own = post_gift(client_for(host), live, {"gift": gifts["rose"].pk})
    assert (own.status_code, own.json()["error"]["code"]) == (400, "gift_to_self")
    streams_services.stream_end(stream=live, actor=host)
    ended = post_gift(client_for(viewer), live, {"gift": gifts["rose"].pk}, key="k-2")
    assert (ended.status_code, ended.json()["error"]["code"]) == (409, "stream_not_live")
    unchanged()


def test_sending_needs_a_signed_in_viewer(api_client, live, gifts):
    response = post_gift(api_client, live, {"gift": gifts["rose"].pk})
    assert response.status_code in (401, 403)
    assert not GiftSend.objects.exists()


def test_gift_sends_are_rate_limited_per_sender(viewer, live, gifts, settings):
    settings.GIFTING_GIFTS_RATE = "2/min"
    give_coins(viewer, 10)
    client = client_for(viewer)
    codes = [
        post_gift(client, live, {"gift": gifts["rose"].pk}, key=f"k{i}").status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]
    assert selectors.wallet_balance(user=viewer) == 8
