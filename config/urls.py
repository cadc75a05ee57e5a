from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.http import require_safe
from django.views.static import serve
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from config.views import healthz
from gifting.views import ProfileView
from streams import hooks
from streams.views import FeedView

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("shops.api_urls")),
    path("", include("streams.api_urls")),
    path("", include("orders.api_urls")),
    path("", include("gifting.api_urls")),
    path("", include("moderation.api_urls")),
]

urlpatterns = [
    path("", FeedView.as_view(), name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("payments/webhooks/", include("payments.webhook_urls")),
    path("hooks/rtmp/publish", hooks.rtmp_publish, name="rtmp-publish"),
    path("hooks/rtmp/publish_done", hooks.rtmp_publish_done, name="rtmp-publish-done"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("seller/orders/", include("orders.seller_urls")),
    path("seller/", include("shops.seller_urls")),
    path("", include("shops.urls")),
    path("", include("streams.urls")),
    path("", include("orders.urls")),
    path("", include("gifting.urls")),
    path("", include("payments.urls")),
    path("", include("moderation.urls")),
    # The profile page with the apps' parts (the Shop tab, the top fans) overrides the plain one.
    path("@<str:handle>", ProfileView.as_view(), name="profile"),
    path("", include("accounts.urls")),
]

if settings.DEBUG or settings.SERVE_MEDIA:
    # Uploaded files: served by Django in the embedded default; put a CDN or the proxy
    # in front of MEDIA_ROOT (or use object storage) at scale.
    urlpatterns += [
        path(
            f"{settings.MEDIA_URL.lstrip('/')}<path:path>",
            require_safe(serve),  # read only: any other method is 405
            {"document_root": settings.MEDIA_ROOT},
        ),
    ]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
