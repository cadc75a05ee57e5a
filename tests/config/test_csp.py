"""The Content-Security-Policy header, and pages that can live with it: no inline script,
style or event handler, no javascript: URL, on every page the URLconf serves."""

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from config.csp import build_policy
from streams import services
from tests.config.test_settings import _manage
from tests.factories import UserFactory
from tests.pages import demo_world, html_routes, route_path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data"}


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block in a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            data_only = (names.get("type") or "").lower() == "application/json"
            if not names.get("src") and not data_only:
                self._in_script = True
        if tag == "style":
            self.problems.append("<style> block")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> handler")
            elif name == "style":
                self.problems.append(f"<{tag} style=…> attribute")
            elif name in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script:
            self.problems.append("inline <script>")
            self._in_script = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.problems


def test_the_checker_finds_what_it_looks_for():
    page = (
        '<script>x()</script><script src="/a.js"></script><script type="application/json">'
        '{"a": 1}</script><style>p{}</style><p style="color:red" onclick="x()">'
        '<a href=" javascript:x()">a</a><form action="javascript:x()"></form>'
    )
    assert sorted(inline_code(page)) == sorted(
        [
            "inline <script>",
            "<style> block",
            "<p style=…> attribute",
            "<p onclick=…> handler",
            "<a href=javascript:…>",
            "<form action=javascript:…>",
        ]
    )
    assert inline_code('<p data-on="x" class="style"><a href="/x">ok</a></p>') == []


def test_no_template_of_ours_has_inline_code():
    """Also the partials and e-mail-free templates no page test happens to render."""
    problems = {}
    for path in TEMPLATES.rglob("*.html"):
        found = inline_code(path.read_text())
        if found:
            problems[str(path.relative_to(TEMPLATES))] = found
    assert problems == {}


