from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm

from config.admin_paging import LargeTablePaginator

from .models import Follow, User


class UserCreationAdminForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("handle", "email")


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    paginator = LargeTablePaginator
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ["-date_joined"]
    list_display = [
        "handle",
        "email",
        "display_name",
        "is_business",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_filter = ["is_business", "is_staff", "is_active"]
    search_fields = ["handle", "email", "display_name"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["handle", "password"]}),
        ("Profile", {"fields": ["email", "display_name", "bio", "avatar", "is_business"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["handle", "email", "password1", "password2"]}),
    ]


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ["follower", "followee", "created_at"]
    list_select_related = ["follower", "followee"]
    raw_id_fields = ["follower", "followee"]
    search_fields = ["follower__handle", "followee__handle"]
    show_full_result_count = False
