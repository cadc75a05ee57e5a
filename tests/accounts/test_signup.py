import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = reverse("account_signup")


def _signup(client, **overrides):
    data = {
        "email": "new@example.com",
        "username": "newbie",
        "password1": "a-long-pass-phrase",
        "password2": "a-long-pass-phrase",
        **overrides,
    }
    return client.post(SIGNUP, data)


def test_signup_creates_user_and_logs_in(client):
    response = _signup(client, username="Fresh.Face")
    assert response.status_code == 302
    user = User.objects.get()
    assert user.handle == "fresh.face"  # stored lowercase
    assert user.email == "new@example.com"
    assert client.get(reverse("accounts:me")).url == "/@fresh.face"


def test_signup_sends_verification_email(client, mailoutbox):
    _signup(client)
    assert len(mailoutbox) == 1
    assert "new@example.com" in mailoutbox[0].to


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("taken", "That handle is taken."),
        ("TAKEN", "That handle is taken."),
        ("two words", "no spaces"),
        ("x" * 200, "at most 24 characters"),
        (".dot", "no dot at the start"),
        ("admin", "reserved"),
        ("a", "at least 2 characters"),
    ],
)
def test_signup_refuses_bad_handles(client, handle, message):
    UserFactory(handle="taken")
    response = _signup(client, username=handle)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["username"])
    assert message in errors
    assert User.objects.count() == 1


def test_signup_refuses_taken_email_whatever_its_case(client):
    UserFactory(handle="first", email="mia@example.com")
    response = _signup(client, email="MIA@Example.com", username="second")
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not User.objects.filter(handle="second").exists()


def test_signup_refuses_mismatched_passwords(client):
    response = _signup(client, password2="something-else-entirely")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not User.objects.exists()


def test_email_verification_link_verifies_the_address(client, mailoutbox):
    import re

    from allauth.account.models import EmailAddress

    _signup(client)
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mailoutbox[0].body)
    assert link
    assert not EmailAddress.objects.get(email="new@example.com").verified
    client.post(link.group(1))
    assert EmailAddress.objects.get(email="new@example.com").verified


def test_password_reset_by_email(client, viewer, mailoutbox):
    import re

    response = client.post(reverse("account_reset_password"), {"email": "viewer@example.com"})
    assert response.status_code == 302
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mailoutbox[0].body)
    assert link
    form_url = client.get(link.group(1)).url  # allauth moves the key into the session
    response = client.post(
        form_url, {"password1": "brand-new-secret-9", "password2": "brand-new-secret-9"}
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password("brand-new-secret-9")
