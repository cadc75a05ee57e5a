"""A busy live under locust: viewers watch one live on air, browse around it, chat, like,
buy from the carousel and send gifts; the host pins products meanwhile.

bench/load/busy_live.py starts the production topology, prepares the data and runs this
file headless (one locust process); it hands the data over in the JSON file named by
TAPBUY_LOAD_DATA: the live, the other lives of the feed, the carousel's products, the
gift, the host and one account per user (API token and session key).

Who comes (weights of the user classes) and what each does between pauses of a few
seconds (weights of the tasks) is below. Every user:

- opens the feed and the live page (with its top-gifters partial, as htmx loads it), then
  holds the live's WebSocket open, reading every frame, as static/streams/live.js does;
- looks at products (the page and the API), searches, visits the shop and the host's
  profile, reads the live through the API (the feed, the snapshot), peeks at another live,
  and now and then leaves and opens the live again (a new page and a new socket);
- likes over the socket (in short bursts, as a thumb does).

Signed-in viewers also chat over the socket (the session cookie signs the socket in);
buyers open the buy sheet and buy one tap through POST /api/v1/orders/ (token, a fresh
Idempotency-Key, the test card pm_card_ok), a few of them retrying the same request as a
client on a flaky network does; gifters send gifts through POST /api/v1/streams/<id>/gifts/.

A money POST whose connection dropped before any answer (a keep-alive connection the
server closed as the request went out) is sent once more with the same Idempotency-Key, as
a real client does; the dropped attempt is reported apart, not as a failure.

Each simulated viewer sends its own address in X-Forwarded-For, as the proxy in front of a
real deployment would: per-address limits (the API's anonymous rate) then apply per viewer,
not to the whole crowd at once. Every user keeps below its own limits (chat, checkout,
gifts, the API's user rate), so a 429 is an error here like any other.

WebSocket actions are locust events of type WS: `ws connect` (handshake to snapshot), `ws
chat` (send to the line coming back on the same socket), `ws like` (the write: a like has no
answer, the server batches them into a once-a-second `likes` event), and `ws event
delivery` (for each carousel.updated, order.placed and gift.sent a viewer receives, its
arrival minus the event's `ts`: how late the ticker and the carousel are).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import time
import uuid
from datetime import datetime
from http.cookiejar import Cookie
from pathlib import Path

import gevent
import websocket
from gevent.event import AsyncResult
from geventhttpclient.response import HTTPConnectionClosed
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

DATA = json.loads(Path(os.environ["TAPBUY_LOAD_DATA"]).read_text())
LIVE = DATA["live"]
PRODUCTS = DATA["products"]
SEARCHES = ["shirt", "linen", "bag", "dress", "sneakers", "mug", "lamp", "scarf"]
CHAT_LINES = [
    "love this",
    "how does it fit?",
    "what size are you wearing",
    "just bought one!",
    "hi from Lisbon",
    "is it machine washable",
    "that colour 😍",
    "restock the blue please",
    "when is the next drop",
    "🔥🔥🔥",
]
CHAT_TIMEOUT = 10  # seconds for a chat line to come back on the sender's socket
CONNECT_TIMEOUT = 15
# Events whose delay a viewer can see: the carousel, the ticker of purchases and gifts.
TIMED_EVENTS = ('{"type":"carousel.updated"', '{"type":"order.placed"', '{"type":"gift.sent"')
TS = re.compile(r'"ts":"([^"]+)"')

# A POST whose connection broke before any answer: a keep-alive connection that the server
# closed (uvicorn's idle timeout) just as the request went out. The HTTP client sends a GET
# again by itself in that case, never a POST (RFC 9110, 9.2.2); a real client does, with the
# same Idempotency-Key, which makes it safe whether or not the first one arrived.
DROPPED = (HTTPConnectionClosed, ConnectionResetError, BrokenPipeError)

_accounts = itertools.count()
_addresses = itertools.count(1)


def _client_address() -> str:
    """A distinct client address per simulated viewer, from the range set aside for
    benchmarks (RFC 2544): only ever a header value, never a destination."""
    n = next(_addresses)
    return f"198.18.{n // 250 % 256}.{n % 250 + 1}"


def post_json(client, path: str, body: dict, headers: dict, name: str) -> dict | None:
    """POST JSON; the answer's JSON when it is a 2xx, otherwise a failure and None. A
    request whose connection dropped before any answer is sent once more with the same
    headers (so the same Idempotency-Key); the dropped attempt is reported apart, under
    "<name> (connection dropped, sent again)", and is not a failure."""
    for attempt in (1, 2):
        with client.post(path, json=body, headers=headers, name=name, catch_response=True) as r:
            if attempt == 1 and r.status_code == 0 and isinstance(r.error, DROPPED):
                r.request_meta["name"] = f"{name} (connection dropped, sent again)"
                r.success()
                continue
            if not 200 <= r.status_code < 300:
                detail = r.text or repr(r.error)
                r.failure(f"status {r.status_code}: {detail[:160]}")
                return None
            return r.json()
    return None


def _fire(name: str, started: float, *, exception: Exception | None = None, length: int = 0):
    events.request.fire(
        request_type="WS",
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=length,
        exception=exception,
        context={},
    )


def _check(name: str, problem: str) -> None:
    """A failed check of an answer's content, as a failure of its own."""
    events.request.fire(
        request_type="CHECK",
        name=name,
        response_time=0,
        response_length=0,
        exception=RuntimeError(problem),
        context={},
    )


