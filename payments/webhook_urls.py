"""Included by config.urls under payments/webhooks/."""

from django.urls import path

from .webhooks import webhook_receive

app_name = "payment_webhooks"

urlpatterns = [
    path("<slug:provider>/", webhook_receive, name="receive"),
]
