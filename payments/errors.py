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
