import pytest

from gifting.models import CoinPack
from payments import tasks as payment_tasks
from payments.provider_services import payment_method_add
from tests.factories import UserFactory


@pytest.fixture
def buyer(db):
    """A viewer with a saved default card: buying coins is one tap."""
    user = UserFactory(handle="noa", display_name="Noa Buyer")
    payment_method_add(user=user, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123")
    return user


@pytest.fixture
def packs(db):
    """Three packs on sale and one that no longer is, by their coins."""
    made = {
        coins: CoinPack.objects.create(
            coins=coins, price_minor=price, currency="USD", position=index
        )
        for index, (coins, price) in enumerate([(70, 99), (350, 499), (700, 999)])
    }
    made["retired"] = CoinPack.objects.create(
        coins=1000, price_minor=1299, currency="USD", active=False
    )
    return made


@pytest.fixture
def scheduled(monkeypatch):
    """Delayed payments' webhook tasks, kept instead of queued."""
    calls = []
    monkeypatch.setattr(
        payment_tasks.simulated_webhook,
        "apply_async",
        lambda args=None, **options: calls.append(tuple(args)),
    )
    return calls
