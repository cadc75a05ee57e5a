from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from config.errors import DomainErrorMixin

from . import selectors, services
from .errors import InvalidImage
from .forms import ProfileForm
from .models import User


class MeView(LoginRequiredMixin, View):
    def get(self, request):
        return redirect(request.user)


class ProfileView(TemplateView):
    template_name = "accounts/profile_detail.html"

    def get_context_data(self, **kwargs):
        profile = selectors.profile_get(handle=self.kwargs["handle"], viewer=self.request.user)
        return {**super().get_context_data(**kwargs), "profile": profile}


class FollowListView(TemplateView):
    template_name = "accounts/follow_list.html"
    direction = "followers"

    def get_context_data(self, **kwargs):
        profile = selectors.profile_get(handle=self.kwargs["handle"])
        select = (
            selectors.followers_list
            if self.direction == "followers"
            else (selectors.following_list)
        )
        return {
            **super().get_context_data(**kwargs),
            "profile": profile,
            "direction": self.direction,
            "people": select(user=profile)[:200],
        }


class FollowView(LoginRequiredMixin, DomainErrorMixin, View):
    """POST follows, POST with unfollow=1 unfollows. htmx gets the button back."""

    def post(self, request, handle):
        followee = get_object_or_404(User, handle=handle.lower(), is_active=True)
        if request.POST.get("unfollow"):
            services.user_unfollow(follower=request.user, followee=followee)
        else:
            services.user_follow(follower=request.user, followee=followee)
        if request.htmx:
            profile = selectors.profile_get(handle=followee.handle, viewer=request.user)
            return render(request, "partials/follow_button.html", {"profile": profile})
        return redirect(followee)


class ProfileSettingsView(LoginRequiredMixin, DomainErrorMixin, View):
    template_name = "accounts/profile_settings.html"

    def get(self, request):
        return render(request, self.template_name, {"form": ProfileForm(instance=request.user)})

    def post(self, request):
        form = ProfileForm(request.POST, request.FILES, instance=User(pk=request.user.pk))
        if form.is_valid():
            try:
                services.profile_update(
                    user=request.user,
                    display_name=form.cleaned_data["display_name"],
                    bio=form.cleaned_data["bio"],
                    avatar=form.cleaned_data.get("avatar"),
                )
            except InvalidImage as exc:
                form.add_error("avatar", exc.message)
            else:
                messages.success(request, "Profile saved.")
                return redirect("accounts:settings")
        return render(request, self.template_name, {"form": form}, status=400)


class AccountTypeView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request):
        to_business = request.POST.get("account_type") == "business"
        services.account_set_business(user=request.user, is_business=to_business)
        messages.success(
            request,
            "You now have a business account: you can open a shop."
            if to_business
            else "You now have a personal account.",
        )
        next_url = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(next_url)
        return redirect("accounts:settings")


class NotificationsView(LoginRequiredMixin, View):
    """The signed-in user's notices, newest first; opening the page marks them read."""

    def get(self, request):
        items = list(selectors.notifications_list(user=request.user)[:50])
        services.notifications_mark_read(user=request.user)
        return render(request, "accounts/notification_list.html", {"items": items})
