"""Answers for a server that is busy, not broken."""

from django.db import OperationalError
from django.http import HttpResponse, JsonResponse

from config.errors import error_body

RETRY_AFTER_SECONDS = 2


def _pool_exhausted(exc: BaseException) -> bool:
    """A request that waited DATABASE_POOL_TIMEOUT for a pooled connection and got none
    (Django wraps the pool's PoolTimeout in its OperationalError)."""
    while exc is not None:
        if type(exc).__name__ == "PoolTimeout":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class BusyMiddleware:
    """When every pooled database connection stays taken for longer than the pool's
    timeout (a crowd at a flash sale), answer 503 with Retry-After, in the API's error
    shape for the API, instead of a 500: nothing was done, and a retry will succeed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError) or not _pool_exhausted(exception):
            return None
        message = "Too many requests at once; nothing was done. Try again in a moment."
        if request.path.startswith("/api/"):
            response = JsonResponse(error_body("busy", message), status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
