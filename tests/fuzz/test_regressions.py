"""What the API fuzzing found, each pinned by the example that showed it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from streams import services as streams_services
from tests.factories import ShopFactory, UserFactory, make_product, png_bytes
from tests.fuzz.conftest import on_air


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def schema_doc(api_client):
    return api_client.get("/api/schema/", {"format": "json"}).json()


def test_a_gift_id_too_large_for_the_database_is_bad_input_not_a_server_error(viewer, host):
    live = on_air(host, "Big numbers")
    response = client_for(viewer).post(
        f"/api/v1/streams/{live.pk}/gifts/",
        {"gift": 15264511015443636630323200},
        format="json",
        HTTP_IDEMPOTENCY_KEY="g-1",
    )
    assert response.status_code == 400
    assert "gift" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/orders/", {"items": [{"variant": 2**63}]}),
        ("/api/v1/bag/", {"variant": 2**63}),
        ("/api/v1/wallet/coins/", {"pack": 2**63}),
    ],
)
def test_other_ids_too_large_are_bad_input(viewer, path, field):
    response = client_for(viewer).post(path, field, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 400


def test_listing_lives_refuses_an_unknown_status(api_client, db):
    response = api_client.get("/api/v1/streams/", {"status": "\U000f5b09\x1c["})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"status": ["One of: scheduled, live, ended."]}


def test_a_cancelled_live_is_listed_to_nobody(api_client, host):
    stream, _ = streams_services.stream_schedule(
        host=host, title="Called off", scheduled_at=timezone.now()
    )
    streams_services.stream_cancel(stream=stream, actor=host)
    on_air(host, "On now")
    listed = [s["title"] for s in api_client.get("/api/v1/streams/").json()["results"]]
    assert listed == ["On now"]
    assert api_client.get("/api/v1/streams/", {"status": "cancelled"}).status_code == 400


@pytest.mark.parametrize(
    "query", ["status=", "stream=", "stream=99999999999999999999", "stream=%D9%A3"]
)
def test_the_shops_orders_refuse_an_empty_or_impossible_filter(db, query):
    owner = UserFactory(handle="owner", is_business=True)
    ShopFactory(handle="ownshop", owner=owner)
    response = client_for(owner).get(f"/api/v1/shop/orders/?{query}")
    assert response.status_code == 400


def test_a_buyer_filtering_by_an_empty_status_is_refused(viewer):
    assert client_for(viewer).get("/api/v1/orders/?status=").status_code == 400


def test_lives_without_a_video_address_keep_to_the_schema(schema_doc, api_client, host):
    stream, _ = streams_services.stream_schedule(
        host=host, title="Soon", scheduled_at=timezone.now()
    )
    body = api_client.get(f"/api/v1/streams/{stream.pk}/").json()
    assert (body["playback_url"], body["replay_url"]) == ("", "")
    props = schema_doc["components"]["schemas"]["Stream"]["properties"]
    assert "format" not in props["playback_url"]
    assert "format" not in props["replay_url"]


def test_carousel_pin_and_deal_answers_are_documented_as_what_they_are(schema_doc):
    def answer(path, status):
        content = schema_doc["paths"][path]["post"]["responses"][status]["content"]
        return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]

    assert answer("/api/v1/streams/{id}/carousel/", "200") == "CarouselAnswer"
    assert answer("/api/v1/streams/{id}/pin/", "200") == "CarouselAnswer"
    assert answer("/api/v1/streams/{id}/deals/", "201") == "DealAnswer"


def test_an_uploaded_image_is_answered_with_absolute_urls_like_everywhere_else(db):
    owner = UserFactory(handle="owner", is_business=True)
    product = make_product(ShopFactory(handle="ownshop", owner=owner), "Tee")
    upload = SimpleUploadedFile("tee.png", png_bytes(), content_type="image/png")
    response = client_for(owner).post(
        f"/api/v1/products/{product.pk}/images/", {"image": upload}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["large"].startswith("http://") and body["thumb"].startswith("http://")


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["", "0", "-1", "x", "١"])
def test_a_page_that_is_not_a_page_is_a_400(page):
    response = APIClient().get("/api/v1/products/", {"page": page})
    assert response.status_code == 400
    assert "page" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_profile_text_must_be_text():
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    response = client.patch("/api/v1/me/", {"display_name": 12, "bio": 3.5}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"display_name", "bio"}
    user.refresh_from_db()
    assert user.display_name != "12"
