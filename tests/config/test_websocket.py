import json

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application


def _communicator(path="/ws/ping/"):
    return WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1")])


@pytest.mark.django_db(transaction=True)
async def test_ping_is_answered_with_pong():
    communicator = _communicator()
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data=json.dumps({"type": "ping", "data": 7}))
    reply = json.loads(await communicator.receive_from())
    assert reply["type"] == "pong"
    assert reply["data"] == {"echo": 7, "user": False}
    assert reply["ts"].endswith("Z")
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("frame", "code"),
    [("{not json", "bad_json"), ('{"type": "shout"}', "unknown_type"), ("x" * 2000, "bad_message")],
)
async def test_bad_messages_get_an_error_event_and_the_socket_stays_open(frame, code):
    communicator = _communicator()
    await communicator.connect()
    await communicator.send_to(text_data=frame)
    reply = json.loads(await communicator.receive_from())
    assert reply == {"type": "error", "data": {"code": code, "message": reply["data"]["message"]}}
    await communicator.send_to(text_data='{"type": "ping"}')
    assert json.loads(await communicator.receive_from())["type"] == "pong"
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_foreign_origin_is_refused():
    communicator = WebsocketCommunicator(
        application, "/ws/ping/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected
