"""The API fuzzed from its own OpenAPI schema (schemathesis, through the WSGI application,
as the seeded user with a token): no operation answers 5xx, every documented answer
matches the schema, and input the schema calls invalid is refused.

Every operation is tried on its own; the state machine follows the links added below
(checkout, gifting, deals, lives, products, payouts) from one answer to the next request.
Ids in paths and bodies are aimed at rows that exist half of the time, so that requests
get past the 404s to the code behind them. FUZZ_EXAMPLES / FUZZ_STEPS size the run."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.fuzz.conftest import fuzz_examples, fuzz_steps

# Nothing fails, every answer is one the operation documents (errors included, in their
# one shape: config/schema.py) and keeps to its schema, and input the schema forbids is
# refused (no validation bypass).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,
]

# Which kind of id each path's parameter names, by the path's start.
PATH_KINDS = [
    (r"/addresses/", "address"),
    (r"/bag/", "bag"),
    (r"/chat/", "chat"),
    (r"/deals/", "deal"),
    (r"/orders/", "order"),
    (r"/shop/orders/", "shop_order"),
    (r"/products/", "product"),
    (r"/variants/", "variant"),
    (r"/streams/", "stream"),
    (r"/shops/", "handle"),
    (r"/users/", "handle"),
]
# Body fields that hold an id, and the kind of id.
BODY_KINDS = {
    "variant": "variant",
    "product": "product",
    "stream": "stream",
    "address": "address",
    "pack": "pack",
    "gift": "gift",
    "deal": "deal",
}


def _link(operation_id: str, parameters: dict | None = None, body: dict | None = None) -> dict:
    link = {"operationId": operation_id}
    if parameters:
        link["parameters"] = parameters
    if body is not None:
        link["requestBody"] = body
    return link


def _operation_ids(raw: dict) -> dict[tuple[str, str], str]:
    return {
        (method.upper(), path): operation["operationId"]
        for path, operations in raw["paths"].items()
        for method, operation in operations.items()
    }


def add_links(raw: dict) -> None:
    """OpenAPI links between the money-moving operations and what follows them."""
    ids = _operation_ids(raw)
    v1 = "/api/v1"

    def op(method, path):
        return ids[(method, v1 + path)]

    order_id = {"id": "$response.body#/id"}
    first_result = {"id": "$response.body#/results/0/id"}
    links = {
        ("POST", "/orders/", "201"): {
            "Read": _link(op("GET", "/orders/{id}/"), order_id),
            "Cancel": _link(op("POST", "/orders/{id}/cancel/"), order_id),
            "Received": _link(op("POST", "/orders/{id}/received/"), order_id),
            "AskRefund": _link(op("POST", "/orders/{id}/refund-request/"), order_id),
        },
        ("POST", "/checkout/", "201"): {
            "Read": _link(op("GET", "/orders/{id}/"), {"id": "$response.body#/orders/0/id"}),
            "Cancel": _link(
                op("POST", "/orders/{id}/cancel/"), {"id": "$response.body#/orders/0/id"}
            ),
        },
        ("POST", "/bag/", "201"): {
            "Change": _link(op("PATCH", "/bag/{id}/"), order_id),
            "Remove": _link(op("DELETE", "/bag/{id}/"), order_id),
            "CheckOut": _link(op("POST", "/checkout/"), body={}),
        },
        ("GET", "/shop/orders/", "200"): {
            "Ship": _link(op("POST", "/shop/orders/{id}/ship/"), first_result),
            "Cancel": _link(op("POST", "/shop/orders/{id}/cancel/"), first_result),
            "Refund": _link(op("POST", "/shop/orders/{id}/refund/"), first_result),
            "Reject": _link(op("POST", "/shop/orders/{id}/reject-refund/"), first_result),
        },
        ("GET", "/gifts/", "200"): {
            "Send": _link(
                op("POST", "/streams/{id}/gifts/"),
                body={"gift": "$response.body#/0/id", "quantity": 1},
            ),
        },
        ("GET", "/streams/", "200"): {
            "Gift": _link(op("POST", "/streams/{id}/gifts/"), first_result),
            "Snapshot": _link(op("GET", "/streams/{id}/snapshot/"), first_result),
        },
        ("GET", "/coin-packs/", "200"): {
            "Buy": _link(op("POST", "/wallet/coins/"), body={"pack": "$response.body#/0/id"}),
        },
        ("POST", "/streams/", "201"): {
            "GoLive": _link(op("POST", "/streams/{id}/go-live/"), order_id),
            "Carousel": _link(op("POST", "/streams/{id}/carousel/"), order_id),
        },
        ("POST", "/streams/{id}/go-live/", "200"): {
            "Deal": _link(op("POST", "/streams/{id}/deals/"), order_id),
            "Pin": _link(op("POST", "/streams/{id}/pin/"), order_id),
            "End": _link(op("POST", "/streams/{id}/end/"), order_id),
        },
        ("POST", "/streams/{id}/deals/", "201"): {
            "EndDeal": _link(op("POST", "/deals/{id}/end/"), order_id),
        },
        ("POST", "/products/", "201"): {
            "Read": _link(op("GET", "/products/{id}/"), order_id),
            "Edit": _link(op("PATCH", "/products/{id}/"), order_id),
            "AddVariant": _link(op("POST", "/products/{id}/variants/"), order_id),
            "Archive": _link(op("DELETE", "/products/{id}/"), order_id),
        },
        ("POST", "/payouts/", "201"): {
            "Read": _link(op("GET", "/payouts/{id}/"), order_id),
        },
        ("POST", "/addresses/", "201"): {
            "Default": _link(op("POST", "/addresses/{id}/default/"), order_id),
            "Delete": _link(op("DELETE", "/addresses/{id}/"), order_id),
        },
    }
    for (method, path, status), named in links.items():
        response = raw["paths"][v1 + path][method.lower()]["responses"][status]
        response.setdefault("links", {}).update(named)


def _padded(value) -> bool:
    if isinstance(value, str):
        return value != value.strip()
    if isinstance(value, dict):
        return any(_padded(item) for item in value.values())
    if isinstance(value, list):
        return any(_padded(item) for item in value)
    return False


def _aim(value, known: list):
    """Half of the time the generated value, else one that exists."""
    if not known:
        return st.just(value)
    return st.one_of(st.just(value), st.sampled_from(known))


def load_schema(marketplace, *, aimed: bool) -> schemathesis.BaseSchema:
    """The served schema with the links added; aimed, ids in paths and bodies are half of
    the time ones that exist. Cases meant to be invalid are drawn unaimed: putting a real
    id in place of the invalid value would make them valid behind schemathesis's back."""
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    raw = response.json()
    add_links(raw)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = application
    if not aimed:

        @schema.hook
        def filter_body(context, body):
            # Strings are trimmed before their length is checked: one too long only by its
            # leading or trailing whitespace is accepted, rightly, and stored within bounds.
            return not _padded(body)

        return schema
    ids = marketplace.ids

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        path = context.operation.path
        kind = next((kind for start, kind in reversed(PATH_KINDS) if re.search(start, path)), None)
        if kind is None or not path_parameters:
            return st.just(path_parameters)
        name = next(iter(path_parameters))
        return _aim(path_parameters[name], ids[kind]).map(
            lambda value: {**path_parameters, name: value}
        )

    @schema.hook
    def flatmap_body(context, body):
        if not isinstance(body, dict):
            return st.just(body)
        strategy = st.just(dict(body))
        for name, kind in BODY_KINDS.items():
            if isinstance(body.get(name), int):
                strategy = strategy.flatmap(
                    lambda b, name=name, kind=kind: _aim(b[name], ids[kind]).map(
                        lambda v: {**b, name: v}
                    )
                )
        items = body.get("items")
        if isinstance(items, list) and items and isinstance(items[0], dict):
            strategy = strategy.flatmap(
                lambda b: _aim(items[0].get("variant"), ids["variant"]).map(
                    lambda v: {**b, "items": [{**items[0], "variant": v}, *items[1:]]}
                )
            )
        return strategy

    return schema


