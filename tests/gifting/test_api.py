"""The coins API: packs, the wallet, and buying coins with an Idempotency-Key."""

from rest_framework.test import APIClient

from gifting import selectors
from gifting.models import CoinPurchase
from payments.ledger_models import LedgerEntry


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post_coins(client, body, key="k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/wallet/coins/", body, format="json", **headers)


def test_anyone_lists_the_packs_on_sale_in_few_queries(
    api_client, packs, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        response = api_client.get("/api/v1/coin-packs/")
    assert response.status_code == 200
    assert response.json() == [
        {"id": packs[coins].pk, "coins": coins, "price": price, "currency": "USD"}
        for coins, price in [(70, 99), (350, 499), (700, 999)]
    ]


def test_buying_coins_answers_the_paid_purchase_and_the_wallet_shows_them(
    buyer, packs, django_assert_max_num_queries
):
    client = client_for(buyer)
    response = post_coins(client, {"pack": packs[350].pk})
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["coins"], body["price"], body["pack"]) == (
        "paid",
        350,
        499,
        packs[350].pk,
    )
    post_coins(client, {"pack": packs[70].pk, "payment_method": "pm_card_ok"}, key="k-2")
    with django_assert_max_num_queries(3):
        wallet = client.get("/api/v1/wallet/")
    assert wallet.status_code == 200
    data = wallet.json()
    assert data["coins"] == 420
    assert [(e["coins"], e["kind"]) for e in data["history"]] == [
        (70, "coins.purchased"),
        (350, "coins.purchased"),
    ]


def test_a_new_wallet_is_empty(buyer):
    assert client_for(buyer).get("/api/v1/wallet/").json() == {"coins": 0, "history": []}


def test_the_same_key_and_body_twice_buys_once(buyer, packs):
    client = client_for(buyer)
    first = post_coins(client, {"pack": packs[70].pk})
    again = post_coins(client, {"pack": packs[70].pk})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert CoinPurchase.objects.count() == 1
    assert selectors.wallet_balance(user=buyer) == 70


def test_the_same_key_with_another_body_is_409(buyer, packs):
    client = client_for(buyer)
    assert post_coins(client, {"pack": packs[70].pk}).status_code == 201
    response = post_coins(client, {"pack": packs[700].pk})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert selectors.wallet_balance(user=buyer) == 70


def test_a_missing_idempotency_key_is_400_and_buys_nothing(buyer, packs):
    response = post_coins(client_for(buyer), {"pack": packs[70].pk}, key=None)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"
    assert not CoinPurchase.objects.exists()


def test_a_declined_card_is_402_and_credits_nothing(buyer, packs):
    response = post_coins(
        client_for(buyer), {"pack": packs[350].pk, "payment_method": "pm_card_declined"}
    )
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "payment_declined"
    assert CoinPurchase.objects.get().status == "failed"
    assert not LedgerEntry.objects.exists()


def test_a_delayed_card_answers_pending_payment(buyer, packs, scheduled):
    response = post_coins(
        client_for(buyer), {"pack": packs[700].pk, "payment_method": "pm_card_delayed"}
    )
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["payment_state"]) == (
        "pending_payment",
        "pending",
    )
    assert selectors.wallet_balance(user=buyer) == 0


def test_an_unknown_or_retired_pack_is_404(buyer, packs):
    client = client_for(buyer)
    for key, pack_id in (("a", 999_999), ("b", packs["retired"].pk)):
        response = post_coins(client, {"pack": pack_id}, key=key)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert not CoinPurchase.objects.exists()


def test_bad_input_is_400_with_field_messages(buyer, packs):
    client = client_for(buyer)
    cases = [
        ({}, "pack"),
        ({"pack": "many"}, "pack"),
        ({"pack": 0}, "pack"),
        ({"pack": packs[70].pk, "payment_method": "pm_nonsense"}, "payment_method"),
        ({"pack": packs[70].pk, "payment_method": "x" * 61}, "payment_method"),
    ]
    for index, (body, field) in enumerate(cases):
        response = post_coins(client, body, key=f"bad-{index}")
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"], body
    assert not CoinPurchase.objects.filter(status="paid").exists()
    assert selectors.wallet_balance(user=buyer) == 0


def test_the_wallet_needs_a_login(api_client, packs):
    assert api_client.get("/api/v1/wallet/").status_code == 401
    response = post_coins(api_client, {"pack": packs[70].pk})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
