"""Who may open the live socket and who they are once in: our own pages' origin only,
and the identity of the session cookie, never of the message."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from config.asgi import application
from streams.models import ChatMessage
from tests.factories import UserFactory
from tests.streams.conftest import connect, receive_type, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("flush_layer")]


def _chat(text: str, **extra) -> str:
    return json.dumps({"type": "chat.send", "data": {"text": text, **extra}})


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://localhost", True),
        ("https://evil.example", False),
        ("http://127.0.0.1.evil.example", False),
        ("null", False),
        (None, False),
    ],
)
async def test_only_our_own_origin_opens_the_live_socket(live, origin, accepted):
    headers = [(b"origin", origin.encode())] if origin is not None else []
    communicator = WebsocketCommunicator(application, f"/ws/live/{live.pk}/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected is accepted
    if connected:
        assert json.loads(await communicator.receive_from(timeout=5))["type"] == "snapshot"
    await communicator.disconnect()


async def test_the_server_refuses_a_foreign_origin_before_the_handshake(live, asgi_server):
    """Through uvicorn and a real WebSocket client: another site's page gets a 403."""
    url = asgi_server.replace("http://", "ws://") + f"/ws/live/{live.pk}/"
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(url, origin="https://evil.example", open_timeout=5):
            pass
    assert refused.value.response.status_code == 403
    async with ws_connect(url, origin=asgi_server, open_timeout=5) as socket:
        assert json.loads(await socket.recv())["type"] == "snapshot"


async def test_an_anonymous_viewer_watches_but_cannot_chat(live):
    chatter = await sync_to_async(UserFactory)(handle="mia")
    anonymous, snapshot = await connect(live.pk)
    assert snapshot["data"]["stream"]["status"] == "live"
    sender, _ = await connect(live.pk, chatter)
    await sender.send_to(text_data=_chat("hello"))
    assert (await receive_type(anonymous, "chat.message"))["data"]["text"] == "hello"

    await anonymous.send_to(text_data=_chat("me too", user={"handle": "mia"}))
    assert (await receive_type(anonymous, "error"))["data"]["code"] == "login_required"
    assert await sync_to_async(ChatMessage.objects.count)() == 1
    await anonymous.disconnect()
    await sender.disconnect()


async def test_the_session_says_who_chats_whatever_the_message_claims(live, live_host):
    vera = await sync_to_async(UserFactory)(handle="vera", display_name="Vera")
    socket, _ = await connect(live.pk, vera)
    await socket.send_to(
        text_data=_chat("hi", user={"handle": live_host.handle}, user_id=live_host.pk)
    )
    event = await receive_type(socket, "chat.message")
    assert event["data"]["user"]["handle"] == "vera"
    line = await sync_to_async(ChatMessage.objects.get)()
    assert line.user_id == vera.pk
    await socket.disconnect()


@pytest.mark.parametrize("cookie", ["forged", "ended"])
async def test_a_forged_or_ended_session_is_anonymous(live, cookie):
    vera = await sync_to_async(UserFactory)(handle="vera")
    if cookie == "forged":
        header = b"sessionid=notarealsessionkey0123456789abcdef"
    else:
        from django.contrib.sessions.models import Session

        header = await sync_to_async(session_cookie)(vera)
        await sync_to_async(Session.objects.all().delete)()  # signed out everywhere
    communicator = WebsocketCommunicator(
        application,
        f"/ws/live/{live.pk}/",
        headers=[(b"origin", b"http://127.0.0.1"), (b"cookie", header)],
    )
    connected, _ = await communicator.connect()
    assert connected
    assert json.loads(await communicator.receive_from(timeout=5))["type"] == "snapshot"
    await communicator.send_to(text_data=_chat("hi"))
    assert (await receive_type(communicator, "error"))["data"]["code"] == "login_required"
    assert await sync_to_async(ChatMessage.objects.count)() == 0
    await communicator.disconnect()


async def test_chat_is_limited_per_viewer_across_sockets(live, settings):
    """LIVE_CHAT_RATE counts a viewer's lines over all their sockets (each socket also has
    its own burst limit): more sockets do not mean more lines."""
    settings.LIVE_CHAT_RATE = "3/min"
    vera, mia = await sync_to_async(UserFactory)(), await sync_to_async(UserFactory)()
    first, _ = await connect(live.pk, vera)
    second, _ = await connect(live.pk, vera)
    other, _ = await connect(live.pk, mia)
    for socket, text in ((first, "one"), (second, "two"), (first, "three")):
        await socket.send_to(text_data=_chat(text))
        assert (await receive_type(other, "chat.message"))["data"]["text"] == text
    await second.send_to(text_data=_chat("four"))
    error = await receive_type(second, "error")
    assert error["data"]["code"] == "rate_limited" and error["data"]["retry_after"] > 0
    await other.send_to(text_data=_chat("mine"))
    assert (await receive_type(other, "chat.message"))["data"]["text"] == "mine"
    assert await sync_to_async(ChatMessage.objects.count)() == 4
    for socket in (first, second, other):
        await socket.disconnect()
