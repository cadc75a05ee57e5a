"""The gift panel over a live (an htmx partial): what a viewer sees before sending, Send
with the panel's token, refusals shown in the panel, and the host console's earnings."""

import re

from django.test import override_settings
from rest_framework.test import APIClient

from gifting import selectors, services
from gifting.models import GiftSend
from streams import services as streams_services
from tests.factories import UserFactory
from tests.gifting.conftest import give_coins, token


def balance_in(html: str) -> str:
    return re.search(r'data-testid="gift-balance">([^<]*)<', html).group(1)


def test_a_viewer_with_coins_sees_gifts_balance_and_the_hosts_share(
    client, viewer, live, gifts, django_assert_max_num_queries
):
    give_coins(viewer, 120)
    client.force_login(viewer)
    with django_assert_max_num_queries(8):
        response = client.get(f"/live/{live.pk}/gifts/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="gift-choice"') == 3  # the retired gift is not offered
    assert "Rose" in html and "500 coins" in html and "Old hat" not in html
    assert balance_in(html) == "120"
    assert 'href="/wallet/"' in html
    assert f"@{live.host.handle} receives 50 % of the value." in html
    assert 'name="quantity" type="number" min="1" max="9999" value="1"' in html
    assert "<html" not in html  # a partial for the dialog, not a page


def test_the_share_line_follows_the_setting(client, viewer, live, gifts, settings):
    settings.GIFTING_CREATOR_SHARE_BP = 3750
    client.force_login(viewer)
    html = client.get(f"/live/{live.pk}/gifts/").content.decode()
    assert "receives 37.5 % of the value." in html


def test_signed_out_viewers_are_offered_to_log_in(client, live, gifts):
    response = client.get(f"/live/{live.pk}/gifts/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="gift-login"' in html and "next=/live/" in html
    assert 'data-testid="gift-send"' not in html
    page = client.get(f"/live/{live.pk}").content.decode()
    assert 'data-testid="gift-login-link"' in page and 'data-testid="gift-button"' not in page
    assert client.post(f"/live/{live.pk}/gifts/", {"gift": gifts["rose"].pk}).status_code == 403
    assert not GiftSend.objects.exists()


def test_the_host_gets_no_panel_and_no_gift_button(client, host, live, gifts):
    client.force_login(host)
    assert client.get(f"/live/{live.pk}/gifts/").status_code == 403
    page = client.get(f"/live/{live.pk}").content.decode()
    assert 'data-testid="gift-button"' not in page and 'data-testid="gift-login-link"' not in page


def test_a_viewer_has_the_gift_button_on_the_live(client, viewer, live):
    client.force_login(viewer)
    page = client.get(f"/live/{live.pk}").content.decode()
    assert f'hx-get="/live/{live.pk}/gifts/"' in page and 'id="gift-sheet"' in page


def test_sending_rerenders_the_panel_with_the_new_balance_and_a_fresh_token(
    client, viewer, live, gifts
):
    give_coins(viewer, 120)
    client.force_login(viewer)
    first = token(client.get(f"/live/{live.pk}/gifts/").content.decode())
    data = {"gift": gifts["heart"].pk, "quantity": 3, "token": first}
    response = client.post(f"/live/{live.pk}/gifts/", data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="gift-sent"' in html and "Sent 3 × Heart (15 coins)" in html
    assert balance_in(html) == "105"
    assert token(html) != first
    assert re.search(rf'value="{gifts["heart"].pk}"\s+checked', html)  # the chosen gift stays
    send = GiftSend.objects.get()
    assert (send.sender, send.stream, send.quantity, send.coins) == (viewer, live, 3, 15)
    assert send.creator_minor == 7  # 50 % of 15 coins at one cent, rounded down

    # The same token again (a double tap, a retried request) is the same send.
    again = client.post(f"/live/{live.pk}/gifts/", data)
    assert again.status_code == 200 and balance_in(again.content.decode()) == "105"
    assert GiftSend.objects.count() == 1
    assert selectors.wallet_balance(user=viewer) == 105


def test_not_enough_coins_is_said_in_the_panel_and_nothing_changes(client, viewer, live, gifts):
    give_coins(viewer, 100)
    client.force_login(viewer)
    data = {
        "gift": gifts["lion"].pk,
        "quantity": 1,
        "token": "6f1c1a9e-0b7e-4f39-9a55-0b1e7d0c0a11",
    }
    response = client.post(f"/live/{live.pk}/gifts/", data)
    assert response.status_code == 402
    html = response.content.decode()
    assert 'data-testid="gift-error"' in html and "Not enough coins" in html
    assert 'href="/wallet/">Buy coins</a></p>' in html
    assert balance_in(html) == "100"
    assert re.search(rf'value="{gifts["lion"].pk}"\s+checked', html)
    assert not GiftSend.objects.exists()
    assert selectors.wallet_balance(user=viewer) == 100


def test_bad_input_and_an_ended_live_are_said_in_the_panel(client, viewer, host, live, gifts):
    give_coins(viewer, 100)
    client.force_login(viewer)
    url = f"/live/{live.pk}/gifts/"
    bad = client.post(url, {"gift": gifts["rose"].pk, "quantity": 0, "token": "x"})
    assert bad.status_code == 400 and "quantity from 1 to 9,999" in bad.content.decode()
    retired = {
        "gift": gifts["retired"].pk,
        "quantity": 1,
        "token": "6f1c1a9e-0b7e-4f39-9a55-0b1e7d0c0a12",
    }
    assert client.post(url, retired).status_code == 404

    streams_services.stream_end(stream=live, actor=host)
    ended = {
        "gift": gifts["rose"].pk,
        "quantity": 1,
        "token": "6f1c1a9e-0b7e-4f39-9a55-0b1e7d0c0a13",
    }
    response = client.post(url, ended)
    assert response.status_code == 409
    html = response.content.decode()
    assert "not on air" in html and 'data-testid="gift-send"' not in html
    assert "not on air" in client.get(url).content.decode()
    assert not GiftSend.objects.exists()
    assert client.get("/live/999999/gifts/").status_code == 404


def test_the_earnings_summary_is_for_the_host_only(
    client, viewer, host, live, gifts, django_assert_max_num_queries
):
    give_coins(viewer, 1000)
    for index, (gift, quantity) in enumerate([("heart", 2), ("lion", 1), ("rose", 1)]):
        services.gift_send(
            sender=viewer,
            stream_id=live.pk,
            gift_id=gifts[gift].pk,
            quantity=quantity,
            idempotency_key=f"s{index}",
        )
    url = f"/live/{live.pk}/gifts/summary"
    assert client.get(url).status_code == 302  # to log in
    client.force_login(viewer)
    assert client.get(url).status_code == 403
    client.force_login(host)
    with django_assert_max_num_queries(5):
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="gift-count">3<' in html
    assert 'data-testid="gift-coins">511<' in html
    # 5 + 250 + 0 cents: each send's share rounded down, as the ledger credits them.
    assert 'data-testid="gift-earnings">$2.55<' in html
    other = UserFactory(handle="otto")
    client.force_login(other)
    assert client.get(url).status_code == 403
    # The host's console loads it with htmx, and reloads it on gift.sent.
    client.force_login(host)
    assert f'hx-get="{url}"' in client.get(f"/studio/{live.pk}/").content.decode()


@override_settings(GIFTING_GIFTS_RATE="2/min")
def test_the_panel_spends_the_same_gift_rate_as_the_api(client, viewer, live, gifts):
    give_coins(viewer, 100)
    client.force_login(viewer)
    api = APIClient()
    api.force_authenticate(viewer)
    sent = api.post(
        f"/api/v1/streams/{live.pk}/gifts/",
        {"gift": gifts["rose"].pk, "quantity": 1},
        format="json",
        headers={"Idempotency-Key": "api-1"},
    )
    assert sent.status_code == 201, sent.content

    def post():
        page = client.get(f"/live/{live.pk}/gifts/").content.decode()
        data = {"gift": gifts["rose"].pk, "quantity": 1, "token": token(page)}
        return client.post(f"/live/{live.pk}/gifts/", data, headers={"HX-Request": "true"})

    assert post().status_code == 200
    refused = post()
    assert refused.status_code == 429
    assert "Too many gifts at once" in refused.content.decode()
    assert GiftSend.objects.count() == 2
