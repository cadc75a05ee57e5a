"""GIFTING_COINS_RATE: coin purchases per buyer, over the API and the wallet page
together; past it, 429 and nothing is bought."""

from gifting.models import CoinPurchase
from tests.gifting.conftest import token
from tests.gifting.test_api import client_for, post_coins


def test_coin_purchases_are_rate_limited_on_the_api_and_the_page_together(
    client, buyer, packs, settings
):
    settings.GIFTING_COINS_RATE = "2/min"
    api = client_for(buyer)
    assert post_coins(api, {"pack": packs[70].pk}, key="k-1").status_code == 201
    client.force_login(buyer)
    page = client.get("/wallet/").content.decode()
    response = client.post("/wallet/coins", {"pack": packs[70].pk, "token": token(page)})
    assert response.status_code == 302
    refused = post_coins(api, {"pack": packs[70].pk}, key="k-2")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    page = client.get("/wallet/").content.decode()
    response = client.post("/wallet/coins", {"pack": packs[70].pk, "token": token(page)})
    assert response.status_code == 429
    assert "Too many purchases" in response.content.decode()
    assert CoinPurchase.objects.count() == 2
