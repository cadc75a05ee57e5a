"""Serializer fields shared by the apps' APIs."""

from rest_framework import serializers

BIGINT_MAX = 2**63 - 1


def id_field(**kwargs) -> serializers.IntegerField:
    """An id a client sends: a positive integer that fits a primary key (a bigint). A larger
    one is bad input (400), not a value the database fails on (500)."""
    return serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, **kwargs)


class TextField(serializers.CharField):
    """Text a client sends: a JSON string. DRF's CharField takes a number and makes it
    text; the schema says string, so a number is bad input (400)."""

    default_error_messages = {"invalid": "Not a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
