from config.errors import Conflict, DomainError


class UnbalancedTransaction(ValueError):
    """A programming error: a posting whose entries do not sum to zero per unit."""


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 402
    message = "Not enough balance for this."

    def __init__(self, account_code: str, message: str | None = None):
        self.account_code = account_code
        super().__init__(message)


class PostingConflict(Conflict):
    code = "posting_conflict"
    message = "This posting was already made with other amounts."


class IdempotencyKeyRequired(DomainError):
    code = "idempotency_key_required"
    message = "Send an Idempotency-Key header (1 to 100 printable characters) with this request."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used with a different request."


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    message = "A request with this Idempotency-Key is still being processed; retry shortly."


# --- The payment provider's side: cards, charges, saved payment methods, webhooks ---------


class InvalidCard(DomainError):
    """Card details that no payment could be made with; fields name each problem."""

    code = "invalid_card"
    message = "Check the card details."


class InvalidPaymentMethod(DomainError):
    code = "invalid_payment_method"
    message = "Unknown payment method."

    def __init__(self, payment_method: str, message: str | None = None):
        self.payment_method = payment_method
        message = message or "Unknown payment method: use a saved card or a test card."
        super().__init__(message, fields={"payment_method": [message]})


class InvalidAmount(DomainError):
    code = "invalid_amount"
    message = "The amount is not valid."

    def __init__(self, message: str, *, field: str = "amount_minor"):
        super().__init__(message, fields={field: [message]})


class UnknownProvider(DomainError):
    code = "unknown_provider"
    status = 404
    message = "No such payment provider."


class ChargeNotFound(DomainError):
    code = "charge_not_found"
    status = 404
    message = "No such payment at the provider."


class ChargeStateConflict(Conflict):
    """Capturing a payment that is not authorized, voiding one already captured, ..."""

    code = "charge_state_conflict"
    message = "The payment is not in a state that allows this."


class CaptureExceedsAuthorized(Conflict):
    code = "capture_exceeds_authorized"
    message = "Cannot capture more than was authorized."


class RefundExceedsCaptured(Conflict):
    code = "refund_exceeds_captured"
    message = "Cannot refund more than was captured."


class PaymentMethodRequired(DomainError):
    code = "payment_method_required"
    message = "Add a card first."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"payment_method": [message or self.message]})


class PaymentDeclined(DomainError):
    code = "payment_declined"
    status = 402
    message = "Your card was declined. Nothing was charged; try another card."


class PaymentFailed(DomainError):
    code = "payment_failed"
    status = 502
    message = "The payment could not be processed. Nothing was charged; try again."


class PaymentMethodNotFound(DomainError):
    # The same answer for another user's card as for one that does not exist: ids are not
    # a way to learn what others saved.
    code = "not_found"
    status = 404
    message = "No such payment method."


class TooManyPaymentMethods(Conflict):
    code = "too_many_payment_methods"
    message = "You have saved as many cards as an account can hold; remove one first."


class WebhookRefused(DomainError):
    """A webhook that is not processed: nothing it says has been applied."""

    code = "webhook_refused"
    message = "The webhook was refused."


class WebhookSignatureInvalid(WebhookRefused):
    code = "invalid_signature"
    message = "The Tapbuy-Signature header is missing, malformed or does not match the body."


class WebhookTimestampOutOfTolerance(WebhookRefused):
    code = "timestamp_out_of_tolerance"
    message = "The signature's timestamp is too far from now (a replay, or a clock off)."


class WebhookMalformed(WebhookRefused):
    code = "malformed_event"
    message = "The event is not valid JSON of the expected shape."


class WebhookReplayed(WebhookRefused):
    code = "replayed_event"
    message = "This event was already received."
