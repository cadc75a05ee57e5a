from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Notification
from streams import services
from streams.models import CarouselEvent, CarouselItem, Deal, Reminder, Stream
from tests.factories import ShopFactory, UserFactory, make_product

pytestmark = pytest.mark.django_db


def test_schedule_shows_the_key_once_and_stores_only_its_hash(client, live_host):
    client.force_login(live_host)
    response = client.post(
        "/studio/",
        {
            "title": "Sunday restock",
            "scheduled_at": (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    stream = Stream.objects.get()
    page = client.get(response.url).content.decode()
    key = page.split('data-testid="stream-key">Stream key (shown once): <code>')[1].split("<")[0]
    assert key.startswith("live_") and stream.stream_key_hash != key
    assert services.stream_by_key(key) == stream
    assert key not in client.get(response.url).content.decode()  # once


def test_schedule_refuses_bad_input(client, live_host):
    client.force_login(live_host)
    response = client.post("/studio/", {"title": "", "scheduled_at": "tomorrow"})
    assert response.status_code == 400
    assert not Stream.objects.exists()


def test_console_runs_a_live(client, live_host, products):
    stream, _ = services.stream_schedule(host=live_host, title="Drop", scheduled_at=timezone.now())
    client.force_login(live_host)
    url = f"/studio/{stream.pk}/"
    client.post(url, {"action": "go_live", "playback_url": "https://cdn.example/a.m3u8"})
    stream.refresh_from_db()
    assert stream.status == "live" and stream.playback_url == "https://cdn.example/a.m3u8"
    for product in products[:2]:
        client.post(url, {"action": "add", "product": product.pk})
    client.post(url, {"action": "pin", "product": products[1].pk})
    client.post(url, {"action": "move", "product": products[1].pk, "direction": "up"})
    items = list(CarouselItem.objects.filter(stream=stream).values_list("product_id", "pinned"))
    assert items == [(products[1].pk, True), (products[0].pk, False)]
    client.post(
        url,
        {
            "action": "deal",
            "product": products[0].pk,
            "price": "39.00",
            "quantity": "10",
            "seconds": "60",
            "currency": "USD",
        },
    )
    deal = Deal.objects.get()
    assert (deal.price_minor, deal.quantity, deal.status) == (3900, 10, "active")
    client.post(
        url, {"action": "chat_settings", "slow_mode_seconds": "5", "blocked_words": "scam\n"}
    )
    stream.refresh_from_db()
    assert stream.slow_mode_seconds == 5 and stream.blocked_word_list == ["scam"]
    client.post(url, {"action": "end"})
    stream.refresh_from_db()
    assert stream.status == "ended"
    assert Deal.objects.get().status == "ended"
    assert CarouselEvent.objects.filter(stream=stream, kind="pinned").count() == 1


def test_console_belongs_to_the_host(client, live, products):
    client.force_login(UserFactory())
    assert client.get(f"/studio/{live.pk}/").status_code == 404
    assert client.post(f"/studio/{live.pk}/", {"action": "end"}).status_code == 404
    live.refresh_from_db()
    assert live.status == "live"


def test_carousel_takes_own_and_affiliate_products_only(live, live_host, products):
    other = ShopFactory(handle="othershop")
    affiliate = make_product(other, "Partner mug", sku="PM", affiliate_rate_bp=1500)
    private = make_product(other, "Not offered", sku="NO")
    services.carousel_set(stream=live, actor=live_host, product_ids=[products[0].pk, affiliate.pk])
    from streams.errors import ProductNotAllowed

    with pytest.raises(ProductNotAllowed):
        services.carousel_set(stream=live, actor=live_host, product_ids=[private.pk])
    assert set(CarouselItem.objects.values_list("product_id", flat=True)) == {
        products[0].pk,
        affiliate.pk,
    }


def test_live_page_renders_the_state_and_escapes_chat(client, live, products):
    services.carousel_pin(stream=live, actor=live.host, product_id=products[0].pk)
    user = UserFactory()
    services.chat_send(user=user, stream_id=live.pk, text="<script>alert(1)</script>")
    body = client.get(f"/live/{live.pk}").content.decode()
    assert "Linen shirt" in body and 'class="carousel-item pinned"' in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_replay_shows_which_product_was_on(client, live, products):
    services.carousel_pin(stream=live, actor=live.host, product_id=products[0].pk)
    services.carousel_pin(stream=live, actor=live.host, product_id=products[1].pk)
    services.stream_end(stream=live, actor=live.host)
    body = client.get(f"/live/{live.pk}").content.decode()
    history = body.split("On in this replay")[1].split("</section>")[0]
    assert history.index("Linen shirt") < history.index("Mug")


def test_feed_orders_followed_hosts_first_and_uses_constant_queries(
    client, django_assert_max_num_queries
):
    viewer = UserFactory()
    hosts = [UserFactory() for _ in range(6)]
    for n, host in enumerate(hosts):
        stream, _ = services.stream_schedule(
            host=host, title=f"Live {n}", scheduled_at=timezone.now()
        )
        services.stream_go_live(stream=stream, actor=host)
        Stream.objects.filter(pk=stream.pk).update(peak_viewers=100 - n)
    for n in range(5):
        services.stream_schedule(
            host=hosts[0], title=f"Soon {n}", scheduled_at=timezone.now() + timedelta(hours=n + 1)
        )
    from accounts.services import user_follow

    user_follow(follower=viewer, followee=hosts[5])
    client.force_login(viewer)
    with django_assert_max_num_queries(8):
        body = client.get("/").content.decode()
    assert body.index("Live 5") < body.index("Live 0") < body.index("Live 1")
    assert "Soon 0" in body


def test_remind_me_then_notified_once_when_live(client, live_host):
    stream, _ = services.stream_schedule(
        host=live_host, title="Later", scheduled_at=timezone.now() + timedelta(hours=2)
    )
    fan = UserFactory(email="fan@example.com")
    client.force_login(fan)
    response = client.post(f"/live/{stream.pk}/remind", {"on": "1"}, HTTP_HX_REQUEST="true")
    assert "Reminder set" in response.content.decode()
    assert Reminder.objects.filter(user=fan).exists()
    from django.core import mail

    from streams.notifications import reminders_notify

    services.stream_go_live(stream=stream, actor=live_host)
    assert reminders_notify(stream_id=stream.pk) == 1
    assert reminders_notify(stream_id=stream.pk) == 0  # a retried task sends nothing twice
    assert Notification.objects.get(user=fan).text.startswith(live_host.name)
    assert [m.to for m in mail.outbox] == [["fan@example.com"]]


def test_deal_validation_and_one_running_deal(live, live_host, products):
    from streams.errors import DealRunning, ProductNotAllowed

    with pytest.raises(ProductNotAllowed):
        services.deal_start(
            stream=live,
            actor=live_host,
            product_id=products[0].pk,
            price_minor=4900,
            quantity=5,
            seconds=60,
        )  # not below the price
    services.deal_start(
        stream=live,
        actor=live_host,
        product_id=products[0].pk,
        price_minor=3900,
        quantity=5,
        seconds=60,
    )
    with pytest.raises(DealRunning):
        services.deal_start(
            stream=live,
            actor=live_host,
            product_id=products[1].pk,
            price_minor=1000,
            quantity=5,
            seconds=60,
        )
    Deal.objects.update(ends_at=timezone.now() - timedelta(seconds=1))
    assert services.deals_expire_due() == 1
    assert services.deals_expire_due() == 0
    assert Deal.objects.get().ended_reason == "time"
