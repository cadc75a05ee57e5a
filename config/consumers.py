"""A WebSocket ping route: proves the socket path (proxy, ASGI server, channel layer
routing) works end to end, and gives clients a cheap way to measure round trips."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

MAX_MESSAGE_BYTES = 1024


class PingConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None or text_data is None or len(text_data) > MAX_MESSAGE_BYTES:
            return await self._error("bad_message", "Send a JSON text frame under 1 KB.")
        try:
            message = json.loads(text_data)
        except ValueError:
            return await self._error("bad_json", "The message is not valid JSON.")
        if not isinstance(message, dict) or message.get("type") != "ping":
            return await self._error("unknown_type", 'Only {"type": "ping"} is understood.')
        await self.send(
            text_data=json.dumps(
                {
                    "type": "pong",
                    "ts": timezone.now().isoformat().replace("+00:00", "Z"),
                    "data": {
                        "echo": message.get("data"),
                        "user": self.scope["user"].is_authenticated,
                    },
                }
            )
        )

    async def _error(self, code: str, message: str):
        await self.send(
            text_data=json.dumps(
                {
                    "type": "error",
                    "data": {"code": code, "message": message},
                }
            )
        )
