from rest_framework.throttling import UserRateThrottle


class CheckoutThrottle(UserRateThrottle):
    """Placing orders, per buyer, shared by the API and the pages, on top of the general
    API rate: enough for a buyer tapping through a flash sale, not for a script hammering
    one. The rate is settings API_CHECKOUT_RATE."""

    scope = "checkout"
