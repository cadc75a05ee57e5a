"""Staff moderation in Django admin: the audit log (read-only for everyone), and the
actions that ask for a reason before they call a moderation service. The actions are
added to the admins of the apps they act on, which know nothing of moderation: their
registrations are replaced here by subclasses (this app comes after them)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin import UserAdmin
from accounts.models import User
from config.admin_paging import LargeTablePaginator
from config.errors import DomainError
from gifting.admin import PayoutAdmin
from gifting.models import Payout
from orders.admin import OrderAdmin
from orders.models import Order
from shops.admin import ProductAdmin, ShopAdmin
from shops.models import Product, Shop
from streams.admin import ChatMessageAdmin, StreamAdmin
from streams.models import ChatMessage, Stream

from . import selectors, services
from .forms import DecideReportsForm, EndLiveForm, MuteForm, ReasonForm
from .models import AuditEntry, Report


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    paginator = LargeTablePaginator
    list_display = ["created_at", "actor", "action", "target_repr", "subject", "reason"]
    list_filter = ["action"]
    list_select_related = ["actor", "subject"]
    search_fields = ["=target_id", "target_repr", "actor__handle", "subject__handle"]
    show_full_result_count = False  # no COUNT(*) over the whole log per page
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        history = self.admin_site.admin_view(self.history_of_user)
        return [
            path("user/<int:user_id>/", history, name="moderation_user_history"),
            *super().get_urls(),
        ]

    def history_of_user(self, request, user_id: int):
        """One user's moderation history: what staff did about them, and, for staff, what
        they did."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        user = get_object_or_404(User, pk=user_id)
        history = selectors.moderation_history(user=user)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Moderation history of {user}",
            "subject": user,
            **history,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/moderation/user_history.html", context)


