import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from streams import services
from streams.models import CarouselItem, Deal, Stream
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(live_host):
    return services.stream_schedule(host=live_host, title="Tonight", scheduled_at=timezone.now())


def test_publish_hook_puts_the_live_on_air_and_renames_it(client, scheduled):
    stream, key = scheduled
    response = client.post("/hooks/rtmp/publish", {"app": "live", "name": key, "call": "publish"})
    assert response.status_code == 302 and response["Location"] == str(stream.pk)
    stream.refresh_from_db()
    assert stream.status == "live" and stream.started_at
    # Publishing twice is harmless.
    assert client.post("/hooks/rtmp/publish", {"name": key}).status_code == 302
    stream.refresh_from_db()
    assert stream.status == "live"
    response = client.post("/hooks/rtmp/publish_done", {"name": "x", "key": key})
    assert response.status_code == 200
    stream.refresh_from_db()
    assert stream.status == "ended"


def test_publish_hook_refuses_unknown_and_rotated_keys(client, scheduled, live_host):
    stream, key = scheduled
    assert client.post("/hooks/rtmp/publish", {"name": "live_nope"}).status_code == 403
    services.stream_key_rotate(stream=stream, actor=live_host)
    assert client.post("/hooks/rtmp/publish", {"name": key}).status_code == 403
    stream.refresh_from_db()
    assert stream.status == "scheduled"


def test_publish_hook_refuses_a_banned_host(client, scheduled, live_host):
    stream, key = scheduled
    live_host.is_active = False
    live_host.save()
    assert client.post("/hooks/rtmp/publish", {"name": key}).status_code == 403
    assert Stream.objects.get(pk=stream.pk).status == "scheduled"


def test_hooks_answer_only_the_media_servers_network(client, scheduled):
    stream, key = scheduled
    response = client.post("/hooks/rtmp/publish", {"name": key}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert Stream.objects.get(pk=stream.pk).status == "scheduled"


def _api(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_stream_list_snapshot_and_constant_queries(live, products, django_assert_max_num_queries):
    services.carousel_set(stream=live, actor=live.host, product_ids=[p.pk for p in products])
    with django_assert_max_num_queries(3):
        response = _api().get("/api/v1/streams/", {"status": "live"})
    assert [s["id"] for s in response.json()["results"]] == [live.pk]
    with django_assert_max_num_queries(8):
        snapshot = _api().get(f"/api/v1/streams/{live.pk}/snapshot/").json()
    assert {"seq", "stream", "carousel", "deal", "viewers", "likes", "chat"} <= set(snapshot)
    assert len(snapshot["carousel"]) == 3


def test_schedule_over_the_api_returns_the_key_once(live_host):
    response = _api(live_host).post(
        "/api/v1/streams/",
        {"title": "API live", "scheduled_at": timezone.now().isoformat()},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["stream_key"].startswith("live_") and body["ingest_url"].startswith("rtmp://")
    assert "stream_key" not in _api(live_host).get(f"/api/v1/streams/{body['id']}/").json()


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("carousel/", {"products": [1]}),
        ("pin/", {"product": 1}),
        ("deals/", {"product": 1, "price": 100, "quantity": 1, "seconds": 60}),
        ("end/", {}),
        ("chat-settings/", {"slow_mode_seconds": 5}),
    ],
)
def test_only_the_host_changes_the_live(live, products, path, payload):
    payload = {
        k: (products[0].pk if v == 1 and k in ("product",) else v) for k, v in payload.items()
    }
    if "products" in payload:
        payload["products"] = [products[0].pk]
    method = "patch" if path == "chat-settings/" else "post"
    anonymous = getattr(_api(), method)(f"/api/v1/streams/{live.pk}/{path}", payload, format="json")
    assert anonymous.status_code == 401
    stranger = getattr(_api(UserFactory()), method)(
        f"/api/v1/streams/{live.pk}/{path}", payload, format="json"
    )
    assert stranger.status_code == 403
    assert stranger.json()["error"]["code"] == "not_host"
    live.refresh_from_db()
    assert live.status == "live" and live.slow_mode_seconds == 0
    assert not CarouselItem.objects.exists() and not Deal.objects.exists()


def test_staff_can_end_any_live(live, staff):
    assert _api(staff).post(f"/api/v1/streams/{live.pk}/end/").status_code == 200
    live.refresh_from_db()
    assert live.status == "ended"


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("carousel/", {"products": "not a list"}, "products"),
        ("pin/", {"product": "abc"}, "product"),
        ("deals/", {"product": 1, "price": -1, "quantity": 1, "seconds": 60}, "price"),
        ("deals/", {"product": 1, "price": 100, "quantity": 0, "seconds": 60}, "quantity"),
        ("deals/", {"product": 1, "price": 100, "quantity": 1, "seconds": 5}, "seconds"),
    ],
)
def test_bad_host_input_is_a_400(live, path, payload, field):
    response = _api(live.host).post(f"/api/v1/streams/{live.pk}/{path}", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not CarouselItem.objects.exists() and not Deal.objects.exists()


def test_hooks_are_never_redirected_to_https(client, scheduled, settings):
    """A 3xx is "accepted" to nginx-rtmp: the HTTPS redirect must not answer the hooks."""
    settings.SECURE_SSL_REDIRECT = True
    stream, key = scheduled
    assert client.get("/").status_code == 301  # pages do go to HTTPS
    assert client.post("/hooks/rtmp/publish", {"name": "live_wrong"}).status_code == 403
    assert client.post("/hooks/rtmp/publish", {"name": key}).status_code == 302
    assert Stream.objects.get(pk=stream.pk).status == "live"
