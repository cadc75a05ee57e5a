from config.errors import DomainError
from payments.errors import (  # noqa: F401 (raised by coin purchases)
    PaymentDeclined,
    PaymentFailed,
    PaymentMethodRequired,
)


class InvalidCoinPurchase(DomainError):
    """Bad input: field messages say what to fix."""

    code = "invalid"
    message = "Some fields are not valid."


class CoinPackNotFound(DomainError):
    # An inactive pack answers like one that never existed: it is not on sale.
    code = "not_found"
    status = 404
    message = "No such coin pack."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"pack": [message or self.message]})
