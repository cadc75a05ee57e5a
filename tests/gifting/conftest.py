import re

import pytest
from django.utils import timezone

from gifting import selectors, services
from gifting.models import CoinPack, Gift
from payments import tasks as payment_tasks
from payments.provider_services import payment_method_add
from streams import services as streams_services
from tests.factories import UserFactory


def go_live(host, title=None):
    """A live of this host, on air."""
    stream, _ = streams_services.stream_schedule(
        host=host, title=title or f"{host.handle} live", scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(
        stream=stream, actor=host, playback_url="https://cdn.example/live.m3u8"
    )
    stream.refresh_from_db()
    return stream


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


@pytest.fixture
def live(host):
    """The host's live, on air."""
    return go_live(host, "Friday linen drop")


@pytest.fixture
def gifts(db):
    """Three gifts on sale, by slug, and a retired one."""
    return {
        "rose": Gift.objects.create(name="Rose", slug="rose", coins=1, position=0),
        "heart": Gift.objects.create(name="Heart", slug="heart", coins=5, position=1),
        "lion": Gift.objects.create(
            name="Lion", slug="lion", coins=500, level=Gift.Level.FULLSCREEN, position=2
        ),
        "retired": Gift.objects.create(name="Old hat", slug="old", coins=10, active=False),
    }


def give_coins(user, coins: int) -> None:
    """Coins the way a viewer gets them: a pack bought with a card that succeeds."""
    pack = CoinPack.objects.create(coins=coins, price_minor=coins * 2, currency="USD")
    services.coins_buy(
        buyer=user, pack_id=pack.pk, checkout_key=f"coins-{pack.pk}", payment_method="pm_card_ok"
    )
    assert selectors.wallet_balance(user=user) >= coins


def token(html: str) -> str:
    """The page's form token (its idempotency key)."""
    return re.search(r'name="token" value="([0-9a-f-]{36})"', html).group(1)
