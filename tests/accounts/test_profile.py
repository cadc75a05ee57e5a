import io

import pytest
from django.urls import reverse
from PIL import Image

from accounts.models import Follow, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_profile_page_shows_the_user(client, host):
    response = client.get("/@host")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Hana Host" in body
    assert "@host" in body


def test_profile_handle_is_case_insensitive(client, host):
    assert client.get("/@HOST").status_code == 200


def test_unknown_handle_is_a_404_page(client):
    response = client.get("/@nobody")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()


def test_inactive_user_is_a_404(client):
    UserFactory(handle="gone", is_active=False)
    assert client.get("/@gone").status_code == 404


def test_profile_page_queries_are_constant(client, host, django_assert_max_num_queries):
    for _ in range(20):
        Follow.objects.create(follower=UserFactory(), followee=host)
    client.force_login(UserFactory())
    with django_assert_max_num_queries(6):
        client.get("/@host")


def test_follow_and_unfollow_with_htmx(client, viewer, host):
    client.force_login(viewer)
    url = reverse("accounts:follow", args=["host"])
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-testid="unfollow"' in response.content.decode()
    assert Follow.objects.filter(follower=viewer, followee=host).exists()
    # A double tap is harmless.
    client.post(url, HTTP_HX_REQUEST="true")
    assert Follow.objects.count() == 1
    response = client.post(url, {"unfollow": "1"}, HTTP_HX_REQUEST="true")
    assert 'data-testid="follow"' in response.content.decode()
    assert not Follow.objects.exists()


def test_cannot_follow_yourself(client, viewer):
    client.force_login(viewer)
    response = client.post(reverse("accounts:follow", args=["viewer"]))
    assert response.status_code == 302
    assert not Follow.objects.exists()


def test_follow_needs_login(client, host):
    response = client.post(reverse("accounts:follow", args=["host"]))
    assert response.status_code == 302
    assert "/accounts/login/" in response.url
    assert not Follow.objects.exists()


def test_follower_lists(client, viewer, host):
    Follow.objects.create(follower=viewer, followee=host)
    assert "@viewer" in client.get("/@host/followers").content.decode()
    assert "@host" in client.get("/@viewer/following").content.decode()


def _png(width=600, height=400, exif=False):
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), "#ff2d55")
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        kwargs["exif"] = data.tobytes()
    image.save(buffer, format="JPEG" if exif else "PNG", **kwargs)
    buffer.seek(0)
    buffer.name = "me.jpg" if exif else "me.png"
    return buffer


def test_profile_settings_update_with_avatar(client, viewer):
    client.force_login(viewer)
    response = client.post(
        reverse("accounts:settings"),
        {"display_name": " Vera V ", "bio": "Deals only.", "avatar": _png(exif=True)},
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.display_name == "Vera V"
    assert viewer.bio == "Deals only."
    with viewer.avatar.open("rb") as stored, Image.open(stored) as img:
        assert img.format == "WEBP"
        assert img.size == (320, 320)
        assert not img.getexif()


def test_profile_settings_refuses_a_fake_image(client, viewer):
    client.force_login(viewer)
    fake = io.BytesIO(b"this is plain text, not a picture")
    fake.name = "me.jpg"
    response = client.post(
        reverse("accounts:settings"), {"display_name": "Changed", "bio": "", "avatar": fake}
    )
    assert response.status_code == 400
    assert "not a valid image" in response.content.decode()
    viewer.refresh_from_db()
    assert viewer.display_name == "Vera Viewer"
    assert not viewer.avatar


def test_profile_settings_refuses_too_long_bio(client, viewer):
    client.force_login(viewer)
    response = client.post(reverse("accounts:settings"), {"display_name": "", "bio": "x" * 281})
    assert response.status_code == 400
    viewer.refresh_from_db()
    assert viewer.bio == ""


def test_switch_to_business_and_back(client, viewer):
    client.force_login(viewer)
    client.post(reverse("accounts:account_type"), {"account_type": "business"})
    assert User.objects.get(pk=viewer.pk).is_business
    client.post(reverse("accounts:account_type"), {"account_type": "personal"})
    assert not User.objects.get(pk=viewer.pk).is_business


def test_account_switch_returns_to_a_safe_next_page(client, viewer):
    client.force_login(viewer)
    response = client.post(
        reverse("accounts:account_type"), {"account_type": "business", "next": "/seller/"}
    )
    assert response.url == "/seller/"
    response = client.post(
        reverse("accounts:account_type"),
        {"account_type": "business", "next": "https://evil.example/"},
    )
    assert response.url == reverse("accounts:settings")


def test_notifications_bell_and_page(client, viewer):
    from accounts.models import Notification
    from accounts.services import notify

    notify(users=[viewer], text="Hana is live now: Friday drop", url="/live/1")
    client.force_login(viewer)
    assert (
        'data-testid="bell">🔔<span class="bell-count">1</span>' in client.get("/").content.decode()
    )
    body = client.get(reverse("accounts:notifications")).content.decode()
    assert "Hana is live now" in body and 'href="/live/1"' in body
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert "bell-count" not in client.get("/").content.decode()
