"""The account pages' rate limits (allauth's, from ACCOUNT_*_RATE): hammered, they answer
the form's error or the "too many attempts" page, and nothing more is done."""

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_sign_ups_from_one_address_stop_at_the_limit(client):
    """ACCOUNT_SIGNUP_RATE, 20 a minute from one address by default."""
    for n in range(20):
        response = client.post(reverse("account_signup"), {"email": f"bad{n}", "username": ""})
        assert response.status_code == 200  # the form's own errors
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "username": "newbie",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 429
    assert 'data-testid="rate-limited"' in response.content.decode()
    assert not User.objects.exists()


def test_failed_log_ins_from_one_address_lock_it_for_every_account(client, password):
    """ACCOUNT_LOGIN_FAILED_RATE: ten wrong passwords a minute from one address, whatever
    the accounts, lock the address (five for one account lock that account: test_login)."""
    users = [UserFactory() for _ in range(11)]
    for user in users[:10]:
        response = client.post(reverse("account_login"), {"login": user.handle, "password": "no"})
        assert "Too many failed login attempts" not in response.content.decode()
    response = client.post(
        reverse("account_login"), {"login": users[10].handle, "password": password}
    )
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_requests_for_one_address_stop_at_the_limit(client, viewer, mailoutbox):
    """ACCOUNT_PASSWORD_RESET_RATE: five a minute for one e-mail address."""
    for _ in range(5):
        response = client.post(reverse("account_reset_password"), {"email": viewer.email})
        assert response.status_code == 302
    response = client.post(reverse("account_reset_password"), {"email": viewer.email})
    assert response.status_code == 429
    assert len(mailoutbox) == 5


def test_the_limits_follow_the_settings(settings, client):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "1/m/ip"}
    client.post(reverse("account_signup"), {"email": "x"})
    assert client.post(reverse("account_signup"), {"email": "x"}).status_code == 429
