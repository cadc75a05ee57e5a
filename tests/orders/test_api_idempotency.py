"""Idempotency-Key on the checkout API: a retried POST never places a second order."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from orders.models import Order
from shops.models import Variant

from .conftest import variant_of


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post_order(client, body, key):
    return client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_key_and_body_twice_makes_one_order_and_the_same_answer(buyer, shirt):
    client = client_for(buyer)
    body = {"items": [{"variant": variant_of(shirt).pk, "quantity": 2}]}
    first = post_order(client, body, "tap-1")
    again = post_order(client, body, "tap-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 5


def test_the_same_key_with_another_body_is_409(buyer, shirt):
    client = client_for(buyer)
    variant = variant_of(shirt).pk
    assert post_order(
        client, {"items": [{"variant": variant, "quantity": 1}]}, "k"
    ).status_code == (201)
    response = post_order(client, {"items": [{"variant": variant, "quantity": 3}]}, "k")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant).stock == 6


def test_a_refusal_is_the_answer_to_its_retries(buyer, mug):
    """Sold out once is sold out for that key, even when stock comes back meanwhile: the
    client asks again with a new key."""
    client = client_for(buyer)
    body = {"items": [{"variant": variant_of(mug).pk, "quantity": 4}]}
    first = post_order(client, body, "k")
    assert first.status_code == 409 and first.json()["error"]["code"] == "out_of_stock"
    Variant.objects.filter(pk=variant_of(mug).pk).update(stock=10)
    again = post_order(client, body, "k")
    assert (again.status_code, again.json()) == (409, first.json())
    assert post_order(client, body, "k2").status_code == 201
    assert Order.objects.count() == 1


def test_keys_belong_to_one_buyer_and_one_endpoint(buyer, shirt):
    from orders import services

    client = client_for(buyer)
    variant = variant_of(shirt).pk
    assert post_order(
        client, {"items": [{"variant": variant, "quantity": 1}]}, "k"
    ).status_code == (201)
    services.bag_add(user=buyer, variant_id=variant, quantity=1)
    # The bag's checkout with the same key is another request, not a replay of the order.
    response = client.post("/api/v1/checkout/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201, response.content
    assert Order.objects.filter(buyer=buyer).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_key_from_eight_threads_at_once_places_one_order(buyer, shirt):
    body = {"items": [{"variant": variant_of(shirt).pk, "quantity": 1}]}
    start = threading.Barrier(8)
    answers = []

    def tap():
        try:
            client = client_for(buyer)
            start.wait()
            response = post_order(client, body, "the-same-tap")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 8
    order = Order.objects.get()
    assert Variant.objects.get(pk=variant_of(shirt).pk).stock == 6
    placed = [body for status, body in answers if status == 201]
    late = [body for status, body in answers if status != 201]
    # A duplicate that outwaited the first request would get 409 in progress; with eight
    # threads none should.
    assert all(b["error"]["code"] == "idempotency_in_progress" for b in late), late
    assert not late
    assert placed[0]["id"] == order.pk
    assert all(b == placed[0] for b in placed)
