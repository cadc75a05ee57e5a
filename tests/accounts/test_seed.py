import pytest
from django.core.management import call_command

from accounts.models import Follow, User


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo", force=True)
    first = (User.objects.count(), Follow.objects.count())
    out = capsys.readouterr().out
    assert "admin" in out and "tapbuy-admin-2026" in out
    call_command("seed_demo", force=True)
    assert (User.objects.count(), Follow.objects.count()) == first
    staff = User.objects.get(handle="admin")
    assert staff.is_staff and staff.check_password("tapbuy-admin-2026")
    assert User.objects.get(handle="mia").avatar


@pytest.mark.django_db
def test_seeded_staff_can_open_admin(client):
    call_command("seed_demo", force=True)
    assert client.login(handle="admin", password="tapbuy-admin-2026")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
