from django.contrib import admin

from config.admin_paging import LargeTablePaginator

from .models import Category, Product, ProductImage, Shop, ShopEvent, Variant


class ShopEventInline(admin.TabularInline):
    model = ShopEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "reason", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["name", "handle", "owner", "status", "created_at", "approved_at"]
    list_filter = ["status"]
    list_select_related = ["owner"]
    search_fields = ["name", "handle", "owner__handle", "owner__email"]
    raw_id_fields = ["owner"]
    readonly_fields = ["status", "status_reason", "approved_at", "created_at"]
    inlines = [ShopEventInline]
    # Approve and reject, with a reason and an audit entry: moderation.admin.
    show_full_result_count = False


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ["sku", "option1", "option2", "option3", "price_minor", "stock", "position"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    paginator = LargeTablePaginator
    ordering = ["-pk"]
    list_display = ["title", "shop", "status", "price_minor", "currency", "updated_at"]
    list_filter = ["status", "category"]
    list_select_related = ["shop"]
    search_fields = ["title", "handle", "shop__handle"]
    raw_id_fields = ["shop", "category"]
    readonly_fields = [
        "description_html",
        "search_document",
        "price_minor",
        "external_clicks",
        "created_at",
        "updated_at",
    ]
    inlines = [VariantInline]
    show_full_result_count = False


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    list_display = ["product", "sku", "option1", "option2", "price_minor", "stock"]
    list_select_related = ["product"]
    search_fields = ["sku", "product__title"]
    raw_id_fields = ["product", "shop", "image"]
    show_full_result_count = False


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    list_display = ["product", "position", "state", "width", "height", "created_at"]
    list_filter = ["state"]
    list_select_related = ["product"]
    raw_id_fields = ["product"]
    show_full_result_count = False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
