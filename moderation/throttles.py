"""Reports per user, shared by the API and the pages (one budget for both)."""

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class ReportsThrottle(UserRateThrottle):
    """Reports per reporter (MODERATION_REPORTS_RATE)."""

    scope = "reports"

    def get_rate(self):
        return settings.MODERATION_REPORTS_RATE