def call(case, headers: dict, validate=None):
    """One request, in a savepoint of the test's transaction: a request that fails in the
    database rolls back alone (a server would run it in a transaction of its own) and the
    failure is reported for it, not for every request after it."""
    savepoint = transaction.savepoint()
    try:
        response = case.call(headers=headers)
    finally:
        if connection.needs_rollback or _in_failed_transaction():
            transaction.savepoint_rollback(savepoint)
            connection.needs_rollback = False
        else:
            transaction.savepoint_commit(savepoint)
    (validate or case.validate_response)(response, checks=CHECKS)
    return response


def _in_failed_transaction() -> bool:
    if connection.vendor != "postgresql" or connection.connection is None:
        return False
    from psycopg.pq import TransactionStatus

    return connection.connection.info.transaction_status == TransactionStatus.INERROR


def _operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


def auth(marketplace) -> dict:
    return {"Authorization": f"Token {marketplace.token}"}


@pytest.fixture
def api_schema(marketplace, monkeypatch):
    # Throttles are tested where they are defined; here they would answer 429 to most of
    # the run (the checkout rate is 30 a minute).
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "allow_request", lambda self, request, view: True)
    schemas = {
        "aimed": load_schema(marketplace, aimed=True),
        "plain": load_schema(marketplace, aimed=False),
    }
    # The WSGI handler closes the database connection around each request, which would
    # end the test's transaction; Django's test client (which fetched the schema above,
    # and connects these again after its own request) keeps it open the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemas
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_no_operation_fails_breaks_its_schema_or_takes_bad_input(api_schema, marketplace, subtests):
    # One marketplace for every operation, each a subtest: schemathesis's own pytest
    # integration (from_fixture) does not run on pytest 9, and seeding per operation would
    # cost more than the fuzzing.
    headers = auth(marketplace)
    invalid = {op.label: op for op in _operations(api_schema["plain"])}
    for operation in _operations(api_schema["aimed"]):
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            invalid[operation.label].as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @settings(
            max_examples=fuzz_examples(25),
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            call(case, headers)

        with subtests.test(operation.label):
            fuzz()


def test_linked_operations_hold_up_in_sequence(api_schema, marketplace):
    machine = api_schema["aimed"].as_state_machine()
    headers = auth(marketplace)

    class Machine(machine):
        # Each sequence starts from the same marketplace: what one left behind would make
        # the next draw differently, which Hypothesis refuses as flaky.
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def call(self, case, **kwargs):
            return call(case, headers, validate=lambda response, checks: None)

        def validate_response(self, response, case, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=settings(
            max_examples=fuzz_examples(8),
            stateful_step_count=fuzz_steps(8),
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
