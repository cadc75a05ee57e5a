from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views import View
from django.views.generic import TemplateView

from accounts.errors import InvalidImage
from accounts.permissions import staff_can
from config.csp import embeddable
from config.errors import DomainErrorMixin
from shops.models import Product

from . import realtime, selectors, services, snapshots
from .forms import ChatSettingsForm, DealForm, GoLiveForm, ScheduleForm


class FeedView(TemplateView):
    """The home page: lives on air, upcoming ones with "remind me", recent replays."""

    template_name = "streams/feed.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return {
            **super().get_context_data(**kwargs),
            "live_now": Paginator(selectors.feed_live(viewer=user), 12).get_page(
                self.request.GET.get("page")
            ),
            "upcoming": selectors.feed_upcoming(viewer=user)[:12],
            "replays": selectors.feed_replays()[:12],
        }


class LiveView(TemplateView):
    """A live (or its replay): video, carousel, deal, chat; live.js keeps it current."""

    template_name = "streams/live_detail.html"

    def get_context_data(self, **kwargs):
        stream = selectors.stream_get(pk=self.kwargs["pk"])
        snapshot = snapshots.full(stream, viewers=realtime.viewers_total(stream.pk))
        context = {
            **super().get_context_data(**kwargs),
            "stream": stream,
            "snapshot": snapshot,
            "is_host": self.request.user.is_authenticated
            and (
                self.request.user.pk == stream.host_id or staff_can(self.request.user, "end_live")
            ),
        }
        if stream.status == stream.Status.ENDED:
            context["history"] = selectors.carousel_history(stream=stream)
        return context


@method_decorator(embeddable, name="dispatch")
class EmbedView(View):
    """A live's player for other sites to frame: video, title, host, state, and a link to
    the live page. Open to whoever may open the live page (stream_get: a cancelled live is
    a 404). The same page for everyone: rendered without the request, so no context
    processor reads the session or the user, and the response sets no cookie."""

    def get(self, request, pk):
        stream = selectors.stream_get(pk=pk)
        return HttpResponse(render_to_string("streams/live_embed.html", {"stream": stream}))


def _embed_code(request, stream) -> str:
    """The <iframe> a host pastes into their own site, as HTML (the console shows it as
    text): the embed page's address on the host this page was asked for."""
    url = request.build_absolute_uri(reverse("streams:embed", kwargs={"pk": stream.pk}))
    return format_html(
        '<iframe src="{}" title="{}" width="360" height="640" '
        'allow="autoplay; fullscreen; picture-in-picture" allowfullscreen '
        'loading="lazy"></iframe>',
        url,
        stream.title,
    )


class ReminderView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request, pk):
        stream = selectors.stream_get(pk=pk)
        on = services.reminder_set(
            user=request.user, stream=stream, on=request.POST.get("on") == "1"
        )
        if request.htmx:
            return render(
                request, "streams/partials/remind_button.html", {"stream": stream, "reminded": on}
            )
        messages.success(request, "We'll tell you when it starts." if on else "Reminder off.")
        return redirect("home")


# --- the host's studio -------------------------------------------------------------------------


class StudioView(LoginRequiredMixin, View):
    template_name = "streams/studio_list.html"

    def get(self, request):
        return render(
            request,
            self.template_name,
            {
                "form": ScheduleForm(),
                "streams": selectors.host_streams(host=request.user)[:50],
            },
        )

    def post(self, request):
        form = ScheduleForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                stream, key = services.stream_schedule(
                    host=request.user,
                    title=form.cleaned_data["title"],
                    scheduled_at=form.cleaned_data["scheduled_at"],
                    cover=form.cleaned_data.get("cover"),
                )
            except InvalidImage as exc:
                form.add_error("cover", exc.message)
            else:
                # The key is shown once, on the next page, and never stored in the clear.
                request.session[f"stream_key_{stream.pk}"] = key
                return redirect("streams:console", pk=stream.pk)
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "streams": selectors.host_streams(host=request.user)[:50],
            },
            status=400,
        )


