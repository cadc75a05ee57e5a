"""The floor for bench/fanout.py: the least a Python server can do per event.

    .venv/bin/python bench/fanout_floor.py PORT REDIS_URL CHANNEL

One process, no Django: a bare `websockets` server on /ws/live/<id>/ that sends a fixed
snapshot frame to each connection, subscribes to one Redis pub/sub channel, and hands
every message to websockets.broadcast() for all connections. GET /healthz answers 200.
Bench-only: never served to users.
"""

import asyncio
import http
import sys

import redis.asyncio as aioredis
from websockets.asyncio.server import broadcast, serve

SNAPSHOT = '{"type":"snapshot","seq":0,"data":{}}'


async def main(port: int, redis_url: str, channel: str) -> None:
    viewers: set = set()

    def health(connection, request):
        if not request.path.startswith("/ws/"):
            return connection.respond(http.HTTPStatus.OK, "ok\n")
        return None

    async def handler(ws):
        await ws.send(SNAPSHOT)
        viewers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            viewers.discard(ws)

    client = aioredis.Redis.from_url(redis_url, socket_timeout=None)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    async with serve(handler, "127.0.0.1", port, compression=None, process_request=health):
        while True:
            message = await pubsub.get_message(timeout=5.0)
            if message is not None:
                broadcast(viewers, message["data"].decode())


if __name__ == "__main__":
    arguments = (int(sys.argv[1]), sys.argv[2], sys.argv[3])
    try:
        import uvloop

        uvloop.run(main(*arguments))
    except ImportError:
        asyncio.run(main(*arguments))
