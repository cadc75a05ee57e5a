"""The wallet page: balance, history and buying a pack with the default card or a new one."""

import pytest
from django.contrib.messages import get_messages

from gifting import selectors, services
from gifting.models import CoinPurchase, Gift
from payments.provider_models import PaymentMethod
from tests.factories import UserFactory
from tests.gifting.conftest import go_live, token


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_wallet_shows_balance_history_and_packs_in_few_queries(
    client, buyer, packs, django_assert_max_num_queries
):
    for index, pack in enumerate((packs[70], packs[350], packs[70])):
        services.coins_buy(buyer=buyer, pack_id=pack.pk, checkout_key=f"k{index}")
    live = go_live(UserFactory(handle="hana", is_business=True))
    rose = Gift.objects.create(name="Rose", slug="rose", coins=5)
    services.gift_send(
        sender=buyer, stream_id=live.pk, gift_id=rose.pk, quantity=2, idempotency_key="g"
    )
    client.force_login(buyer)
    with django_assert_max_num_queries(10):
        response = client.get("/wallet/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="wallet-balance">480<' in html
    assert html.count('data-testid="wallet-entry"') == 4
    # What moved the coins, in words: never a ledger kind.
    assert f"Sent 2 × Rose in live {live.pk}" in html and "gift.sent" not in html
    assert html.count('data-testid="coin-pack"') == 3  # the retired pack is not on sale
    assert "Buy for $4.99" in html and "1,000 coins" not in html
    assert "ending in 4242" in html and 'data-testid="card-form"' not in html


def test_buying_a_pack_on_the_page_credits_it_once(client, buyer, packs):
    client.force_login(buyer)
    page = client.get("/wallet/").content.decode()
    form = {"pack": packs[700].pk, "token": token(page)}
    response = client.post("/wallet/coins", form)
    assert response.status_code == 302 and response["Location"] == "/wallet/"
    assert flash(response) == ["700 coins added to your wallet."]
    # The same page submitted again (a double click) buys nothing more.
    client.post("/wallet/coins", form)
    assert CoinPurchase.objects.count() == 1
    assert selectors.wallet_balance(user=buyer) == 700
    html = client.get("/wallet/").content.decode()
    assert 'data-testid="wallet-balance">700<' in html and "Bought coins" in html


def test_a_buyer_without_a_card_adds_one_while_buying(client, packs):
    newcomer = UserFactory(handle="newcomer")
    client.force_login(newcomer)
    page = client.get("/wallet/").content.decode()
    assert 'data-testid="card-form"' in page
    card = {
        "card-number": "4242 4242 4242 4242",
        "card-expiry": "12/39",
        "card-cvc": "123",
        "card-make_default": "on",
    }
    bad = client.post("/wallet/coins", {"pack": packs[70].pk, "token": token(page)})
    assert bad.status_code == 400 and "Check the card details." in bad.content.decode()
    response = client.post("/wallet/coins", {"pack": packs[70].pk, "token": token(page), **card})
    assert response.status_code == 302
    assert PaymentMethod.objects.get(user=newcomer).is_default
    assert selectors.wallet_balance(user=newcomer) == 70


def test_a_declined_card_on_the_page_says_so_and_credits_nothing(client, packs):
    newcomer = UserFactory(handle="newcomer")
    client.force_login(newcomer)
    page = client.get("/wallet/").content.decode()
    response = client.post(
        "/wallet/coins",
        {
            "pack": packs[350].pk,
            "token": token(page),
            "card-number": "4000 0000 0000 0002",
            "card-expiry": "12/39",
            "card-cvc": "123",
        },
    )
    assert response.status_code == 402
    html = response.content.decode()
    assert 'data-testid="coins-error"' in html and "declined" in html
    assert token(html) != token(page)  # the next try is a new purchase
    assert selectors.wallet_balance(user=newcomer) == 0


def test_a_delayed_card_on_the_page_says_the_coins_come_later(client, buyer, packs, scheduled):
    PaymentMethod.objects.filter(user=buyer).update(is_default=False)
    client.force_login(buyer)
    response = client.post(
        "/wallet/coins",
        {
            "pack": packs[70].pk,
            "token": token(client.get("/wallet/").content.decode()),
            "card-number": "4000 0000 0000 3220",
            "card-expiry": "12/39",
            "card-cvc": "123",
            "card-make_default": "on",
        },
    )
    assert response.status_code == 302
    assert "arrive as soon as it does" in flash(response)[0]
    assert selectors.wallet_balance(user=buyer) == 0


@pytest.mark.parametrize("path", ["/wallet/"])
def test_the_wallet_needs_a_login(client, path, db):
    response = client.get(path)
    assert response.status_code == 302 and "login" in response["Location"]


def test_staff_manage_packs_and_gifts_in_the_admin(client, staff, buyer, packs):
    services.coins_buy(buyer=buyer, pack_id=packs[70].pk, checkout_key="k")
    client.force_login(staff)
    for path in (
        "/admin/gifting/coinpack/",
        "/admin/gifting/gift/",
        "/admin/gifting/gift/add/",
        "/admin/gifting/coinpurchase/",
    ):
        assert client.get(path).status_code == 200, path


def test_a_gift_picture_uploaded_by_staff_is_checked_and_re_encoded(client, staff):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gifting.demo import _picture
    from gifting.models import Gift

    client.force_login(staff)
    form = {"name": "Rose", "slug": "rose", "coins": 1, "level": "small", "position": 0}
    bogus = SimpleUploadedFile("rose.png", b"not an image", content_type="image/png")
    response = client.post("/admin/gifting/gift/add/", {**form, "image": bogus})
    assert response.status_code == 200 and not Gift.objects.exists()
    response = client.post(
        "/admin/gifting/gift/add/", {**form, "image": _picture("R", ("#f00", "#00f"))}
    )
    assert response.status_code == 302
    gift = Gift.objects.get()
    assert gift.image.name.endswith(".webp")
    too_dear = client.post("/admin/gifting/gift/add/", {**form, "slug": "gold", "coins": 30_001})
    assert too_dear.status_code == 200 and Gift.objects.count() == 1
