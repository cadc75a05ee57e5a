"""Rates per user shared by the API and the pages, on top of the general API rate: one
budget whichever way a viewer buys coins or sends gifts."""

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class CoinsThrottle(UserRateThrottle):
    """Coin purchases per buyer (GIFTING_COINS_RATE)."""

    scope = "coins"

    def get_rate(self):
        return settings.GIFTING_COINS_RATE


class GiftsThrottle(UserRateThrottle):
    """Gift sends per sender (GIFTING_GIFTS_RATE)."""

    scope = "gifts"

    def get_rate(self):
        return settings.GIFTING_GIFTS_RATE
