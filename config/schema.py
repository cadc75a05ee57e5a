"""The OpenAPI schema's error answers: every operation documents the statuses it may answer
with besides its success, each with the one error shape of config.errors, so that clients
(and the schema fuzzing in tests/fuzz) know the errors as well as the successes."""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs."},
                "message": {"type": "string", "description": "For people."},
                "fields": {
                    "type": "object",
                    "description": "Per field (or nested field) of the input, its messages.",
                    "additionalProperties": True,
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

REASONS = {
    "400": "Bad input: `fields` says what is wrong with which field.",
    "401": "Not signed in, or a wrong token.",
    "402": "Not enough coins (gifts) or a payment declined.",
    "403": "Signed in, but not allowed.",
    "404": "No such object, or not yours.",
    "409": "Conflicts with the current state (out of stock, already decided, an "
    "Idempotency-Key reused with another body or still in progress).",
    "415": "The body is not JSON (or multipart where a file is sent).",
    "429": "Rate-limited: `Retry-After` says when to try again.",
}
EVERY_OPERATION = ("400", "401", "403", "404", "429")
CHANGING = ("409", "415")
# Operations that move money or coins.
PAYING = ("/orders/", "/checkout/", "/gifts/", "/coins/")


def error_responses(result, generator, request, public):
    """drf-spectacular's postprocessing hook: an `Error` component, and for each operation
    the error statuses it does not document yet."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = list(EVERY_OPERATION)
            if method in ("post", "put", "patch", "delete"):
                statuses += CHANGING
                if method == "post" and any(part in path for part in PAYING):
                    statuses.append("402")
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                responses.setdefault(
                    status,
                    {
                        "description": REASONS[status],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result
