"""Personas, shared fixtures and the invariants checked after every test."""

import asyncio
import json
import os
import queue
import socket
import threading
import time

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.factories import PASSWORD, UserFactory

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
ON_REDIS = bool(settings.REDIS_URL)


def pytest_collection_modifyitems(config, items):
    # Browser tests last: Playwright keeps an event loop running in the main thread for the
    # rest of the session, which async tests after it could not use.
    items.sort(key=lambda item: "/browser/" in str(item.path).replace("\\", "/"))
    # Tests that need PostgreSQL (row locks, full-text search) say so; on SQLite they are
    # skipped with the reason. CI always runs them.
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL; CI always does)")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip_pg)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """After every test that touched the database, while its data is still there: the
    ledger balances, every cached balance is the sum of its entries, none is negative."""
    outcome = yield
    uses_db = item.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        getattr(item, "fixturenames", ())
    )
    if outcome.excinfo is not None or not uses_db:
        return
    from payments.ledger import ledger_problems

    problems = ledger_problems()
    if problems:
        outcome.force_exception(AssertionError(f"the ledger is broken: {problems}"))


@pytest.fixture(scope="session", autouse=True)
def _close_server_connections_at_the_end(django_db_setup, django_db_blocker):
    """Test servers run Django in other threads, whose database connections outlive them;
    PostgreSQL refuses to drop a database that is still in use. End them before teardown."""
    yield
    if not ON_POSTGRES:
        return
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and throttles live in the cache: every test starts with none counted."""
    _clear_cache()
    yield
    _clear_cache()


def _clear_cache():
    if ON_REDIS:
        client = cache._cache.get_client(None, write=True)
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _test_settings(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Hashing strength is not under test; a fast hasher keeps log-in tests quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def viewer(db):
    return UserFactory(handle="viewer", display_name="Vera Viewer")


@pytest.fixture
def host(db):
    return UserFactory(handle="host", display_name="Hana Host", is_business=True)


@pytest.fixture
def merchant(db):
    return UserFactory(handle="merchant", display_name="Max Merchant", is_business=True)


@pytest.fixture
def staff(db):
    return UserFactory(handle="staff", is_staff=True, is_superuser=True)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def asgi_server(transactional_db):
    """The real ASGI application (HTTP and WebSockets) served by uvicorn in a thread of
    this process, so it shares the test database and the channel layer. Yields its URL."""
    import uvicorn

    from config.asgi import application

    port = free_port()
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test ASGI server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(executable):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER is set and there is no Chromium at {executable}")
        pytest.skip(f"no Chromium at {executable}: install Debian's chromium (make browser)")
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": ["--no-sandbox", "--disable-dev-shm-usage"],
    }


class LiveWatcher:
    """A viewer of a live for synchronous tests: a fan-out hub on an event loop of its own
    (a thread), as a server process has, with one viewer whose socket is a queue. It gets
    what a socket would: every event published to the live, through Redis when the tests
    run with it."""

    def __init__(self, stream_id: int):
        self.stream_id = stream_id
        self.frames: queue.Queue = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def send(message):
            self.frames.put(message["text"])

        from streams import fanout

        self.viewer = fanout.Viewer(send)
        self._run(self._join())

    async def _join(self):
        from streams import fanout

        self.hub = fanout.hub()
        await self.hub.join(self.stream_id, self.viewer)
        await self.viewer.start()

    def _run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def received(self, timeout=5) -> dict:
        """The next event, as the viewer's socket would get it."""
        return json.loads(self.frames.get(timeout=timeout))

    def close(self):
        async def leave():
            self.hub.leave(self.stream_id, self.viewer)
            await self.hub.close()

        self._run(leave())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def watch_live():
    """watch_live(stream_id) -> a LiveWatcher, closed after the test."""
    watchers = []

    def watch(stream_id: int) -> LiveWatcher:
        watcher = LiveWatcher(stream_id)
        watchers.append(watcher)
        return watcher

    yield watch
    for watcher in watchers:
        watcher.close()
