"""Admin for the provider side: saved cards, webhook events, and the simulated provider's
charges. All read-only: money and provider state change through services, never by a
staff edit. Lists are built for millions of rows (select_related, indexed ordering, no
full count). Imported by payments/admin.py."""

from django.contrib import admin

from .money import format_money
from .provider_models import (
    PaymentMethod,
    SimulatedCard,
    SimulatedCharge,
    SimulatedOperation,
    WebhookEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "user", "provider", "expiry", "is_default", "created_at"]
    list_filter = ["provider", "brand", "is_default"]
    list_select_related = ["user"]
    search_fields = ["user__handle", "user__email", "last4", "=token"]
    ordering = ["-pk"]
    raw_id_fields = ["user"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "provider", "type", "received_at"]
    list_filter = ["provider", "type"]
    search_fields = ["=event_id"]
    ordering = ["-pk"]


class SimulatedOperationInline(admin.TabularInline):
    model = SimulatedOperation
    extra = 0
    can_delete = False
    fields = ["kind", "status", "amount_minor", "decline_code", "idempotency_key", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SimulatedCharge)
class SimulatedChargeAdmin(ReadOnlyAdmin):
    list_display = ["ref", "status", "behaviour", "amount", "captured", "refunded", "created_at"]
    list_filter = ["status", "behaviour", "currency"]
    search_fields = ["=ref", "=payment_method"]
    ordering = ["-pk"]
    inlines = [SimulatedOperationInline]

    @admin.display(description="Amount")
    def amount(self, charge):
        return format_money(charge.amount_minor, charge.currency)

    @admin.display(description="Captured")
    def captured(self, charge):
        return format_money(charge.amount_captured, charge.currency)

    @admin.display(description="Refunded")
    def refunded(self, charge):
        return format_money(charge.amount_refunded, charge.currency)


@admin.register(SimulatedCard)
class SimulatedCardAdmin(ReadOnlyAdmin):
    list_display = ["token", "brand", "last4", "exp_month", "exp_year", "behaviour", "created_at"]
    list_filter = ["behaviour", "brand"]
    search_fields = ["=token", "last4"]
    ordering = ["-pk"]
