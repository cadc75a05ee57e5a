"""The Content-Security-Policy header on every response.

Pages load scripts, styles, images and fonts from our own origin only: templates carry
no inline script, style or event handler (tests/config/test_csp.py renders every page
to check). The live page also needs its own WebSocket (connect-src) and video: the demo
file is ours, HLS comes through hls.js (playlists fetched with XHR, the media handed to
the <video> as a blob: URL, parsing in a blob: worker) from our origin or the media
server's (CSP_MEDIA_ORIGINS and HLS_PLAYBACK_BASE_URL).

No page may be framed (frame-ancestors 'none', and X-Frame-Options DENY from Django) but
the embed page of a live (/live/<id>/embed/), which creators and merchants put on their own
sites: its view is marked @embeddable, and its responses get frame-ancestors from
EMBED_FRAME_ANCESTORS (any site by default) and no X-Frame-Options. It has nothing that
acts for the visitor (no form, no session), so framing it offers no clickjacking target.

Django's admin runs under the same policy (tests/browser/test_admin_csp.py). The API docs
(Swagger UI, Redoc) are third-party pages with inline <style> blocks, style attributes and
data: icons: under their two paths style-src also allows 'unsafe-inline' and img-src data:.
Scripts stay 'self' there too (Redoc's web fonts are refused: it falls back to the
system's).
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.views.decorators.clickjacking import xframe_options_exempt

LOOSE_STYLE_PREFIXES = ("/api/docs/", "/api/redoc/")


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def media_origins() -> list[str]:
    """Origins the live video may come from besides our own."""
    origins = [o for o in map(_origin, settings.CSP_MEDIA_ORIGINS) if o]
    hls = _origin(settings.HLS_PLAYBACK_BASE_URL)
    if hls and hls not in origins:
        origins.append(hls)
    return origins


def embed_frame_ancestors() -> list[str]:
    """Who may frame an embeddable page: EMBED_FRAME_ANCESTORS (* for any site, or
    origins); an empty setting lets no one."""
    return list(settings.EMBED_FRAME_ANCESTORS) or ["'none'"]


def embeddable(view):
    """Let any site in EMBED_FRAME_ANCESTORS frame the view's pages: the middleware reads
    the mark on the response, and Django's xframe_options_exempt drops X-Frame-Options.
    Only for a page that acts for no one: no form, no state change, nothing of the session.
    An error page the view raises (its 404) is not marked, and stays unframeable."""

    @wraps(view)
    def marked(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.csp_embeddable = True
        return response

    return xframe_options_exempt(marked)


def build_policy(
    *,
    socket_origin: str | None,
    loose_style: bool = False,
    frame_ancestors: list[str] | None = None,
) -> str:
    """The policy for one response; socket_origin is the ws:// or wss:// form of the host
    the page was served from ('self' covers it in current browsers, not in all).
    frame_ancestors is for embeddable pages only: every other page says 'none'."""
    media = media_origins()
    style = ["'self'", "'unsafe-inline'"] if loose_style else ["'self'"]
    img = ["'self'", "data:"] if loose_style else ["'self'"]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": style,
        "img-src": img,
        "font-src": ["'self'"],
        "connect-src": ["'self'", *([socket_origin] if socket_origin else []), *media],
        "media-src": ["'self'", "blob:", *media],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": frame_ancestors or ["'none'"],
        "frame-src": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class ContentSecurityPolicyMiddleware:
    """Sets Content-Security-Policy unless the view set one itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        # Django's technical 404 and 500 pages (DEBUG only) are inline-styled and scripted.
        if settings.DEBUG and response.status_code in (404, 500):
            return response
        try:
            host = request.get_host()
        except DisallowedHost:
            host = None
        socket = f"{'wss' if request.is_secure() else 'ws'}://{host}" if host else None
        loose = request.path.startswith(LOOSE_STYLE_PREFIXES)
        ancestors = embed_frame_ancestors() if getattr(response, "csp_embeddable", False) else None
        response["Content-Security-Policy"] = build_policy(
            socket_origin=socket, loose_style=loose, frame_ancestors=ancestors
        )
        return response
