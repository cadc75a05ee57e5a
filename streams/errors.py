from config.errors import Conflict, DomainError, NotAllowed


class NotHost(NotAllowed):
    code = "not_host"
    message = "Only the host (or staff) can do that."


class HostSuspended(NotAllowed):
    code = "host_suspended"
    message = "Staff have suspended you from going live for now."

    def __init__(self, until):
        super().__init__(
            f"Staff have suspended you from going live until {until:%Y-%m-%d %H:%M} UTC."
        )


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "The live cannot change to that state from the current one."


class StreamNotLive(Conflict):
    code = "not_live"
    message = "This live is not on air."


class ProductNotAllowed(DomainError):
    code = "product_not_allowed"
    message = "Only your own shop's products or products offered for affiliate commission."


class DealRunning(Conflict):
    code = "deal_running"
    message = "A flash deal is already running in this live; end it first."


class ChatRefused(DomainError):
    """A chat line that cannot be posted; code says why."""

    code = "chat_refused"
    status = 400

    def __init__(self, code: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after
