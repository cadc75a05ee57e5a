"""The live socket is a plain ASGI application (streams.consumers.live_socket), routed by
config.asgi ahead of the Channels stack that serves the other sockets."""

LIVE_PREFIX = "/ws/live/"
