import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from accounts.models import Follow, User

pytestmark = pytest.mark.django_db


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def test_malformed_json_is_a_400_in_the_error_format(api_client, viewer):
    api_client.force_authenticate(viewer)
    response = api_client.generic(
        "PATCH", "/api/v1/me/", '{"display_name": "x",', content_type="application/json"
    )
    _assert_error(response, 400, "parse_error")
    viewer.refresh_from_db()
    assert viewer.display_name == "Vera Viewer"


def test_field_errors_name_the_field(api_client, viewer):
    api_client.force_authenticate(viewer)
    response = api_client.patch("/api/v1/me/", {"bio": "x" * 281}, format="json")
    error = _assert_error(response, 400, "invalid")
    assert "bio" in error["fields"]
    viewer.refresh_from_db()
    assert viewer.bio == ""


def test_me_needs_authentication(api_client):
    _assert_error(api_client.get("/api/v1/me/"), 401, "not_authenticated")


def test_token_from_the_management_command_authenticates(api_client, viewer):
    call_command("drf_create_token", "viewer", verbosity=0)
    token = Token.objects.get(user=viewer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["handle"] == "viewer"


def test_bad_token_is_401(api_client, viewer):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    _assert_error(api_client.get("/api/v1/me/"), 401, "authentication_failed")


def test_token_endpoint(api_client, viewer, password):
    response = api_client.post(
        "/api/v1/auth/token/", {"login": "viewer@example.com", "password": password}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=viewer).key
    response = api_client.post(
        "/api/v1/auth/token/", {"login": "viewer", "password": "nope"}, format="json"
    )
    _assert_error(response, 400, "invalid_login")


def test_token_endpoint_is_rate_limited(api_client, viewer):
    for _ in range(5):
        api_client.post("/api/v1/auth/token/", {"login": "viewer", "password": "x"}, format="json")
    response = api_client.post(
        "/api/v1/auth/token/", {"login": "viewer", "password": "x"}, format="json"
    )
    _assert_error(response, 429, "rate_limited")


def test_update_profile(api_client, viewer):
    api_client.force_authenticate(viewer)
    response = api_client.patch("/api/v1/me/", {"display_name": "V"}, format="json")
    assert response.status_code == 200
    assert response.json()["display_name"] == "V"


def test_public_profile_and_follow(api_client, viewer, host):
    response = api_client.get("/api/v1/users/host/")
    assert response.status_code == 200
    assert response.json()["followers_count"] == 0
    api_client.force_authenticate(viewer)
    response = api_client.post("/api/v1/users/host/follow/")
    assert response.status_code == 201
    assert response.json()["is_followed"] is True
    assert response.json()["followers_count"] == 1
    assert api_client.post("/api/v1/users/host/follow/").status_code == 200
    assert Follow.objects.count() == 1
    assert api_client.delete("/api/v1/users/host/follow/").status_code == 204
    assert not Follow.objects.exists()


def test_follow_self_and_unknown_user(api_client, viewer):
    api_client.force_authenticate(viewer)
    _assert_error(api_client.post("/api/v1/users/viewer/follow/"), 400, "cannot_follow_self")
    _assert_error(api_client.post("/api/v1/users/ghost/follow/"), 404, "not_found")
    assert not Follow.objects.exists()


def test_account_type_switch(api_client, viewer):
    api_client.force_authenticate(viewer)
    response = api_client.post("/api/v1/me/account-type/", {"is_business": True}, format="json")
    assert response.status_code == 200
    assert User.objects.get(pk=viewer.pk).is_business
    response = api_client.post("/api/v1/me/account-type/", {"is_business": "maybe"}, format="json")
    _assert_error(response, 400, "invalid")
    assert User.objects.get(pk=viewer.pk).is_business


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/me/" in paths
    assert "/api/v1/users/{handle}/follow/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    # Swagger UI comes from the sidecar package, served by us, never from a CDN.
    assert "cdn." not in docs.content.decode()
