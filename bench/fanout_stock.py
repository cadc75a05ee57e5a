"""The stock Channels reference for bench/fanout.py: one group per live, group_send.

    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/uvicorn bench.fanout_stock:application \
        --workers 2 --port 8001 --lifespan off

A plain AsyncWebsocketConsumer on /ws/live/<id>/ joins the group `live.<id>` on connect,
sends a fixed snapshot frame, and forwards every `live.event` group message with
self.send(text_data=...). The channel layer is channels_redis's RedisChannelLayer with
config/settings.py's options. Django is configured here for Channels only: no database,
no apps of Tapbuy. Bench-only: never served to users.
"""

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    INSTALLED_APPS=["channels"],
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": os.environ["REDIS_URL"],
                        "socket_timeout": None,
                        "max_connections": 1000,
                    }
                ],
                "prefix": os.environ.get("CHANNEL_PREFIX", "tapbuy-bench-stock"),
                "capacity": 1000,
                "expiry": 60,
            },
        }
    },
)
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

SNAPSHOT = '{"type":"snapshot","seq":0,"data":{}}'


def group_name(stream_id: int) -> str:
    return f"live.{stream_id}"


class StockViewer(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = group_name(self.scope["url_route"]["kwargs"]["stream_id"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=SNAPSHOT)

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def live_event(self, event):
        await self.send(text_data=event["text"])


async def health(scope, receive, send):
    """200 to any HTTP request: what Server.wait_healthy asks /healthz."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


application = ProtocolTypeRouter(
    {
        "http": health,
        "websocket": URLRouter([path("ws/live/<int:stream_id>/", StockViewer.as_asgi())]),
    }
)
