"""Orders in the admin: staff search and read everything; changes go through the services
(the refund action with a reason, added by moderation), never through editing a row."""

from django.contrib import admin

from config.admin_paging import LargeTablePaginator

from .models import Address, Order, OrderEvent, OrderLine, Refund


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "title",
        "variant_title",
        "sku",
        "unit_price_minor",
        "quantity",
        "deal",
        "affiliate_rate_bp",
        "refunded_quantity",
        "refunded_minor",
    ]
    readonly_fields = fields


class EventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "from_status", "to_status", "actor", "amount_minor", "note"]
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["created_at", "status", "amount_minor", "lines", "reason", "decided_by"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    paginator = LargeTablePaginator
    list_display = [
        "reference",
        "buyer",
        "shop",
        "status",
        "payment_state",
        "total_minor",
        "currency",
        "stream",
        "placed_at",
    ]
    list_filter = ["status", "payment_state", "currency"]
    list_select_related = ["buyer", "shop", "stream"]
    search_fields = ["=id", "buyer__handle", "buyer__email", "shop__handle", "payment_ref"]
    raw_id_fields = ["buyer", "shop", "stream", "creator"]
    # No date_hierarchy: its year links are a DISTINCT over every order, on every page.
    # Newest first by id, which follows placed_at and is indexed: sorting a million orders
    # by placed_at took most of a page's time.
    ordering = ["-pk"]
    show_full_result_count = False
    inlines = [LineInline, RefundInline, EventInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "city", "country", "is_default", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__handle", "name", "city", "postal_code"]
    raw_id_fields = ["user"]
    show_full_result_count = False
