from config.errors import Conflict, DomainError, NotAllowed
from payments.errors import (  # noqa: F401 (raised by checkout)
    PaymentDeclined,
    PaymentFailed,
    PaymentMethodRequired,
)


class InvalidOrder(DomainError):
    """Bad input: field messages say what to fix."""

    code = "invalid"
    message = "Some fields are not valid."


class OutOfStock(Conflict):
    code = "out_of_stock"
    message = "Sold out: not enough stock left for this."

    def __init__(self, variant_ids: list[int], message: str | None = None):
        self.variant_ids = sorted(variant_ids)
        super().__init__(message, fields={"items": [message or self.message]})


class DealEnded(Conflict):
    code = "deal_ended"
    message = "This deal has ended."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"items": [message or self.message]})


class DealSoldOut(OutOfStock):
    code = "deal_sold_out"
    message = "The deal is sold out."


class PriceChanged(Conflict):
    code = "price_changed"
    message = "The price changed since you saw it; check it and confirm again."

    def __init__(self, prices: dict[int, int]):
        self.prices = prices
        super().__init__(
            fields={
                "items": [f"Variant {v} now costs {p} (minor units)." for v, p in prices.items()]
            }
        )


class NotForSale(DomainError):
    code = "not_for_sale"
    message = "This product cannot be bought here."


class AddressNotFound(DomainError):
    # Another buyer's address answers exactly like one that does not exist.
    code = "not_found"
    status = 404
    message = "No such address."


class BagItemNotFound(DomainError):
    code = "not_found"
    status = 404
    message = "That is not in your bag."


class AddressRequired(DomainError):
    code = "address_required"
    message = "Add a shipping address first."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"address": [message or self.message]})


class OrderNotFound(DomainError):
    code = "not_found"
    status = 404
    message = "No such order."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "That is not possible for this order in its current state."


class RefundTooLarge(Conflict):
    code = "refund_exceeds_paid"
    message = "That is more than was paid and not yet refunded."


class NotYourOrder(NotAllowed):
    code = "not_your_order"
    message = "Only the shop that sold this order can do that."


class CheckoutBusy(Conflict):
    code = "checkout_busy"
    status = 503
    message = "Too many buyers at once; try again in a moment."
