"""The saved-cards page: add, make default, remove; nobody touches another's cards."""

import pytest

from payments.provider_models import PaymentMethod
from payments.provider_services import payment_method_add

pytestmark = pytest.mark.django_db


def add(user, number="4242424242424242"):
    return payment_method_add(user=user, number=number, exp_month=12, exp_year=2040, cvc="123")


def test_signed_out_visitors_are_sent_to_log_in(client):
    response = client.get("/cards/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_card_is_added_and_the_first_is_the_default(client, viewer):
    client.force_login(viewer)
    response = client.post(
        "/cards/", {"number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123"}
    )
    assert response.status_code == 302
    card = PaymentMethod.objects.get(user=viewer)
    assert card.is_default and card.last4 == "4242"
    page = client.get("/cards/").content.decode()
    assert "4242" in page and "Default" in page
    assert "4242424242424242" not in page


def test_a_bad_card_shows_its_errors_and_saves_nothing(client, viewer):
    client.force_login(viewer)
    response = client.post(
        "/cards/", {"number": "4242 4242 4242 4241", "expiry": "13/20", "cvc": "1"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors
    assert not PaymentMethod.objects.exists()


def test_make_default_and_remove(client, viewer):
    first, second = add(viewer), add(viewer, "5555555555554444")
    client.force_login(viewer)
    assert PaymentMethod.objects.get(pk=second.pk).is_default  # the newest, by default
    client.post(f"/cards/{first.pk}/default")
    assert PaymentMethod.objects.get(pk=first.pk).is_default
    client.post(f"/cards/{first.pk}/delete")
    assert list(PaymentMethod.objects.values_list("pk", "is_default")) == [(second.pk, True)]


def test_another_users_card_is_out_of_reach(client, viewer, host):
    card = add(host)
    client.force_login(viewer)
    client.post(f"/cards/{card.pk}/delete")
    client.post(f"/cards/{card.pk}/default")
    assert PaymentMethod.objects.filter(pk=card.pk, is_default=True).exists()
    assert not client.get("/cards/").context["cards"]
