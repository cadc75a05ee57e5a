"""Fake viewers for a demo: real WebSocket connections to a running server that watch,
like and chat, so that the counters, the chat and the likes move."""

import asyncio
import contextlib
import json
import random

import websockets
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from streams.models import Stream

LINES = [
    "love this colour 😍",
    "what size is she wearing?",
    "does it come in black?",
    "just ordered!",
    "how long is shipping?",
    "that deal though 🔥",
    "hi from Lisbon 👋",
    "is the linen pre-washed?",
    "can you show the back?",
    "adding to bag",
]


def _cookie(user: User) -> str:
    """A real session for a demo user, as the browser would carry it."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Command(BaseCommand):
    help = "Drive fake viewers, likes and chat into a live on a running server."

    def add_arguments(self, parser):
        parser.add_argument("stream_id", type=int)
        parser.add_argument(
            "--url",
            default="ws://127.0.0.1:8000",
            help="The server's WebSocket base URL (default: %(default)s).",
        )
        parser.add_argument("--viewers", type=int, default=25)
        parser.add_argument("--seconds", type=int, default=0, help="Stop after this (0: never).")

    def handle(self, stream_id, url, viewers, seconds, **options):
        stream = Stream.objects.filter(pk=stream_id, status=Stream.Status.LIVE).first()
        if stream is None:
            raise CommandError(f"Stream {stream_id} is not on air.")
        chatters = [
            _cookie(u)
            for u in User.objects.filter(is_active=True, is_staff=False).exclude(pk=stream.host_id)[
                :10
            ]
        ]
        if not chatters:
            raise CommandError("No users to chat with: run seed_demo first.")
        self.stdout.write(f"{viewers} viewers on {url}/ws/live/{stream_id}/ (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                self.run(f"{url.rstrip('/')}/ws/live/{stream_id}/", viewers, chatters, seconds)
            )

    async def run(self, url, viewers, chatters, seconds):
        origin = url.replace("ws://", "http://").replace("wss://", "https://").split("/ws/")[0]
        tasks = [asyncio.create_task(self.viewer(url, origin, None)) for _ in range(viewers)]
        tasks += [asyncio.create_task(self.viewer(url, origin, c)) for c in chatters]
        if seconds:
            await asyncio.sleep(seconds)
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def viewer(self, url, origin, cookie):
        headers = {"Cookie": cookie} if cookie else {}
        while True:
            try:
                async with websockets.connect(
                    url, origin=origin, additional_headers=headers, compression=None
                ) as socket:
                    reader = asyncio.create_task(self.drain(socket))
                    try:
                        await self.act(socket, chatty=bool(cookie))
                    finally:
                        reader.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await reader
            except (OSError, websockets.ConnectionClosed):
                await asyncio.sleep(2)

    async def act(self, socket, *, chatty: bool):
        while True:
            await asyncio.sleep(random.uniform(0.5, 4))
            for _ in range(random.randint(1, 6)):
                await socket.send('{"type":"like"}')
            if chatty and random.random() < 0.25:
                await socket.send(
                    json.dumps({"type": "chat.send", "data": {"text": random.choice(LINES)}})
                )

    async def drain(self, socket):
        # Viewers read every frame, as a browser would; a closed socket ends the reading.
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in socket:
                pass