def test_the_policy_allows_only_our_own_origin():
    policy = dict(
        part.split(" ", 1)
        for part in build_policy(socket_origin="wss://shop.example.com").split("; ")
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self'"
    assert policy["connect-src"] == "'self' wss://shop.example.com"
    assert policy["media-src"] == "'self' blob:"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in build_policy(socket_origin=None)


def test_an_embeddable_page_names_who_may_frame_it():
    policy = build_policy(
        socket_origin=None, frame_ancestors=["https://a.example", "https://b.example"]
    )
    assert "; frame-ancestors https://a.example https://b.example;" in policy
    assert "frame-src 'none'" in policy and "script-src 'self';" in policy


def test_video_origins_come_from_the_settings(settings):
    settings.HLS_PLAYBACK_BASE_URL = "https://media.example.com:8443/hls/"
    settings.CSP_MEDIA_ORIGINS = ["https://cdn.example.net", "not a url"]
    policy = build_policy(socket_origin="ws://127.0.0.1:8000")
    assert (
        "connect-src 'self' ws://127.0.0.1:8000 https://cdn.example.net "
        "https://media.example.com:8443;" in policy
    )
    assert "media-src 'self' blob: https://cdn.example.net https://media.example.com:8443;" in (
        policy
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/healthz", "/api/v1/products/", "/accounts/login/", "/nowhere", "/admin/"]
)
def test_every_response_carries_the_policy(client, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "connect-src 'self' ws://testserver" in policy
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_only_the_embed_page_may_be_framed(client, settings):
    """The embed page has the framing sites of EMBED_FRAME_ANCESTORS and no X-Frame-Options;
    its neighbours keep both refusals (the walk below checks every other page)."""
    host = UserFactory(handle="hana", is_business=True)
    stream, _ = services.stream_schedule(host=host, title="Drop", scheduled_at=timezone.now())
    settings.EMBED_FRAME_ANCESTORS = ["https://a.example", "https://b.example"]
    embed = client.get(f"/live/{stream.pk}/embed/")
    assert (
        "frame-ancestors https://a.example https://b.example;" in embed["Content-Security-Policy"]
    )
    assert "X-Frame-Options" not in embed
    for path in (f"/live/{stream.pk}", "/", "/live/999999/embed/"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], path
        assert response["X-Frame-Options"] == "DENY", path


@pytest.mark.parametrize(
    ("value", "sources"),
    [
        ("", "['*']"),
        ("https://a.example https://b.example", "['https://a.example', 'https://b.example']"),
        ("https://a.example, https://b.example", "['https://a.example', 'https://b.example']"),
    ],
)
def test_the_framing_sites_come_from_the_environment(value, sources):
    env = {"EMBED_FRAME_ANCESTORS": value} if value else {}
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.EMBED_FRAME_ANCESTORS)",
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == sources


def test_a_framing_site_cannot_add_a_directive():
    result = _manage("check", EMBED_FRAME_ANCESTORS="https://a.example; script-src *")
    assert result.returncode != 0
    assert "EMBED_FRAME_ANCESTORS" in result.stderr


@pytest.mark.django_db
def test_secure_requests_allow_the_secure_socket(client):
    policy = client.get("/", secure=True)["Content-Security-Policy"]
    assert "connect-src 'self' wss://testserver" in policy


@pytest.mark.django_db
def test_only_the_api_docs_allow_inline_styles(client, staff):
    client.force_login(staff)
    for path in ("/", "/admin/", "/admin/shops/product/"):
        assert "unsafe-inline" not in client.get(path)["Content-Security-Policy"]
    for path in ("/api/docs/", "/api/redoc/"):
        policy = client.get(path)["Content-Security-Policy"]
        assert "style-src 'self' 'unsafe-inline'" in policy
        assert "script-src 'self';" in policy


def test_the_api_docs_have_no_inline_script(client):
    page = client.get("/api/docs/").content.decode()
    assert "inline <script>" not in inline_code(page)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


# --- every page --------------------------------------------------------------------------

# Routes that are not pages: they answer JSON, CSV, a redirect or a file, never HTML.
NOT_PAGES = {
    "healthz": "JSON",
    "payment_webhooks:receive": "the provider's webhook (JSON)",
    "rtmp-publish": "the media server's hook",
    "rtmp-publish-done": "the media server's hook",
    "seller:export": "CSV",
    "gifting:supporters_csv": "CSV",
    "shops:external": "a redirect to the merchant's store",
    "": "uploaded files",
}


@pytest.mark.django_db
def test_every_page_renders_without_inline_code_and_with_hostile_text_escaped():
    """Every HTML route of the URLconf (the API and the admin apart), as a visitor, a
    viewer with orders, a host and merchant, and staff, as a page and as htmx asks for it.
    The demo data carries a product, a chat line and a profile full of markup. Only the
    embed page may be framed: every other answer says frame-ancestors 'none' and DENY."""
    world = demo_world()
    paths = [
        route_path(route, name, world)
        for route, name, _view in html_routes()
        if name not in NOT_PAGES
    ]
    personas = [None, "noah", "mia", "admin"]
    problems, seen, framed = {}, set(), set()
    for handle in personas:
        client = Client()
        if handle:
            client.force_login(User.objects.get(handle=handle))
        for path in paths:
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(path, headers=headers)
                assert "Content-Security-Policy" in response, path
                if (
                    response.get("X-Frame-Options") != "DENY"
                    or "frame-ancestors 'none'" not in (response["Content-Security-Policy"])
                ):
                    framed.add(path)
                if not response["Content-Type"].startswith("text/html"):
                    continue
                if response.status_code == 200:
                    seen.add(path)
                found = inline_code(response.content.decode())
                if found:
                    problems[f"{path} as {handle or 'visitor'}"] = sorted(set(found))
    assert problems == {}
    assert framed == {f"/live/{world['live']}/embed/"}
    # The walk reached the pages that matter.
    for must in (
        "/",
        f"/live/{world['live']}",
        f"/live/{world['live']}/embed/",
        f"/products/{world['product']}",
        f"/shop/{world['shop']}",
        f"/@{world['handle']}",
        "/bag/",
        f"/buy/{world['product']}/",
        f"/live/{world['live']}/gifts/",
        f"/studio/{world['live']}/",
        "/seller/",
        f"/seller/products/{world['product']}/",
        "/seller/orders/",
        "/wallet/",
        "/earnings/",
        "/accounts/login/",
        "/accounts/signup/",
    ):
        assert must in seen, must
