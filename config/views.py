"""Operational endpoints: the health check."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from config.celery import app as celery_app

log = logging.getLogger(__name__)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down", whatever the driver raised
        log.warning("healthz: database down: %s", exc)
        return "down"
    return "ok"


async def _check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "missing"
    try:
        channel = await layer.new_channel("healthz.")
        await asyncio.wait_for(layer.send(channel, {"type": "healthz.ping"}), timeout=2)
        message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    except Exception as exc:
        log.warning("healthz: channel layer down: %s", exc)
        return "down"
    return "ok" if message.get("type") == "healthz.ping" else "down"


def _check_broker() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        log.warning("healthz: broker down: %s", exc)
        return "down"
    return "ok"


@never_cache
async def healthz(request):
    """JSON with the state of each backing service; 503 when the database is down, since
    nothing works without it. The channel layer and broker degrade: pages still work."""
    checks = {
        "database": await sync_to_async(_check_database)(),
        "channel_layer": await _check_channel_layer(),
        "broker": await sync_to_async(_check_broker, thread_sensitive=False)(),
    }
    body = {
        "status": "ok" if all(v == "ok" for v in checks.values()) else "degraded",
        "checks": checks,
        "backends": {
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
            "broker": celery_app.conf.broker_url.split(":", 1)[0],
        },
    }
    if checks["database"] != "ok":
        body["status"] = "down"
        return JsonResponse(body, status=503)
    return JsonResponse(body)
