import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from config.asgi import application
from streams import fanout, realtime, services
from streams.consumers import snapshot_cache, ticker
from tests.factories import ShopFactory, UserFactory, make_product


@pytest.fixture(autouse=True)
def _fresh_live_state():
    """Each test starts every live from seq 0 with no viewers, no fan-out hubs and an empty
    channel layer."""
    realtime.reset_local_state()
    ticker.reset()
    snapshot_cache.reset()
    fanout.reset()
    yield
    ticker.reset()
    snapshot_cache.reset()
    fanout.reset()


@pytest.fixture
async def flush_layer():
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        await layer.flush()
    yield
    if hasattr(layer, "flush"):
        await layer.flush()


@pytest.fixture
def live_host(db):
    shop = ShopFactory(handle="hanashop", owner=UserFactory(handle="hana", is_business=True))
    return shop.owner


@pytest.fixture
def products(live_host):
    shop = live_host.shop
    return [
        make_product(shop, "Linen shirt", sku="LS", price_minor=4900, stock=7),
        make_product(shop, "Mug", sku="MG", price_minor=2800, stock=3),
        make_product(shop, "Scarf", sku="SC", price_minor=3900, stock=0),
    ]


@pytest.fixture
def live(live_host, products):
    stream, _ = services.stream_schedule(
        host=live_host, title="Friday linen drop", scheduled_at=timezone.now()
    )
    services.stream_go_live(
        stream=stream, actor=live_host, playback_url="https://cdn.example/live.m3u8"
    )
    stream.refresh_from_db()
    return stream


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(stream_id, user=None, *, expect_snapshot=True):
    headers = [(b"origin", b"http://127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, f"/ws/live/{stream_id}/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    snapshot = None
    if expect_snapshot:
        snapshot = json.loads(await communicator.receive_from(timeout=5))
        assert snapshot["type"] == "snapshot"
    return communicator, snapshot


async def receive(communicator, timeout=3):
    return json.loads(await communicator.receive_from(timeout=timeout))


async def receive_type(communicator, type_, timeout=5):
    """The next message of a type, skipping batched counters that may come in between."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        assert remaining > 0, f"no {type_} event"
        message = await receive(communicator, timeout=remaining)
        if message["type"] == type_:
            return message
