from django.urls import path

from config.consumers import PingConsumer

# Sockets served by Channels consumers (sessions, auth and URL routing middleware). The
# live socket is not among them: config.asgi routes /ws/live/ to its own application.
websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
]
