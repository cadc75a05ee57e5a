"""The WebSocket protocol the ASGI workers serve sockets with: uvicorn's own
(websockets' sans-I/O implementation), keeping less per open socket.

A popular live holds thousands of sockets per process for hours; what each one keeps is
the server's memory. Once the handshake is done, uvicorn's protocol still holds the
parsed request and the response it sent (their headers), an asyncio.Queue for incoming
messages and an asyncio.Event for write flow control: three deques and one more, each
allocated up front. Here the handshake objects are let go as soon as they have served
(the scope keeps what the application reads), and the queue and the event are replaced
by equivalents that allocate only when something waits.

It also takes frames encoded once for many sockets (`write_frame`, `encode_text`): the
live fan-out writes an event's bytes to every socket of a live that keeps up, as
websockets.broadcast does, instead of framing the same text once per socket.

Used by `scripts/serve` and every uvicorn command of the project
(`--ws config.ws:LeanWebSocketProtocol`); the development server (daphne) has its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, State


class Gate:
    """asyncio.Event's set/clear/wait for write flow control: open unless the transport
    asked to pause; a waiter costs a future only while it is closed."""

    __slots__ = ("opened", "waiters")

    def __init__(self):
        self.opened = True
        self.waiters: list[asyncio.Future] | None = None

    def is_set(self) -> bool:
        return self.opened

    def set(self) -> None:
        self.opened = True
        waiters, self.waiters = self.waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self.opened = False

    async def wait(self) -> bool:
        if self.opened:
            return True  # without suspending, as asyncio.Event does
        waiter = asyncio.get_running_loop().create_future()
        if self.waiters is None:
            self.waiters = []
        self.waiters.append(waiter)
        try:
            await waiter
        finally:
            if self.waiters is not None and waiter in self.waiters:
                self.waiters.remove(waiter)
        return True


class Mailbox:
    """asyncio.Queue's put_nowait/get/empty for the messages a socket received, read by
    the one task that runs the application. Few ever wait here: the protocol stops
    reading from the socket while a message is unread."""

    __slots__ = ("items", "waiter")

    def __init__(self):
        self.items: list[Any] = []
        self.waiter: asyncio.Future | None = None

    def empty(self) -> bool:
        return not self.items

    def qsize(self) -> int:
        return len(self.items)

    def put_nowait(self, item: Any) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self.items:
            if self.waiter is not None and not self.waiter.done():
                raise RuntimeError("a socket's messages are read by one task at a time")
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.pop(0)


def encode_text(text: str) -> bytes:
    """A text message as a server's WebSocket frame on the wire (servers do not mask).
    Uncompressed: permessage-deflate lets any message go uncompressed."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Mailbox()  # type: ignore[assignment]
        self.writable = Gate()  # type: ignore[assignment]

    def write_frame(self, frame: bytes) -> bool:
        """Write a frame from encode_text if the socket is open and its buffer is not
        full; False when it must go through send (which waits, or raises if closed)."""
        if (
            self.close_sent
            or not self.writable.opened
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True

    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        # The scope holds what the application reads of the request.
        self.request = None

    def start_keepalive(self) -> None:
        # Called once the handshake's response is on the wire: nothing reads it again.
        self.response = None
        self._forget_request()
        super().start_keepalive()

    def _forget_request(self) -> None:
        """websockets' server parser reads the handshake, then frames for the rest of the
        connection inside the same generator, whose frame keeps the parsed request (and
        its headers) alive as long as the socket. Between frames, with nothing buffered,
        hand over to a frame parser of its own: the same state, without the request."""
        conn = self.conn
        frames = getattr(conn.parser, "gi_yieldfrom", None)
        waiting = getattr(frames, "gi_yieldfrom", None)
        if waiting is None or waiting.gi_code.co_name != "at_eof" or conn.reader.buffer:
            return  # mid-frame (a client that did not wait for the handshake): leave it
        parser = Protocol.parse(conn)
        next(parser)  # runs to the same wait for data
        conn.parser = parser
