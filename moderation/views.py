"""The report form: in a sheet over the live (loaded by htmx, the video keeps playing)
or as a page of its own from a product, a shop or a profile."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from config.errors import DomainError

from . import reports
from .errors import ReportTargetNotFound
from .forms import ReportForm
from .models import Report
from .throttles import ReportsThrottle

THANKS = (
    "Thanks for telling us. Our team will look at it; you won't see the reporter's name anywhere."
)


class ReportView(LoginRequiredMixin, View):
    def _target(self, kind: str, pk: int) -> reports.Target:
        try:
            return reports.target_get(kind, pk)
        except ReportTargetNotFound:
            raise Http404 from None

    def get(self, request, kind: str, pk: int):
        return self.render(request, self._target(kind, pk), ReportForm())

    def post(self, request, kind: str, pk: int):
        target = self._target(kind, pk)
        form = ReportForm(request.POST)
        if not form.is_valid():
            return self.render(request, target, form, status=400)
        throttle = ReportsThrottle()
        if not throttle.allow_request(request, None):
            wait = max(1, round(throttle.wait() or 1))
            form.add_error(None, f"Too many reports at once; try again in {wait} s.")
            return self.render(request, target, form, status=429)
        try:
            reports.report_create(
                reporter=request.user,
                target_type=kind,
                target_id=pk,
                reason=form.cleaned_data["reason"],
                text=form.cleaned_data["text"],
            )
        except DomainError as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            if not exc.fields:
                form.add_error(None, exc.message)
            return self.render(request, target, form, status=exc.status)
        if request.htmx:
            return render(request, "moderation/partials/report_done.html", {"thanks": THANKS})
        messages.success(request, THANKS)
        return redirect(self._back(request, target))

    def _back(self, request, target: reports.Target) -> str:
        back = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return back
        url = getattr(target.obj, "get_absolute_url", None)
        return url() if url else "/"

    def render(self, request, target, form, *, status: int = 200):
        context = {
            "target": target,
            "form": form,
            "kind": target.kind,
            "kind_label": Report.Target(target.kind).label.lower(),
            "pk": target.obj.pk,
            "next": request.GET.get("next") or request.POST.get("next", ""),
            "sheet": bool(request.htmx),
        }
        template = (
            "moderation/partials/report_form.html" if request.htmx else "moderation/report.html"
        )
        return render(request, template, context, status=status)