def run_with_reason(modeladmin, request, queryset, *, form_class, title, act, done):
    """An admin action that first asks for a reason (and what else form_class asks), then
    calls act(obj, **cleaned) for each selected object, reporting each refusal."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        count = 0
        for obj in queryset.order_by("pk"):
            try:
                act(obj, **form.cleaned_data)
                count += 1
            except DomainError as exc:
                modeladmin.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
        if count:
            modeladmin.message_user(request, f"{done} {count}.", messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "objects": list(queryset[:100]),
        "ids": list(queryset.values_list("pk", flat=True)),
        "action": request.POST.get("action", ""),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/moderation/reason.html", context)


def _can(permission: str):
    def check(self, request) -> bool:
        return request.user.has_perm(f"moderation.{permission}")

    return check


def staff_action(name, service, target, *, permission, description, title, done, **options):
    """An admin action named `name` that asks for a reason (and what `form_class` asks),
    then calls service(actor=..., <target>_id=obj.pk, **form, **fixed) for each selected
    object. options: form_class (ReasonForm by default), fixed (keyword arguments)."""
    form_class = options.pop("form_class", ReasonForm)
    fixed = options.pop("fixed", {})

    def action(modeladmin, request, queryset):
        return run_with_reason(
            modeladmin,
            request,
            queryset,
            form_class=form_class,
            title=title,
            act=lambda obj, **data: service(
                actor=request.user, **{f"{target}_id": obj.pk}, **fixed, **data
            ),
            done=done,
        )

    action.__name__ = name
    return admin.action(description=description, permissions=[permission])(action)


class ModeratedUserAdmin(UserAdmin):
    actions = ["mute", "ban"]
    fieldsets = [
        *UserAdmin.fieldsets,
        ("Moderation", {"fields": ["live_suspended_until", "chat_muted_until", "history"]}),
    ]
    readonly_fields = ["live_suspended_until", "chat_muted_until", "history"]

    @admin.display(description="Moderation history")
    def history(self, user):
        url = reverse("admin:moderation_user_history", args=[user.pk])
        return format_html('<a href="{}">Staff actions about this user</a>', url)

    has_mute_user_permission = _can("mute_user")
    has_ban_user_permission = _can("ban_user")

    mute = staff_action(
        "mute",
        services.user_mute,
        "user",
        permission="mute_user",
        description="Mute the selected users in every live",
        title="Mute users",
        done="Users muted:",
        form_class=MuteForm,
    )
    ban = staff_action(
        "ban",
        services.user_ban,
        "user",
        permission="ban_user",
        description="Ban the selected users",
        title="Ban users",
        done="Users banned:",
    )


class ModeratedShopAdmin(ShopAdmin):
    actions = ["approve", "reject", "suspend", "reinstate"]
    has_decide_shop_permission = _can("decide_shop")

    approve = staff_action(
        "approve",
        services.shop_decide,
        "shop",
        permission="decide_shop",
        description="Approve selected shops",
        title="Approve shops",
        done="Approved shops:",
        fixed={"decision": "approve"},
    )
    reject = staff_action(
        "reject",
        services.shop_decide,
        "shop",
        permission="decide_shop",
        description="Reject selected shops",
        title="Reject shops",
        done="Rejected shops:",
        fixed={"decision": "reject"},
    )
    suspend = staff_action(
        "suspend",
        services.shop_decide,
        "shop",
        permission="decide_shop",
        description="Suspend selected shops",
        title="Suspend shops",
        done="Suspended shops:",
        fixed={"decision": "suspend"},
    )
    reinstate = staff_action(
        "reinstate",
        services.shop_decide,
        "shop",
        permission="decide_shop",
        description="Reinstate selected suspended shops",
        title="Reinstate shops",
        done="Reinstated shops:",
        fixed={"decision": "reinstate"},
    )


class ModeratedPayoutAdmin(PayoutAdmin):
    actions = ["approve", "reject"]
    has_decide_payout_permission = _can("decide_payout")

    approve = staff_action(
        "approve",
        services.payout_decide,
        "payout",
        permission="decide_payout",
        description="Approve the selected payouts (they are sent by a task)",
        title="Approve payouts",
        done="Approved payouts:",
        fixed={"approve": True},
    )
    reject = staff_action(
        "reject",
        services.payout_decide,
        "payout",
        permission="decide_payout",
        description="Reject the selected payouts (the money returns to the balance)",
        title="Reject payouts",
        done="Rejected payouts:",
        fixed={"approve": False},
    )


class ModeratedStreamAdmin(StreamAdmin):
    actions = ["end_now"]
    has_end_live_permission = _can("end_live")

    end_now = staff_action(
        "end_now",
        services.live_end_now,
        "stream",
        permission="end_live",
        description="End the selected lives now",
        title="End lives now",
        done="Lives ended:",
        form_class=EndLiveForm,
    )


class ModeratedChatMessageAdmin(ChatMessageAdmin):
    actions = ["hide", "restore"]
    has_moderate_chat_permission = _can("moderate_chat")

    hide = staff_action(
        "hide",
        services.chat_message_hide,
        "message",
        permission="moderate_chat",
        description="Hide the selected messages",
        title="Hide chat messages",
        done="Messages hidden:",
    )
    restore = staff_action(
        "restore",
        services.chat_message_restore,
        "message",
        permission="moderate_chat",
        description="Restore the selected messages",
        title="Restore chat messages",
        done="Messages restored:",
    )


class ModeratedProductAdmin(ProductAdmin):
    actions = ["take_down", "restore"]
    has_take_down_product_permission = _can("take_down_product")

    take_down = staff_action(
        "take_down",
        services.product_take_down,
        "product",
        permission="take_down_product",
        description="Take down the selected products (off the site and every live)",
        title="Take down products",
        done="Products taken down:",
    )
    restore = staff_action(
        "restore",
        services.product_restore,
        "product",
        permission="take_down_product",
        description="Restore the selected products taken down",
        title="Restore products",
        done="Products restored:",
    )


class ModeratedOrderAdmin(OrderAdmin):
    actions = ["refund"]
    has_refund_order_permission = _can("refund_order")

    refund = staff_action(
        "refund",
        services.order_refund,
        "order",
        permission="refund_order",
        description="Refund the selected orders (cancel what has not shipped)",
        title="Refund orders",
        done="Orders refunded:",
    )


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Every report, read-only; staff decide them by target in the queue."""

    paginator = LargeTablePaginator
    list_display = [
        "created_at",
        "target_type",
        "target_repr",
        "reason",
        "reporter",
        "target_user",
        "status",
    ]
    list_filter = ["status", "target_type", "reason"]
    list_select_related = ["reporter", "target_user"]
    search_fields = ["=target_id", "target_repr", "reporter__handle", "target_user__handle"]
    ordering = ["-pk"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Report._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("moderation.resolve_report")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("queue/", view(self.queue), name="moderation_report_queue"),
            path(
                "decide/<str:target_type>/<int:target_id>/",
                view(self.decide),
                name="moderation_report_decide",
            ),
            *super().get_urls(),
        ]

    def queue(self, request):
        """The open reports grouped by target, most-reported first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            page = int(request.GET.get("p", "1"))
        except ValueError:
            page = 1
        context = {
            **self.admin_site.each_context(request),
            "title": "Open reports",
            "opts": self.model._meta,
            **selectors.report_queue(page=page),
        }
        return TemplateResponse(request, "admin/moderation/report_queue.html", context)

    def decide(self, request, target_type: str, target_id: int):
        """One target's open reports, and the form that resolves (acting on the target)
        or dismisses them."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if target_type not in Report.Target.values:
            raise Http404
        reports = selectors.reports_of_target(target_type=target_type, target_id=target_id)
        form = DecideReportsForm(request.POST or None, target_type=target_type)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["decision"] == "resolve":
                    services.report_resolve(
                        actor=request.user,
                        target_type=target_type,
                        target_id=target_id,
                        **form.options(),
                    )
                else:
                    services.report_dismiss(
                        actor=request.user,
                        target_type=target_type,
                        target_id=target_id,
                        reason=data["reason"],
                    )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                verb = "Resolved" if data["decision"] == "resolve" else "Dismissed"
                self.message_user(request, f"{verb} {len(reports)} report(s).", messages.SUCCESS)
                return redirect("admin:moderation_report_queue")
        model = services.REPORT_MODELS[target_type]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reports of {Report.Target(target_type).label.lower()} {target_id}",
            "opts": self.model._meta,
            "reports": reports,
            "form": form,
            "target_url": _change_url(model, target_id),
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(
            request, "admin/moderation/report_decide.html", context, status=status
        )


def _change_url(model, pk: int) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk])


admin.site.unregister(User)
admin.site.register(User, ModeratedUserAdmin)
admin.site.unregister(Shop)
admin.site.register(Shop, ModeratedShopAdmin)
admin.site.unregister(Payout)
admin.site.register(Payout, ModeratedPayoutAdmin)
admin.site.unregister(Stream)
admin.site.register(Stream, ModeratedStreamAdmin)
admin.site.unregister(ChatMessage)
admin.site.register(ChatMessage, ModeratedChatMessageAdmin)
admin.site.unregister(Product)
admin.site.register(Product, ModeratedProductAdmin)
admin.site.unregister(Order)
admin.site.register(Order, ModeratedOrderAdmin)


# The admin index shows the queues the user can act on, with their counts, above the apps.
_index = admin.site.index


def _index_with_queues(request, extra_context=None):
    queues = selectors.queues_for(user=request.user)
    return _index(request, {**(extra_context or {}), "queues": queues})


admin.site.index = _index_with_queues
admin.site.index_template = "admin/moderation/index.html"
