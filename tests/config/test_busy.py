"""A crowd that takes every pooled connection gets 503 with Retry-After, not a 500."""

import json

from django.db import OperationalError
from django.test import RequestFactory
from psycopg_pool import PoolTimeout

from config.middleware import BusyMiddleware


def pool_timeout() -> OperationalError:
    # As Django raises it: its OperationalError wrapping the pool's PoolTimeout.
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError as wrapped:
        return wrapped


def test_an_exhausted_pool_answers_503_in_the_api_shape():
    middleware = BusyMiddleware(lambda request: None)
    response = middleware.process_exception(
        RequestFactory().post("/api/v1/orders/"), pool_timeout()
    )
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert json.loads(response.content)["error"]["code"] == "busy"


def test_a_page_gets_a_plain_503():
    middleware = BusyMiddleware(lambda request: None)
    response = middleware.process_exception(RequestFactory().get("/live/1"), pool_timeout())
    assert response.status_code == 503 and response["Retry-After"]


def test_other_database_errors_are_left_alone():
    middleware = BusyMiddleware(lambda request: None)
    assert middleware.process_exception(RequestFactory().get("/"), OperationalError("x")) is None
    assert middleware.process_exception(RequestFactory().get("/"), ValueError("x")) is None
