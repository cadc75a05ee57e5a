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


def start_servers(count: int, **env) -> tuple[list[int], list[subprocess.Popen]]:
    """ASGI server processes on free ports, started and answering /healthz."""
    ports = [free_port() for _ in range(count)]
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
                "--ws",
                "config.ws:LeanWebSocketProtocol",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**_server_env(), **env},
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
    except BaseException:
        stop(servers)
        raise
    return ports, servers


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)


@pytest.fixture
def two_servers():
    ports, servers = start_servers(2)
    yield ports
    stop(servers)


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


@pytest.fixture
def own_redis():
    """A Redis of this test's own on a free port, which the test may stop and start."""
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        # CI requires it (.ci/run); elsewhere Redis may be a service without the program.
        if os.environ.get("REQUIRE_REDIS_SERVER"):
            pytest.fail("REQUIRE_REDIS_SERVER is set and there is no redis-server program")
        pytest.skip("needs the redis-server program")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no"]

    class OwnRedis:
        url = f"redis://127.0.0.1:{port}/0"
        process = None

        def start(self):
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            import redis

            while True:
                try:
                    redis.Redis.from_url(self.url).ping()
                    return
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.1)

        def stop(self):
            self.process.terminate()
            self.process.wait(timeout=10)

    own = OwnRedis()
    own.start()
    yield own
    if own.process.poll() is None:
        own.stop()


def _api(port, token, path, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


def test_redis_stops_and_starts_during_a_live_and_the_viewers_carry_on(own_redis, live, products):
    """Sockets stay open and pages answer while Redis is down; once it is back, the
    processes subscribe again and send their viewers a snapshot with what changed
    meanwhile, and events flow again."""
    token = Token.objects.create(user=live.host).key
    ports, servers = start_servers(2, REDIS_URL=own_redis.url)
    shirt, mug, scarf = (p.pk for p in products)

    def pin(port, product_id):
        status, _ = _api(port, token, f"/api/v1/streams/{live.pk}/pin/", {"product": product_id})
        assert status == 200

    async def next_of(socket, *types, timeout=20):
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=timeout))
            if message["type"] in types:
                return message

    def pinned(items):
        return [item["product"] for item in items if item["pinned"]]

    async def scenario():
        loop = asyncio.get_running_loop()
        sockets = [
            await websockets.connect(
                f"ws://127.0.0.1:{port}/ws/live/{live.pk}/", origin=f"http://127.0.0.1:{port}"
            )
            for port in ports
        ]
        for socket in sockets:
            assert json.loads(await socket.recv())["type"] == "snapshot"
        await loop.run_in_executor(None, pin, ports[0], shirt)
        for socket in sockets:
            event = await next_of(socket, "carousel.updated")
            assert pinned(event["data"]["items"]) == [shirt]

        await loop.run_in_executor(None, own_redis.stop)
        # Without Redis: the host's change is saved, pages and the snapshot answer, and the
        # viewers' sockets stay open.
        await loop.run_in_executor(None, pin, ports[1], mug)
        status, snapshot = await loop.run_in_executor(
            None, _api, ports[0], token, f"/api/v1/streams/{live.pk}/snapshot/"
        )
        assert status == 200 and pinned(snapshot["carousel"]) == [mug]
        page = await loop.run_in_executor(
            None, urllib.request.urlopen, f"http://127.0.0.1:{ports[1]}/live/{live.pk}"
        )
        assert page.status == 200
        for socket in sockets:
            await asyncio.wait_for(socket.ping(), timeout=5)

        await loop.run_in_executor(None, own_redis.start)
        # Each process subscribes again and brings its viewer up to date.
        for socket in sockets:
            fresh = await next_of(socket, "snapshot", timeout=30)
            assert pinned(fresh["data"]["carousel"]) == [mug]
        await loop.run_in_executor(None, pin, ports[0], scarf)
        for socket in sockets:
            event = await next_of(socket, "carousel.updated")
            assert pinned(event["data"]["items"]) == [scarf]
        for socket in sockets:
            await socket.close()

    try:
        asyncio.run(scenario())
    finally:
        stop(servers)


