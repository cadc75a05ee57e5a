from django.contrib import admin

from config.admin_paging import LargeTablePaginator

from .models import CarouselItem, ChatMessage, Deal, Stream


class CarouselInline(admin.TabularInline):
    model = CarouselItem
    extra = 0
    raw_id_fields = ["product"]
    readonly_fields = ["pinned", "added_at"]


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "host",
        "status",
        "scheduled_at",
        "started_at",
        "peak_viewers",
        "likes_count",
    ]
    list_filter = ["status"]
    list_select_related = ["host"]
    search_fields = ["title", "host__handle"]
    raw_id_fields = ["host"]
    readonly_fields = [
        "stream_key_hash",
        "stream_key_hint",
        "peak_viewers",
        "likes_count",
        "chat_count",
        "started_at",
        "ended_at",
        "created_at",
    ]
    date_hierarchy = "scheduled_at"
    inlines = [CarouselInline]
    show_full_result_count = False


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["stream", "product", "price_minor", "quantity", "sold", "status", "ends_at"]
    list_filter = ["status"]
    list_select_related = ["stream", "product"]
    raw_id_fields = ["stream", "product"]
    show_full_result_count = False


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    paginator = LargeTablePaginator
    list_display = ["stream", "user", "text", "hidden", "created_at"]
    list_filter = ["hidden"]
    list_select_related = ["stream", "user"]
    search_fields = ["text", "user__handle"]
    raw_id_fields = ["stream", "user", "hidden_by"]
    show_full_result_count = False