class LiveSocket:
    """One viewer's /ws/live/<id>/ socket, read by a greenlet of its own (websocket-client
    on gevent's sockets, so that a blocking read lets the other users run)."""

    def __init__(self, host: str, origin: str, address: str, session: str | None):
        self.host, self.origin, self.address, self.session = host, origin, address, session
        self.ws: websocket.WebSocket | None = None
        self.reader: gevent.Greenlet | None = None
        self.waiting: dict[str, tuple[AsyncResult, float]] = {}

    @property
    def open(self) -> bool:
        return self.ws is not None and self.reader is not None and not self.reader.dead

    def connect(self) -> None:
        started = time.perf_counter()
        try:
            ws = websocket.create_connection(
                f"ws://{self.host}/ws/live/{LIVE}/",
                timeout=CONNECT_TIMEOUT,
                origin=self.origin,
                cookie=f"sessionid={self.session}" if self.session else None,
                header=[f"X-Forwarded-For: {self.address}"],
                skip_utf8_validation=True,
                enable_multithread=True,
            )
            first = ws.recv()
            if not first.startswith('{"type":"snapshot"'):
                ws.close(timeout=1)
                raise RuntimeError(f"first frame is not a snapshot: {first[:80]}")
        except Exception as exc:
            _fire("ws connect", started, exception=exc)
            return
        ws.settimeout(None)
        self.ws = ws
        _fire("ws connect", started, length=len(first))
        self.reader = gevent.spawn(self._read, ws)

    def _read(self, ws: websocket.WebSocket) -> None:
        try:
            while True:
                frame = ws.recv()
                if not frame:
                    raise websocket.WebSocketConnectionClosedException(
                        f"closed by the server (code {ws.status})"
                    )
                if frame.startswith(TIMED_EVENTS):
                    self._delivered(frame)
                elif frame.startswith('{"type":"chat.message"'):
                    for nonce, (result, _sent) in list(self.waiting.items()):
                        if nonce in frame:
                            result.set(None)
                elif frame.startswith('{"type":"error"'):
                    self._error(json.loads(frame)["data"])
        except Exception as exc:  # not GreenletExit: closing the socket on purpose is quiet
            _fire("ws closed", time.perf_counter(), exception=exc)
            for result, _sent in self.waiting.values():
                result.set_exception(exc)

    def _delivered(self, frame: str) -> None:
        found = TS.search(frame, 0, 160)
        if found is None:
            return
        sent = datetime.fromisoformat(found[1].replace("Z", "+00:00")).timestamp()
        events.request.fire(
            request_type="WS",
            name="ws event delivery",
            response_time=max(0.0, time.time() - sent) * 1000,
            response_length=len(frame),
            exception=None,
            context={},
        )

    def _error(self, data: dict) -> None:
        exc = RuntimeError(f"error event {data.get('code')}: {data.get('message')}")
        if self.waiting:
            # The server answers a refused chat line with an error event on the socket.
            for result, _sent in self.waiting.values():
                result.set_exception(exc)
        else:
            _fire("ws error", time.perf_counter(), exception=exc)

    def chat(self, text: str) -> None:
        nonce = uuid.uuid4().hex[:10]
        result = AsyncResult()
        started = time.perf_counter()
        self.waiting[nonce] = (result, started)
        try:
            self.ws.send(json.dumps({"type": "chat.send", "data": {"text": f"{text} {nonce}"}}))
            result.get(timeout=CHAT_TIMEOUT)
        except gevent.Timeout:
            _fire("ws chat", started, exception=TimeoutError("the line did not come back"))
        except Exception as exc:
            _fire("ws chat", started, exception=exc)
        else:
            _fire("ws chat", started)
        finally:
            self.waiting.pop(nonce, None)

    def like(self, taps: int) -> None:
        started = time.perf_counter()
        try:
            for _ in range(taps):
                self.ws.send('{"type":"like"}')
        except Exception as exc:
            _fire("ws like", started, exception=exc)
        else:
            _fire("ws like", started)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.kill(block=True, timeout=2)
        if self.ws is not None:
            with contextlib.suppress(Exception):  # already gone: nothing to close
                self.ws.close(timeout=2)
        self.ws = self.reader = None


