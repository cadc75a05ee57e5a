"""Saved payment methods: the cards a user keeps for one-tap buying.

A card is tokenized by the configured provider and saved as its token with what may be
shown (brand, last four digits, expiry); the number and the security code are never
stored. Each user has at most one default card (a partial unique constraint), which
one-tap checkout uses.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import User

from .errors import (
    InvalidPaymentMethod,
    PaymentMethodNotFound,
    PaymentMethodRequired,
    TooManyPaymentMethods,
)
from .provider_models import PaymentMethod
from .providers import get_provider

MAX_PAYMENT_METHODS = 20


def _lock_user(user: User) -> None:
    # Changes of one user's cards are serialized on their user row: two cards added (or a
    # default set and a card deleted) at once would otherwise both clear the old default
    # and both insert a new one, and the partial unique index would refuse the second.
    User.objects.select_for_update(no_key=True).only("pk").get(pk=user.pk)


def payment_method_add(
    *,
    user: User,
    number: str,
    exp_month: int,
    exp_year: int,
    cvc: str,
    make_default: bool = True,
) -> PaymentMethod:
    """Tokenize a card through the configured provider and save it for the user. The
    first card is the default whatever make_default says. Raises InvalidCard (with a
    message per field) for a card that fails the checks, TooManyPaymentMethods past
    MAX_PAYMENT_METHODS.

    The caller holds no transaction: tokenizing may call the provider over the network,
    which must not happen while rows are locked."""
    if PaymentMethod.objects.filter(user=user).count() >= MAX_PAYMENT_METHODS:
        raise TooManyPaymentMethods()
    provider = get_provider()
    token = provider.tokenize_card(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc)
    with transaction.atomic():
        _lock_user(user)
        # Counted again under the lock: the first count only spares a pointless tokenizing.
        if PaymentMethod.objects.filter(user=user).count() >= MAX_PAYMENT_METHODS:
            raise TooManyPaymentMethods()
        has_default = PaymentMethod.objects.filter(user=user, is_default=True).exists()
        if make_default and has_default:
            PaymentMethod.objects.filter(user=user, is_default=True).update(is_default=False)
        return PaymentMethod.objects.create(
            user=user,
            provider=provider.name,
            token=token.token,
            brand=token.brand,
            last4=token.last4,
            exp_month=token.exp_month,
            exp_year=token.exp_year,
            is_default=make_default or not has_default,
        )


def payment_method_set_default(*, user: User, payment_method_id: int) -> PaymentMethod:
    """Make one of the user's cards their default. Raises PaymentMethodNotFound for a card
    that is not theirs. The caller holds no transaction."""
    with transaction.atomic():
        _lock_user(user)
        method = PaymentMethod.objects.filter(user=user, pk=payment_method_id).first()
        if method is None:
            raise PaymentMethodNotFound()
        if not method.is_default:
            # Clear first: the partial unique index allows one default at any moment.
            PaymentMethod.objects.filter(user=user, is_default=True).update(is_default=False)
            PaymentMethod.objects.filter(pk=method.pk).update(is_default=True)
            method.is_default = True
        return method


def payment_method_delete(*, user: User, payment_method_id: int) -> None:
    """Remove one of the user's cards. When it was the default, the most recently added
    remaining card becomes the default, so one-tap buying keeps working. Raises
    PaymentMethodNotFound for a card that is not theirs. The caller holds no transaction."""
    with transaction.atomic():
        _lock_user(user)
        method = PaymentMethod.objects.filter(user=user, pk=payment_method_id).first()
        if method is None:
            raise PaymentMethodNotFound()
        method.delete()
        if method.is_default:
            successor = (
                PaymentMethod.objects.filter(user=user).order_by("-created_at", "-pk").first()
            )
            if successor is not None:
                PaymentMethod.objects.filter(pk=successor.pk).update(is_default=True)


def payment_method_default(*, user: User) -> PaymentMethod | None:
    """The card one-tap buying uses, or None when the user saved none."""
    return PaymentMethod.objects.filter(user=user, is_default=True).first()


def payment_methods_list(*, user: User) -> list[PaymentMethod]:
    """The user's cards, the default first, then the newest."""
    return list(
        PaymentMethod.objects.filter(user=user).order_by("-is_default", "-created_at", "-pk")
    )


def payment_method_resolve(*, user: User, payment_method: str | None) -> tuple[str, str]:
    """What a payment is made with, as (token, provider name): the user's default card
    when none is named; a saved card of theirs by token or id; or, with the simulated
    provider, one of its test methods (pm_card_ok, ...). Another user's card is refused
    like one that does not exist (InvalidPaymentMethod); no card at all raises
    PaymentMethodRequired."""
    provider = get_provider()
    if payment_method in (None, ""):
        saved = payment_method_default(user=user)
        if saved is None:
            raise PaymentMethodRequired()
        return saved.token, saved.provider
    if not isinstance(payment_method, str) or len(payment_method) > 60:
        raise InvalidPaymentMethod(str(payment_method)[:60])
    if payment_method.isdigit():
        saved = PaymentMethod.objects.filter(user=user, pk=int(payment_method)).first()
    else:
        saved = PaymentMethod.objects.filter(user=user, token=payment_method).first()
    if saved is not None:
        return saved.token, saved.provider
    if provider.name == "simulated":
        from .providers.simulated import TEST_PAYMENT_METHODS

        if payment_method in TEST_PAYMENT_METHODS:
            return payment_method, provider.name
    raise InvalidPaymentMethod(payment_method)
