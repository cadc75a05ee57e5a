"""HTTP and WebSockets from one ASGI application."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models (the routing below does).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from streams.consumers import live_socket  # noqa: E402
from streams.routing import LIVE_PREFIX  # noqa: E402

consumers = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


def websockets(scope, receive, send):
    """The live socket (thousands per process on a popular live) is its own lean
    application, with its own session lookup; the other sockets go through Channels.
    Not a coroutine: it hands over the one it picks, which adds no frame per socket."""
    path = scope["path"][len(scope.get("root_path", "")) :]
    if path.startswith(LIVE_PREFIX):
        return live_socket(scope, receive, send)
    return consumers(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(websockets),
    }
)
