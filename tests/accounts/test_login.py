import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = reverse("account_login")


def test_login_with_handle_or_email(client, viewer, password):
    response = client.post(LOGIN, {"login": "viewer", "password": password})
    assert response.status_code == 302
    assert client.get(reverse("accounts:me")).url == "/@viewer"
    client.logout()
    response = client.post(LOGIN, {"login": "VIEWER@example.com", "password": password})
    assert response.status_code == 302


def test_wrong_password_is_refused(client, viewer):
    response = client.post(LOGIN, {"login": "viewer", "password": "wrong-one"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_five_wrong_passwords_lock_the_account_login(client, viewer, password):
    for _ in range(5):
        response = client.post(LOGIN, {"login": "viewer", "password": "wrong-one"})
        assert response.status_code == 200
        assert "Too many failed login attempts" not in response.content.decode()
    # Even the right password is refused now: the attempts are rate-limited.
    response = client.post(LOGIN, {"login": "viewer", "password": password})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout(client, viewer):
    client.force_login(viewer)
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
