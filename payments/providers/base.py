"""The payment-provider interface. Higher apps (orders, gifting) talk to a provider only
through these methods and learn about asynchronous outcomes only through the signals of
payments.signals, sent when a verified webhook arrives. The simulated card provider
implements it offline; a real provider (Stripe, Adyen, ...) plugs in behind the same
methods and is named in settings.PAYMENTS_PROVIDER.

Amounts are integers in minor units with their currency. Every call that moves money
takes an idempotency key: the same key returns the first call's result and never charges
twice; the same key with other arguments is refused (IdempotencyKeyReused).

Provider calls may go over the network: callers must not hold a database transaction or
row locks while making them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

ResultStatus = Literal["succeeded", "pending", "declined", "failed"]
RESULT_STATUSES: tuple[str, ...] = ("succeeded", "pending", "declined", "failed")


@dataclass(frozen=True)
class ProviderResult:
    """What the provider answered.

    succeeded: done. pending: the outcome comes later by webhook (payment.succeeded or
    payment.failed for this provider_ref). declined: the card issuer said no
    (decline_code says why, message is fit to show the buyer). failed: the provider could
    not process the request; retrying with the same idempotency key is safe."""

    status: ResultStatus
    provider_ref: str
    amount_minor: int
    decline_code: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in RESULT_STATUSES:
            raise ValueError(f"unknown provider result status {self.status!r}")
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("amount_minor is an integer number of minor units")

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class CardToken:
    """A card as a reusable, opaque token plus what may be shown (never the number)."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class VerifiedEvent:
    """A webhook event whose signature and timestamp have been checked.

    (Named apart from the WebhookEvent model, which records the events received.)"""

    provider: str
    id: str
    type: str
    created: int
    data: Mapping[str, Any] = field(default_factory=dict)


class PaymentProvider(ABC):
    #: The name in settings.PAYMENTS_PROVIDER, in webhook URLs and on saved payment methods.
    name: ClassVar[str]

    @abstractmethod
    def authorize(
        self,
        *,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: dict,
    ) -> ProviderResult:
        """Hold amount_minor on the payment method. succeeded: authorized, capture it
        later; pending: wait for the webhook; declined: nothing is held."""

    @abstractmethod
    def capture(
        self, *, provider_ref: str, amount_minor: int, idempotency_key: str
    ) -> ProviderResult:
        """Take amount_minor of an authorization. Several partial captures may follow one
        authorization; together they never exceed the authorized amount."""

    @abstractmethod
    def refund(
        self, *, provider_ref: str, amount_minor: int, idempotency_key: str
    ) -> ProviderResult:
        """Give back amount_minor of what was captured. Partial refunds add up; together
        they never exceed what was captured."""

    @abstractmethod
    def void(self, *, provider_ref: str, idempotency_key: str) -> ProviderResult:
        """Release an authorization (or a pending payment) of which nothing was captured."""

    @abstractmethod
    def tokenize_card(self, *, number: str, exp_month: int, exp_year: int, cvc: str) -> CardToken:
        """Turn card details into a reusable token.

        Only the simulated provider tokenizes on the server. A real provider tokenizes in
        the buyer's browser (its own hosted fields or JS SDK post the number straight to
        it), so that card numbers never reach Tapbuy's servers and Tapbuy stays out of PCI
        DSS scope; there this method refuses, and the page hands the provider's token to
        the server instead."""

    @abstractmethod
    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """Check a webhook's signature and freshness and parse it. Raises a WebhookRefused
        subclass (bad signature, timestamp out of tolerance, malformed event)."""

    def payout(
        self, *, amount_minor: int, currency: str, destination: str, idempotency_key: str
    ) -> ProviderResult:
        """Send amount_minor to a payout account (destination: the provider's reference of
        a creator's bank account or card). succeeded: sent; failed or declined: nothing was
        sent (decline_code says why). Not abstract: a provider that takes payments but
        sends no payouts still loads, and declines every payout here, so that the payout
        fails and its money returns to the creator's balance instead of waiting forever."""
        return ProviderResult(
            status="declined",
            provider_ref="",
            amount_minor=amount_minor,
            decline_code="payouts_unsupported",
            message=f"The {self.name} provider does not send payouts.",
        )
