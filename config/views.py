"""Operational endpoints: the health check; and the error pages, which answer under /api/
in the API's error shape instead of HTML."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache

from config.celery import app as celery_app
from config.errors import error_body

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


async def _check_live_events() -> str:
    """The path of live events (streams.fanout): Redis, or this process alone without it."""
    from streams import realtime

    if not realtime.use_redis():
        return "ok"
    try:
        await asyncio.wait_for(realtime.async_redis().ping(), timeout=2)
    except Exception as exc:
        log.warning("healthz: live events down (Redis): %s", exc)
        return "down"
    return "ok"


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
    nothing works without it. Live events and the broker degrade: pages still work."""
    checks = {
        "database": await sync_to_async(_check_database)(),
        "live_events": await _check_live_events(),
        "broker": await sync_to_async(_check_broker, thread_sensitive=False)(),
    }
    body = {
        "status": "ok" if all(v == "ok" for v in checks.values()) else "degraded",
        "checks": checks,
        "backends": {
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "live_events": "redis" if settings.REDIS_URL else "in-process",
            "broker": celery_app.conf.broker_url.split(":", 1)[0],
        },
    }
    if checks["database"] != "ok":
        body["status"] = "down"
        return JsonResponse(body, status=503)
    return JsonResponse(body)


# --- error pages (handler400/403/404/500 in config/urls.py) ---------------------------------
# DRF answers the errors its views raise; these are the ones Django answers before or
# around a view: a URL that matches no route (an id that is not a number), a bad Host, a
# CSRF failure, an error outside the view.
API_PREFIX = "/api/"


def _api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request, exception):
    if _api(request):
        return JsonResponse(error_body("bad_request", "The request is malformed."), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _api(request):
        return JsonResponse(
            error_body("permission_denied", "You are not allowed to do that."), status=403
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; try again."),
            status=500,
        )
    return defaults.server_error(request)
