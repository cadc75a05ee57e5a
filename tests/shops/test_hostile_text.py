"""Markup where users write text: product titles, descriptions and chat lines. Pages
escape it (tests/config/test_csp.py renders every page with it), the API hands it out as
plain JSON strings, and a description keeps only the tags the sanitizer allows."""

from html.parser import HTMLParser

import pytest
from django.utils import timezone

from shops.text import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_description, sanitize_html
from streams import services as streams_services
from tests.factories import make_product

TITLE = '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" & <b>bold</b>'
DESCRIPTION = """# Heading

**Soft** linen [click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)
<a href="JaVaScRiPt:alert(1)" onclick="x()" style="color:red" class="c">a</a>
<img src=x onerror=alert(1)> <iframe src="https://evil.example"></iframe>
<svg><script>alert(1)</script></svg> <math><mi xlink:href="javascript:x">m</mi></math>
<style>body{display:none}</style> <form action="https://evil.example"><input name=p></form>
<object data="x.swf"></object> <embed src="x.swf"> <base href="https://evil.example/">
<p style="background:url(javascript:x)" onmouseover="x()">para</p>
<details open ontoggle="alert(1)">d</details> <video><source onerror="alert(1)"></video>
<a href="https://fine.example/" target="_blank" title="ok">fine</a>
![pic](https://evil.example/track.png)
"""


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("render", [render_description, sanitize_html])
def test_a_description_keeps_only_the_allowed_tags_and_attributes(render):
    html = render(DESCRIPTION)
    tags = _tags(html)
    assert tags, html
    for tag, attrs in tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        assert set(attrs) <= ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, (tag, attrs)
        for value in attrs.values():
            assert not (value or "").lower().startswith(("javascript:", "data:")), html
    assert "<script" not in html and "onerror" not in html and "<style" not in html
    assert ("a", {"href": "https://fine.example/", "title": "ok"}) in [
        (tag, {k: v for k, v in attrs.items() if k != "rel"}) for tag, attrs in tags
    ]
    assert all(
        attrs.get("rel") == "noopener noreferrer nofollow" for tag, attrs in tags if tag == "a"
    )


def test_the_api_hands_out_markup_as_plain_strings(api_client, shop):
    product = make_product(shop, TITLE, description=DESCRIPTION, sku="X")
    response = api_client.get(f"/api/v1/products/{product.pk}/")
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    data = response.json()
    assert data["title"] == TITLE  # as written: the client renders it as text
    assert "<script" not in data["description_html"]
    assert "javascript:" not in data["description_html"].lower()


def test_the_snapshot_hands_out_chat_and_titles_as_plain_strings(api_client, shop, viewer):
    product = make_product(shop, TITLE, sku="X")
    stream, _ = streams_services.stream_schedule(
        host=shop.owner, title=TITLE, scheduled_at=timezone.now()
    )
    streams_services.stream_go_live(stream=stream, actor=shop.owner)
    streams_services.carousel_set(stream=stream, actor=shop.owner, product_ids=[product.pk])
    streams_services.chat_send(user=viewer, stream_id=stream.pk, text=TITLE)
    response = api_client.get(f"/api/v1/streams/{stream.pk}/snapshot/")
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["stream"]["title"] == TITLE
    assert data["carousel"][0]["title"] == TITLE
    assert data["chat"][0]["text"] == TITLE
