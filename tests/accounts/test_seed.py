import pytest
from django.core.management import call_command

from accounts.demo import seed_accounts
from accounts.models import Follow, User
from shops.models import Product, ProductImage, Shop


def _counts():
    return (
        User.objects.count(),
        Follow.objects.count(),
        Shop.objects.count(),
        Product.objects.count(),
        ProductImage.objects.count(),
    )


@pytest.mark.django_db
def test_seed_demo_is_complete_and_idempotent(capsys):
    call_command("seed_demo", force=True)
    first = _counts()
    out = capsys.readouterr().out
    assert "admin" in out and "tapbuy-admin-2026" in out
    staff = User.objects.get(handle="admin")
    assert staff.is_staff and staff.check_password("tapbuy-admin-2026")
    assert User.objects.get(handle="mia").avatar
    approved = Shop.objects.filter(status="approved")
    assert approved.count() == 3
    assert Shop.objects.filter(status="pending").count() == 1
    for shop in approved:
        assert 8 <= shop.products.count() <= 15
        assert not shop.products.filter(images__isnull=True).exists()
        assert not shop.products.filter(variants__isnull=True).exists()
    call_command("seed_demo", force=True)
    assert _counts() == first


@pytest.mark.django_db
def test_seeded_staff_can_open_admin(client):
    seed_accounts()
    assert client.login(handle="admin", password="tapbuy-admin-2026")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