class ConsoleView(LoginRequiredMixin, DomainErrorMixin, View):
    """The host console of one live: on air, carousel, deals, chat moderation, figures."""

    template_name = "streams/studio_console.html"

    def context(self, request, stream, **extra):
        from django.conf import settings

        # The console lists the carousel in its order (viewers see the pinned one first).
        order = selectors.carousel_order(stream=stream)
        carousel = sorted(snapshots.carousel(stream.pk), key=lambda i: order.index(i["product"]))
        in_carousel = {item["product"] for item in carousel}
        candidates = (
            Product.objects.filter(services.products_allowed_q(stream.host))
            .exclude(pk__in=in_carousel)
            .select_related("shop")
            .order_by("shop__name", "title")[:200]
        )
        return {
            "stream": stream,
            "snapshot": snapshots.full(stream, viewers=realtime.viewers_total(stream.pk)),
            "carousel": carousel,
            "candidates": candidates,
            "stream_key": request.session.pop(f"stream_key_{stream.pk}", None),
            "embed_code": _embed_code(request, stream),
            "ingest_url": settings.RTMP_INGEST_URL,
            "go_live_form": GoLiveForm(initial={"playback_url": stream.playback_url}),
            "deal_form": DealForm(),
            "chat_form": ChatSettingsForm(
                initial={
                    "slow_mode_seconds": stream.slow_mode_seconds,
                    "blocked_words": stream.blocked_words,
                }
            ),
            **extra,
        }

    def get(self, request, pk):
        stream = selectors.host_stream_get(host=request.user, pk=pk)
        return render(request, self.template_name, self.context(request, stream))

    def post(self, request, pk):
        stream = selectors.host_stream_get(host=request.user, pk=pk)
        action = request.POST.get("action", "")
        handler = getattr(self, f"do_{action.replace('-', '_')}", None)
        if handler is None:
            messages.error(request, "Unknown action.")
            return redirect("streams:console", pk=pk)
        return handler(request, stream) or redirect("streams:console", pk=pk)

    def do_go_live(self, request, stream):
        form = GoLiveForm(request.POST)
        if not form.is_valid():
            return render(
                request,
                self.template_name,
                self.context(request, stream, go_live_form=form),
                status=400,
            )
        services.stream_go_live(
            stream=stream, actor=request.user, playback_url=form.cleaned_data["playback_url"]
        )
        messages.success(request, "You are live.")
        return None

    def do_end(self, request, stream):
        services.stream_end(stream=stream, actor=request.user, reason="ended by the host")
        messages.success(request, "The live has ended. Its replay keeps the carousel history.")
        return None

    def do_cancel(self, request, stream):
        services.stream_cancel(stream=stream, actor=request.user)
        return redirect("streams:studio")

    def do_rotate_key(self, request, stream):
        request.session[f"stream_key_{stream.pk}"] = services.stream_key_rotate(
            stream=stream, actor=request.user
        )
        messages.success(request, "New stream key: the old one no longer works.")
        return None

    def do_carousel(self, request, stream):
        ids = [int(v) for v in request.POST.getlist("products") if v.isdigit()]
        services.carousel_set(stream=stream, actor=request.user, product_ids=ids)
        return None

    def do_add(self, request, stream):
        current = selectors.carousel_order(stream=stream)
        product = request.POST.get("product", "")
        if product.isdigit():
            services.carousel_set(
                stream=stream, actor=request.user, product_ids=[*current, int(product)]
            )
        return None

    def do_remove(self, request, stream):
        product = request.POST.get("product", "")
        current = selectors.carousel_order(stream=stream)
        services.carousel_set(
            stream=stream, actor=request.user, product_ids=[p for p in current if str(p) != product]
        )
        return None

    def do_move(self, request, stream):
        current = selectors.carousel_order(stream=stream)
        product, direction = request.POST.get("product", ""), request.POST.get("direction")
        if product.isdigit() and int(product) in current:
            i = current.index(int(product))
            j = i - 1 if direction == "up" else i + 1
            if 0 <= j < len(current):
                current[i], current[j] = current[j], current[i]
                services.carousel_set(stream=stream, actor=request.user, product_ids=current)
        return None

    def do_pin(self, request, stream):
        product = request.POST.get("product", "")
        services.carousel_pin(
            stream=stream,
            actor=request.user,
            product_id=int(product) if product.isdigit() else None,
        )
        return None

    def do_deal(self, request, stream):
        form = DealForm(request.POST, currency=request.POST.get("currency", "USD"))
        if not form.is_valid():
            for field, errors in form.errors.items():
                messages.error(request, f"{field}: {' '.join(errors)}")
            return None
        data = form.cleaned_data
        services.deal_start(
            stream=stream,
            actor=request.user,
            product_id=data["product"],
            price_minor=data["price"],
            quantity=data["quantity"],
            seconds=data["seconds"],
        )
        messages.success(request, "Flash deal started.")
        return None

    def do_end_deal(self, request, stream):
        deal = snapshots.full(stream)["deal"]
        if deal:
            services.deal_end(deal_id=deal["id"], reason="host", actor=request.user)
        return None

    def do_chat_settings(self, request, stream):
        form = ChatSettingsForm(request.POST)
        if form.is_valid():
            services.chat_settings(stream=stream, actor=request.user, **form.cleaned_data)
            messages.success(request, "Chat settings saved.")
        else:
            messages.error(request, "Slow mode is between 0 and 600 seconds.")
        return None

    def do_delete_message(self, request, stream):
        message = request.POST.get("message", "")
        if message.isdigit():
            services.chat_delete(actor=request.user, message_id=int(message))
        return None

    def do_mute(self, request, stream):
        from accounts.models import User

        user = User.objects.filter(handle=request.POST.get("user", "").lower()).first()
        if user is not None:
            muted = request.POST.get("muted", "1") == "1"
            services.chat_mute(stream=stream, actor=request.user, user=user, muted=muted)
            messages.success(request, f"@{user.handle} {'muted' if muted else 'unmuted'}.")
        return None
