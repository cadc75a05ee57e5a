"""config.ws.LeanWebSocketProtocol under a real uvicorn server: the same sockets as
uvicorn's own protocol (messages in order, flow control, pings, closing), keeping nothing
of the handshake once it is done."""

import asyncio
import socket
import threading

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.protocol import Protocol

from config.ws import Gate, LeanWebSocketProtocol, Mailbox, encode_text


async def echo(scope, receive, send):
    """Echoes every text message; "flood N" answers with N numbered frames of 10 KB."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message["text"]
        if text.startswith("flood "):
            for n in range(int(text.split()[1])):
                await send({"type": "websocket.send", "text": f"{n:06d}" + "x" * 10_000})
        elif text.startswith("wire "):
            # As the live fan-out writes: a frame encoded once, straight to the socket.
            assert send.__self__.write_frame(encode_text(text[5:]))
        elif text == "close":
            await send({"type": "websocket.close", "code": 4000})
        else:
            await send({"type": "websocket.send", "text": text})


@pytest.fixture
def server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        echo,
        host="127.0.0.1",
        port=port,
        ws=LeanWebSocketProtocol,
        lifespan="off",
        log_level="warning",
        ws_ping_interval=0.2,
        ws_ping_timeout=0.5,
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        thread.join(0.05)
        assert thread.is_alive(), "the server did not start"
    running.url = f"ws://127.0.0.1:{port}/"
    yield running
    running.should_exit = True
    thread.join(10)


def protocols(server) -> list[LeanWebSocketProtocol]:
    return [p for p in server.server_state.connections if isinstance(p, LeanWebSocketProtocol)]


async def test_messages_arrive_in_order_and_the_handshake_is_let_go(server):
    async with connect(server.url, compression=None) as ws:
        texts = [f"message {n}" for n in range(200)] + ["é" * 5000]
        for text in texts:
            await ws.send(text)
        assert [await ws.recv() for _ in texts] == texts
        # A message in fragments, and another after it.
        await ws.send(["frag", "ment", "ed"])
        await ws.send("after")
        assert [await ws.recv(), await ws.recv()] == ["fragmented", "after"]

        (protocol,) = protocols(server)
        assert protocol.request is None and protocol.response is None
        # The parser reading frames is websockets' own frame parser, whose frame does not
        # hold the handshake request.
        assert protocol.conn.parser.gi_code is Protocol.parse.__code__
        assert isinstance(protocol.queue, Mailbox) and isinstance(protocol.writable, Gate)


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_frames_encoded_once_reach_the_client(server, compression):
    # With permessage-deflate negotiated too: an uncompressed message is allowed.
    async with connect(server.url, compression=compression) as ws:
        for text in ["short", "ü" * 200, "x" * 70_000]:
            await ws.send("wire " + text)
            assert await ws.recv() == text
        await ws.send("echo after")
        assert await ws.recv() == "echo after"


async def test_frames_are_not_written_past_a_full_buffer_or_a_close(server):
    async with connect(server.url, compression=None, max_queue=4) as ws:
        await ws.send("flood 500")
        await asyncio.sleep(0.5)
        (protocol,) = protocols(server)
        assert protocol.write_frame(encode_text("jump the queue")) is False  # paused
        received = [int((await ws.recv())[:6]) for _ in range(500)]
        assert received == list(range(500))
        protocol.close_sent = True
        assert protocol.write_frame(encode_text("after close")) is False
        protocol.close_sent = False


async def test_a_client_that_reads_slowly_gets_every_frame(server):
    # The server's sends wait while the socket's buffer is full (the Gate closed), and go
    # on as the client reads.
    async with connect(server.url, compression=None, max_queue=4) as ws:
        await ws.send("flood 500")
        await asyncio.sleep(0.5)
        (protocol,) = protocols(server)
        assert not protocol.writable.is_set()  # the client is not reading: paused
        received = [int((await ws.recv())[:6]) for _ in range(500)]
        assert received == list(range(500))
        await ws.send("still here")
        assert await ws.recv() == "still here"


async def test_idle_sockets_are_pinged_and_stay_open(server):
    async with connect(server.url, compression=None, ping_interval=None) as ws:
        # Several of the server's pings, each answered by the client within the pong
        # timeout (0.5 s): one left unanswered would have closed the socket.
        await asyncio.sleep(1.5)
        (protocol,) = protocols(server)
        assert protocol.ping_sent_at > 0
        await ws.send("alive")
        assert await ws.recv() == "alive"


async def test_closing_from_either_side(server):
    async with connect(server.url, compression=None) as ws:
        await ws.send("close")
        with pytest.raises(Exception):  # noqa: B017 (websockets' ConnectionClosed)
            await ws.recv()
        assert ws.close_code == 4000
    async with connect(server.url, compression=None) as ws:
        await ws.send("bye")
        assert await ws.recv() == "bye"
    for _ in range(50):
        if not protocols(server):
            break
        await asyncio.sleep(0.05)
    assert protocols(server) == []


async def test_the_gate_and_the_mailbox_behave_as_the_asyncio_originals():
    gate = Gate()
    assert await gate.wait() is True  # open: no wait
    gate.clear()
    waiter = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    gate.set()
    assert await waiter is True

    mailbox = Mailbox()
    reader = asyncio.ensure_future(mailbox.get())
    await asyncio.sleep(0)
    mailbox.put_nowait(1)
    mailbox.put_nowait(2)
    assert await reader == 1
    assert not mailbox.empty()
    assert await mailbox.get() == 2
    assert mailbox.empty()
    # A reader cancelled while waiting leaves the mailbox usable.
    cancelled = asyncio.ensure_future(mailbox.get())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    mailbox.put_nowait(3)
    assert await mailbox.get() == 3