class Viewer(FastHttpUser):
    """Watches the live and browses around it; signed out unless a subclass signs in."""

    abstract = True
    wait_time = between(3, 9)
    signed_in = False
    # Keep-alive connections from one client: a browser or an app holds a few.
    concurrency = 2

    def on_start(self) -> None:
        self.address = _client_address()
        self.account = DATA["accounts"][next(_accounts) % len(DATA["accounts"])]
        self.headers = {"X-Forwarded-For": self.address}
        if self.signed_in:
            self.client.cookiejar.set_cookie(_cookie("sessionid", self.account["session"]))
        self.api_headers = dict(self.headers)
        if self.signed_in:
            self.api_headers["Authorization"] = f"Token {self.account['token']}"
        host = self.host.split("://", 1)[1].rstrip("/")
        self.socket = LiveSocket(
            host,
            self.host.rstrip("/"),
            self.address,
            self.account["session"] if self.signed_in else None,
        )
        self.get("/", "GET /")
        self.open_live()

    def on_stop(self) -> None:
        self.socket.close()

    # --- helpers ---------------------------------------------------------------------------

    def get(self, path: str, name: str, *, htmx: bool = False, api: bool = False):
        headers = self.api_headers if api else self.headers
        if htmx:
            headers = {**headers, "HX-Request": "true"}
        return self.client.get(path, name=name, headers=headers)

    def open_live(self) -> None:
        """The live page, its top-gifters partial, then the socket."""
        with self.client.get(
            f"/live/{LIVE}", name="GET /live/[id]", headers=self.headers, catch_response=True
        ) as response:
            signed_in = f'data-user="{self.account["handle"]}"' in (response.text or "")
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif self.signed_in and not signed_in:
                response.failure("the page does not show the viewer signed in")
        self.get(f"/live/{LIVE}/gifts/top", "GET /live/[id]/gifts/top", htmx=True)
        self.socket.connect()

    def ensure_socket(self) -> bool:
        if not self.socket.open:
            self.socket.close()
            self.socket.connect()
        return self.socket.open

    # --- what every viewer does ------------------------------------------------------------

    @task(6)
    def like(self) -> None:
        if self.ensure_socket():
            self.socket.like(random.randint(1, 5))

    @task(4)
    def product_page(self) -> None:
        product = random.choice(PRODUCTS)
        self.get(f"/products/{product['id']}", "GET /products/[id]")

    @task(2)
    def product_api(self) -> None:
        product = random.choice(PRODUCTS)
        self.get(f"/api/v1/products/{product['id']}/", "GET /api/v1/products/[id]/", api=True)

    @task(2)
    def snapshot_api(self) -> None:
        self.get(
            f"/api/v1/streams/{LIVE}/snapshot/", "GET /api/v1/streams/[id]/snapshot/", api=True
        )

    @task(1)
    def live_list_api(self) -> None:
        self.get("/api/v1/streams/?status=live", "GET /api/v1/streams/?status=live", api=True)

    @task(1)
    def shop_products_api(self) -> None:
        self.get(f"/api/v1/products/?shop={DATA['shop']}", "GET /api/v1/products/?shop=", api=True)

    @task(1)
    def search(self) -> None:
        self.get(f"/products/?q={random.choice(SEARCHES)}", "GET /products/?q=")

    @task(1)
    def shop_page(self) -> None:
        self.get(f"/shop/{DATA['shop']}", "GET /shop/[handle]")

    @task(1)
    def host_profile(self) -> None:
        self.get(f"/@{DATA['host']['handle']}", "GET /@[handle]")

    @task(1)
    def peek_other_live(self) -> None:
        self.get("/", "GET /")
        self.get(f"/live/{random.choice(DATA['other_lives'])}", "GET /live/[id]")

    @task(1)
    def come_back(self) -> None:
        """Leave the live (the socket closes) and open it again: a page reload."""
        self.socket.close()
        self.get("/", "GET /")
        self.open_live()


class AnonymousViewer(Viewer):
    weight = 40


class SignedInViewer(Viewer):
    """Chats: a line every 40 s or so, well below the chat limits (5 per 10 s per socket,
    LIVE_CHAT_RATE per user)."""

    weight = 30
    signed_in = True

    @task(3)
    def chat(self) -> None:
        if self.ensure_socket():
            self.socket.chat(random.choice(CHAT_LINES))


class Buyer(SignedInViewer):
    """Opens the buy sheet and buys one tap through the API: about one order a minute,
    under the checkout rate (API_CHECKOUT_RATE)."""

    weight = 20

    @task(4)
    def buy(self) -> None:
        product = random.choice(PRODUCTS)
        self.get(f"/buy/{product['id']}/?stream={LIVE}", "GET /buy/[product]/", htmx=True)
        body = {
            "items": [{"variant": product["variant"], "quantity": 1}],
            "stream": LIVE,
            "payment_method": "pm_card_ok",
        }
        key = uuid.uuid4().hex
        first = self.place(body, key, "POST /api/v1/orders/")
        if first is not None and random.random() < 0.1:
            # A client that lost the answer sends the same request with the same key: it
            # must get the first order back, not a second one.
            again = self.place(body, key, "POST /api/v1/orders/ (same key again)")
            if again is not None and again != first:
                _check("same key, same order", f"order {again} for a key that placed {first}")

    def place(self, body: dict, key: str, name: str) -> int | None:
        headers = {**self.api_headers, "Idempotency-Key": key}
        order = post_json(self.client, "/api/v1/orders/", body, headers, name)
        if order is None:
            return None
        if order.get("status") != "paid":
            _check(name, f"order {order.get('id')} is {order.get('status')}, not paid")
            return None
        return order["id"]

    @task(1)
    def my_orders(self) -> None:
        self.get("/api/v1/orders/", "GET /api/v1/orders/", api=True)


class Gifter(SignedInViewer):
    """Sends a gift every half minute or so, under GIFTING_GIFTS_RATE."""

    weight = 10

    def on_start(self) -> None:
        super().on_start()
        self.get("/api/v1/gifts/", "GET /api/v1/gifts/", api=True)

    @task(6)
    def gift(self) -> None:
        body = {"gift": DATA["gift"], "quantity": random.choice([1, 1, 1, 2, 3])}
        headers = {**self.api_headers, "Idempotency-Key": uuid.uuid4().hex}
        path, name = f"/api/v1/streams/{LIVE}/gifts/", "POST /api/v1/streams/[id]/gifts/"
        post_json(self.client, path, body, headers, name)

    @task(1)
    def gift_panel(self) -> None:
        self.get(f"/live/{LIVE}/gifts/", "GET /live/[id]/gifts/", htmx=True)

    @task(1)
    def wallet(self) -> None:
        self.get("/api/v1/wallet/", "GET /api/v1/wallet/", api=True)


class Host(FastHttpUser):
    """The host, pinning the carousel's products in turn from the console (token auth)."""

    fixed_count = 1
    wait_time = between(20, 40)

    def on_start(self) -> None:
        self.api_headers = {"Authorization": f"Token {DATA['host']['token']}"}
        self.turn = itertools.cycle(PRODUCTS)

    @task
    def pin(self) -> None:
        # Pinning the same product twice changes nothing: safe to send again too.
        body = {"product": next(self.turn)["id"]}
        path, name = f"/api/v1/streams/{LIVE}/pin/", "POST /api/v1/streams/[id]/pin/"
        post_json(self.client, path, body, self.api_headers, name)


# --- the results -------------------------------------------------------------------------------

_environments: list = []


@events.init.add_listener
def _keep_environment(environment, **_kwargs) -> None:
    _environments.append(environment)


@events.quit.add_listener
def _write_results(**_kwargs) -> None:
    """The final figures, once every user has stopped, to the JSON file named by
    TAPBUY_LOAD_RESULTS (locust's CSV files are written a moment before the last users
    finish)."""
    target = os.environ.get("TAPBUY_LOAD_RESULTS")
    if not target or not _environments:
        return
    stats = _environments[0].stats
    entries = [
        {
            "type": entry.method,
            "name": entry.name,
            "count": entry.num_requests,
            "failures": entry.num_failures,
            "p50": entry.get_response_time_percentile(0.50),
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
            "max": entry.max_response_time,
        }
        for entry in stats.entries.values()
    ]
    errors = [
        {"type": e.method, "name": e.name, "error": str(e.error), "occurrences": e.occurrences}
        for e in stats.errors.values()
    ]
    Path(target).write_text(json.dumps({"entries": entries, "errors": errors}))


def _cookie(name: str, value: str) -> Cookie:
    return Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain="127.0.0.1",
        domain_specified=False,
        domain_initial_dot=False,
        path="/",
        path_specified=True,
        secure=False,
        expires=None,
        discard=True,
        comment=None,
        comment_url=None,
        rest={},
    )
