"""Coins and gifts in the admin: staff manage the coin packs and the gift catalog; coin
purchases and gift sends are read-only (their money moved through the ledger, which nobody
edits)."""

from django import forms
from django.contrib import admin, messages

from accounts.errors import InvalidImage
from config.admin_paging import LargeTablePaginator
from config.errors import DomainError
from payments.admin_providers import ReadOnlyAdmin

from . import services
from .models import CoinPack, CoinPurchase, EarningsStatement, Gift, GiftSend, Payout


@admin.register(CoinPack)
class CoinPackAdmin(admin.ModelAdmin):
    list_display = ["__str__", "coins", "price_minor", "currency", "active", "position"]
    list_editable = ["active", "position"]
    list_filter = ["active", "currency"]
    ordering = ["position", "coins", "pk"]


@admin.register(CoinPurchase)
class CoinPurchaseAdmin(admin.ModelAdmin):
    paginator = LargeTablePaginator
    list_display = [
        "pk",
        "buyer",
        "coins",
        "price_minor",
        "currency",
        "status",
        "payment_state",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", "payment_state", "currency"]
    list_select_related = ["buyer"]
    search_fields = ["buyer__handle", "payment_ref", "checkout_key"]
    raw_id_fields = ["buyer", "pack"]
    show_full_result_count = False  # no COUNT(*) over a million purchases per page
    actions = ["refund"]

    @admin.action(description="Refund selected purchases (their coins leave the wallet)")
    def refund(self, request, queryset):
        done = 0
        for purchase in queryset.order_by("pk"):
            try:
                services.coin_purchase_refund(purchase_id=purchase.pk, actor=request.user)
                done += 1
            except DomainError as exc:
                self.message_user(
                    request, f"Purchase {purchase.pk}: {exc.message}", messages.WARNING
                )
        if done:
            self.message_user(request, f"Refunded {done} purchase(s).", messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GiftForm(forms.ModelForm):
    class Meta:
        model = Gift
        fields = ["name", "slug", "coins", "image", "level", "active", "position"]

    def clean_image(self):
        image = self.cleaned_data.get("image")
        if (
            image
            and image is not getattr(self.instance, "image", None)
            and hasattr(image, "content_type")
        ):
            # A new upload: only its checked, re-encoded pixels are stored.
            try:
                return services.gift_image_clean(upload=image)
            except InvalidImage as exc:
                raise forms.ValidationError(exc.message) from None
        return image


@admin.register(Gift)
class GiftAdmin(admin.ModelAdmin):
    form = GiftForm
    list_display = ["name", "slug", "coins", "level", "active", "position"]
    list_editable = ["active", "position"]
    list_filter = ["active", "level"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["position", "coins", "pk"]

    def has_delete_permission(self, request, obj=None):
        # A gift is retired by unticking active: sent gifts keep pointing at it.
        return False


@admin.register(GiftSend)
class GiftSendAdmin(admin.ModelAdmin):
    paginator = LargeTablePaginator
    list_display = [
        "pk",
        "sender",
        "creator",
        "stream",
        "gift",
        "quantity",
        "coins",
        "creator_minor",
        "platform_minor",
        "currency",
        "created_at",
        "settled_at",
    ]
    list_filter = ["currency"]
    list_select_related = ["sender", "creator", "stream", "gift"]
    search_fields = ["sender__handle", "creator__handle"]
    raw_id_fields = ["sender", "creator", "stream", "gift"]
    # Newest first by id, which follows created_at and is indexed (no sort of every send),
    # and no date_hierarchy (its year links are a DISTINCT over every row, on every page).
    ordering = ["-pk"]
    show_full_result_count = False  # no COUNT(*) over millions of sends per page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EarningsStatement)
class EarningsStatementAdmin(ReadOnlyAdmin):
    """Settlement statements, read-only: settlement writes them, a correction is a new
    posting."""

    paginator = LargeTablePaginator

    list_display = [
        "period_end",
        "creator",
        "currency",
        "gift_count",
        "creator_minor",
        "affiliate_minor",
        "updated_at",
    ]
    list_filter = ["currency"]
    list_select_related = ["creator"]
    search_fields = ["creator__handle"]
    raw_id_fields = ["creator"]


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    """Staff decide on requested payouts with the actions; the rows change only through
    gifting.payouts (their money moves through the ledger)."""

    list_display = [
        "pk",
        "creator",
        "amount_minor",
        "currency",
        "destination",
        "status",
        "decided_by",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", "currency"]
    list_select_related = ["creator", "decided_by"]
    search_fields = ["creator__handle", "provider_ref", "destination"]
    raw_id_fields = ["creator", "decided_by"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    # Approve and reject, with a reason and an audit entry: moderation.admin.

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
