from config.errors import Conflict, DomainError
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


class InvalidGift(DomainError):
    """Bad input for a gift: field messages say what to fix."""

    code = "invalid"
    message = "Some fields are not valid."


class GiftNotFound(DomainError):
    # An inactive gift answers like one that never existed: it cannot be sent.
    code = "not_found"
    status = 404
    message = "No such gift."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"gift": [message or self.message]})


class LiveNotFound(DomainError):
    code = "not_found"
    status = 404
    message = "No such live."


class StreamNotLive(DomainError):
    code = "stream_not_live"
    status = 409
    message = "This live is not on air: gifts go to lives on air."


class GiftToSelf(DomainError):
    code = "gift_to_self"
    status = 400
    message = "You cannot send gifts to your own live."


class NotEnoughCoins(DomainError):
    code = "not_enough_coins"
    status = 402
    message = "Not enough coins for this gift: buy more coins first."


class InvalidPayout(DomainError):
    """Bad input: field messages say what to fix."""

    code = "invalid"
    message = "Some fields are not valid."


class NotEnoughEarnings(Conflict):
    code = "not_enough_earnings"
    message = "Not enough settled earnings for this payout."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"amount": [message or self.message]})


class PayoutNotFound(DomainError):
    # Another host's payout answers like one that does not exist.
    code = "not_found"
    status = 404
    message = "No such payout."


class PayoutStateConflict(Conflict):
    code = "payout_state_conflict"
    message = "The payout is not in a state that allows this."


# --- accounts ------------------------------------------------------------------------------


class CoinsAlreadySpent(Conflict):
    code = "coins_already_spent"
    message = (
        "The wallet no longer holds these coins: they were spent, so this purchase cannot be "
        "refunded."
    )


class CoinRefundNotAllowed(Conflict):
    code = "invalid_transition"
    message = "Only a paid coin purchase can be refunded."


class GiftsBusy(Conflict):
    # A send still queued behind other senders of this process after the combiner's wait:
    # nothing was debited.
    code = "gifts_busy"
    status = 503
    message = "Too many gifts at once; try again in a moment."
