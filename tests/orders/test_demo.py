import pytest
from django.core.management import call_command

from orders.models import Address, Order
from payments.provider_models import PaymentMethod


@pytest.mark.django_db
def test_the_demo_has_one_tap_shoppers_and_orders_in_several_states():
    call_command("seed_demo", force=True)
    states = set(Order.objects.values_list("status", flat=True))
    assert {"paid", "shipped", "delivered"} <= states
    assert Order.objects.filter(stream__isnull=False, creator__handle="mia").count() == 2
    for handle in ("noah", "zoe"):
        assert Address.objects.filter(user__handle=handle, is_default=True).exists()
        assert PaymentMethod.objects.filter(user__handle=handle, is_default=True).exists()
    counts = (Order.objects.count(), Address.objects.count(), PaymentMethod.objects.count())
    call_command("seed_demo", force=True)
    assert (Order.objects.count(), Address.objects.count(), PaymentMethod.objects.count()) == counts