def test_a_thousand_viewers_leaving_at_once_leave_no_subscriber_behind(live):
    """The server's hub forgets them at once and drops its subscription to the live soon
    after; the viewer count goes back to zero."""
    import redis

    ports, servers = start_servers(1, LIVE_FANOUT_UNSUBSCRIBE_AFTER="1")
    channel = f"{settings.CACHES['default']['KEY_PREFIX']}:fanout:{live.pk}"
    client = redis.Redis.from_url(settings.REDIS_URL)

    def subscribers() -> int:
        return dict(client.pubsub_numsub(channel))[channel.encode()]

    async def scenario():
        url = f"ws://127.0.0.1:{ports[0]}/ws/live/{live.pk}/"
        sockets = []
        for start in range(0, 1000, 100):
            sockets += await asyncio.gather(
                *(
                    websockets.connect(url, origin=f"http://127.0.0.1:{ports[0]}")
                    for _ in range(start, start + 100)
                )
            )
        await asyncio.gather(*(socket.recv() for socket in sockets))  # their snapshots
        assert subscribers() == 1  # one subscription for the thousand
        deadline = time.monotonic() + 15
        while realtime_viewers() != 1000:
            assert time.monotonic() < deadline, "the count never reached 1,000"
            await asyncio.sleep(0.5)
        await asyncio.gather(*(socket.close() for socket in sockets))
        deadline = time.monotonic() + 20
        while subscribers() or realtime_viewers():
            assert time.monotonic() < deadline, "subscribers or viewers were left behind"
            await asyncio.sleep(0.5)

    def realtime_viewers() -> int:
        from streams import realtime

        return realtime.viewers_total(live.pk)

    try:
        asyncio.run(scenario())
    finally:
        stop(servers)


def test_a_server_process_going_away_does_not_take_the_live_from_the_others(live, products):
    """Viewers on the surviving process keep getting events; those of the stopped one
    reconnect to the survivor and start from its snapshot."""
    token = Token.objects.create(user=live.host).key
    (survivor, doomed), servers = start_servers(2)
    shirt, mug, _ = (p.pk for p in products)

    async def scenario():
        loop = asyncio.get_running_loop()
        url = f"ws://127.0.0.1:{{}}/ws/live/{live.pk}/"
        staying = await websockets.connect(
            url.format(survivor), origin=f"http://127.0.0.1:{survivor}"
        )
        leaving = await websockets.connect(url.format(doomed), origin=f"http://127.0.0.1:{doomed}")
        for socket in (staying, leaving):
            assert json.loads(await socket.recv())["type"] == "snapshot"
        await loop.run_in_executor(None, stop, servers[1:])
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(leaving.recv(), timeout=15)
        status, _ = await loop.run_in_executor(
            None, _api, survivor, token, f"/api/v1/streams/{live.pk}/pin/", {"product": shirt}
        )
        assert status == 200
        while True:
            event = json.loads(await asyncio.wait_for(staying.recv(), timeout=15))
            if event["type"] == "carousel.updated":
                break
        # The viewer that lost its server comes back through the survivor.
        back = await websockets.connect(url.format(survivor), origin=f"http://127.0.0.1:{survivor}")
        snapshot = json.loads(await back.recv())
        assert [i["product"] for i in snapshot["data"]["carousel"] if i["pinned"]] == [shirt]
        await loop.run_in_executor(
            None, _api, survivor, token, f"/api/v1/streams/{live.pk}/pin/", {"product": mug}
        )
        for socket in (staying, back):
            while True:
                event = json.loads(await asyncio.wait_for(socket.recv(), timeout=15))
                if event["type"] == "carousel.updated":
                    assert [i["product"] for i in event["data"]["items"] if i["pinned"]] == [mug]
                    break
            await socket.close()

    try:
        asyncio.run(scenario())
    finally:
        stop(servers[:1])
