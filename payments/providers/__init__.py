"""The payment providers Tapbuy knows, by name, and the one settings.PAYMENTS_PROVIDER
picks. A provider class is imported only when it is first asked for, so an installation
never imports the SDK of a provider it does not use."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from payments.errors import UnknownProvider

from .base import CardToken, PaymentProvider, ProviderResult, VerifiedEvent

__all__ = [
    "BUILTIN_PROVIDERS",
    "CardToken",
    "PaymentProvider",
    "ProviderResult",
    "VerifiedEvent",
    "get_provider",
    "provider_names",
]

BUILTIN_PROVIDERS = {
    "simulated": "payments.providers.simulated.SimulatedProvider",
}


def _classes() -> dict[str, str]:
    # A real provider plugs in as {"name": "dotted.path.To.Class"} in
    # settings.PAYMENTS_PROVIDER_CLASSES, without changes here.
    return {**BUILTIN_PROVIDERS, **getattr(settings, "PAYMENTS_PROVIDER_CLASSES", {})}


def provider_names() -> list[str]:
    return sorted(_classes())


def get_provider(name: str | None = None) -> PaymentProvider:
    """The provider called `name`, or the configured one (settings.PAYMENTS_PROVIDER,
    "simulated" by default). Raises UnknownProvider for a name nobody registered."""
    name = name or getattr(settings, "PAYMENTS_PROVIDER", "simulated")
    path = _classes().get(name)
    if path is None:
        raise UnknownProvider(f"No payment provider is called {name!r}.")
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, PaymentProvider)):
        raise TypeError(f"{path} is not a PaymentProvider")
    return cls()
