"""Read-only admin views of the ledger and the payment provider's records: staff look,
services write (a ledger is corrected by a new posting, never by editing one)."""

from django.contrib import admin

from config.admin_paging import LargeTablePaginator

from . import admin_providers  # noqa: F401  (registers the provider's models)
from .admin_providers import ReadOnlyAdmin
from .ledger_models import IdempotencyKey, LedgerAccount, LedgerEntry, LedgerTransaction


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    paginator = LargeTablePaginator
    list_display = ["code", "kind", "unit", "owner", "balance", "track_balance", "created_at"]
    list_filter = ["kind", "unit"]
    list_select_related = ["owner"]
    search_fields = ["code", "owner__handle"]


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    fields = ["account", "unit", "amount", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    paginator = LargeTablePaginator
    list_display = ["key", "kind", "memo", "created_at"]
    list_filter = ["kind"]
    search_fields = ["key"]
    inlines = [EntryInline]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    paginator = LargeTablePaginator
    list_display = ["scope", "key", "user", "state", "response_status", "created_at"]
    list_filter = ["scope", "state"]
    list_select_related = ["user"]
    search_fields = ["key", "user__handle"]
