"""Two ASGI server processes against one Redis: viewers on each see the same events in
the same seq order. Needs PostgreSQL and Redis (the servers are separate processes)."""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import websockets
from django.conf import settings
from rest_framework.authtoken.models import Token

from tests.conftest import ON_POSTGRES, ON_REDIS, free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_REDIS, reason="needs Redis (set REDIS_URL; CI always does)"),
    pytest.mark.django_db(transaction=True),
]


def _server_env() -> dict:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,  # the test database, where this test's rows are committed
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
    }


@pytest.fixture
def two_servers():
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=_server_env(),
        )
        for port in ports
    ]
    try:
        for port in ports:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "a server did not start"
                    time.sleep(0.2)
        yield ports
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)


def test_viewers_on_two_processes_get_the_same_events_and_counts(two_servers, live, products):
    assert ON_POSTGRES
    token = Token.objects.create(user=live.host).key

    def pin(port, product_id):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/streams/{live.pk}/pin/",
            data=json.dumps({"product": product_id}).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    counts = [[], []]

    async def viewer(port, ready, out, seen_counts):
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/live/{live.pk}/",
            origin=f"http://127.0.0.1:{port}",
        ) as socket:
            snapshot = json.loads(await socket.recv())
            assert snapshot["type"] == "snapshot"
            ready.set()
            while len(out) < 6 or 2 not in seen_counts:
                message = json.loads(await asyncio.wait_for(socket.recv(), timeout=15))
                if message["type"] == "viewers":
                    seen_counts.append(message["data"]["now"])
                if message["type"] == "carousel.updated":
                    pinned = [i["product"] for i in message["data"]["items"] if i["pinned"]]
                    out.append((message["seq"], pinned))

    async def scenario():
        results = [[], []]
        ready = [asyncio.Event(), asyncio.Event()]
        tasks = [
            asyncio.create_task(viewer(port, ready[n], results[n], counts[n]))
            for n, port in enumerate(two_servers)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), timeout=15)
        loop = asyncio.get_running_loop()
        # Pins alternate between the two servers: the order seen must still be one order.
        for n in range(6):
            product = products[n % 3].pk
            await loop.run_in_executor(None, pin, two_servers[n % 2], product)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        return results

    first, second = asyncio.run(scenario())
    assert first == second
    seqs = [seq for seq, _ in first]
    assert seqs == sorted(seqs) and len(set(seqs)) == 6
    assert [pinned for _, pinned in first] == [[products[n % 3].pk] for n in range(6)]
    # Each process counts its own socket; both viewers are told the total.
    assert 2 in counts[0] and 2 in counts[1]
    assert all(n <= 2 for n in counts[0] + counts[1])
