"""CSRF: every state-changing request to a page needs the token, whatever the route; the
API needs it with a session, not with a token."""

import hashlib

import pytest
from django.apps import apps
from django.test import Client

from accounts.models import User
from shops.models import Product
from tests.pages import demo_world, html_routes, route_path

UNSAFE = ("post", "put", "patch", "delete")

# Routes that take requests from machines, not browsers, and so carry no CSRF token.
EXEMPT = {
    "payment_webhooks:receive": "the payment provider's webhook, authenticated by its "
    "signature (PAYMENTS_WEBHOOK_SECRET); tests/payments/test_webhooks.py",
    "rtmp-publish": "the media server's hook: answers only RTMP_HOOK_ALLOWED_NETS and "
    "needs the secret stream key; tests/streams/test_hooks_and_api.py",
    "rtmp-publish-done": "the media server's hook, as above",
}


def _fingerprint() -> dict[str, str]:
    """A digest of every row, by table (the sessions' apart)."""
    tables = {}
    for model in apps.get_models():
        if model._meta.db_table == "django_session":
            continue
        digest = hashlib.sha256()
        for row in model._default_manager.order_by("pk").values_list():
            digest.update(repr(row).encode())
        tables[model._meta.db_table] = digest.hexdigest()
    return tables


@pytest.mark.django_db
def test_every_unsafe_request_to_a_page_without_the_token_is_refused_and_changes_nothing():
    """Walks the URLconf: each route (the API and the admin apart) gets POST, PUT, PATCH
    and DELETE without a token from a signed-in host-and-merchant and from a signed-in
    viewer with orders, on the ids they own. Each is a 403 from the CSRF check and no row
    changes; only the routes in EXEMPT skip the check, and they are exactly the views
    marked csrf_exempt."""
    world = demo_world()
    routes = list(html_routes())
    exempt = {name for _route, name, view in routes if getattr(view, "csrf_exempt", False)}
    assert exempt == set(EXEMPT)
    clients = []
    for handle in ("mia", "noah"):
        clients.append(Client(enforce_csrf_checks=True))
        clients[-1].force_login(User.objects.get(handle=handle))
    before = _fingerprint()
    refused = 0
    for client in clients:
        for route, name, _view in routes:
            if name in EXEMPT:
                continue
            path = route_path(route, name, world)
            for method in UNSAFE:
                response = getattr(client, method)(path, {"title": "x", "quantity": "1"})
                assert response.status_code == 403, (method, path, response.status_code)
                assert b"CSRF" in response.content, (method, path)
                refused += 1
    assert refused > 300
    after = _fingerprint()
    assert [table for table in before if before[table] != after[table]] == []


@pytest.mark.django_db
def test_a_page_form_with_the_token_goes_through(viewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    page = client.get("/settings/profile/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/settings/profile/",
        {"display_name": "Vera V", "bio": "", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=viewer.pk).display_name == "Vera V"


@pytest.mark.django_db
def test_the_api_with_a_session_needs_the_token_and_with_a_token_does_not(viewer, merchant):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from tests.factories import ShopFactory

    ShopFactory(owner=merchant)
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(merchant)
    body = {"title": "Linen shirt", "price": 1999, "stock": 3, "sku": "LS"}
    response = session.post("/api/v1/products/", body, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    response = session.patch("/api/v1/me/", {"bio": "changed"}, format="json")
    assert response.status_code == 403
    assert not Product.objects.exists()
    assert User.objects.get(pk=merchant.pk).bio == ""

    # The same session with the token from its cookie goes through.
    session.get("/")
    token = session.cookies["csrftoken"].value
    response = session.patch(
        "/api/v1/me/", {"bio": "changed"}, format="json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200

    # A token client carries no cookie and needs no CSRF token.
    key = Token.objects.create(user=merchant).key
    token_client = APIClient(enforce_csrf_checks=True)
    response = token_client.post(
        "/api/v1/products/", body, format="json", headers={"Authorization": f"Token {key}"}
    )
    assert response.status_code == 201, response.content
