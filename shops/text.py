"""Product and shop text: Markdown (or HTML from an import) rendered to a small, safe
subset of HTML, and the document the search matches."""

from __future__ import annotations

import html
import re

import markdown
import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "span",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "code",
    "pre",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"colspan"}, "td": {"colspan"}}
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def render_description(source: str) -> str:
    """Markdown (inline HTML allowed) to sanitized HTML: scripts, styles, event handlers
    and javascript: links are gone; links get rel=noopener noreferrer nofollow."""
    if not source.strip():
        return ""
    return sanitize_html(markdown.markdown(source, extensions=["sane_lists"], output_format="html"))


def sanitize_html(source: str) -> str:
    """HTML (Shopify's Body) cleaned to the same subset, without Markdown processing."""
    return nh3.clean(
        source or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()


def html_to_text(fragment: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", fragment or ""))).strip()


def search_document(
    *, title: str, description_html: str, tags: str, vendor: str, product_type: str
) -> str:
    parts = [title, tags.replace(",", " "), vendor, product_type, html_to_text(description_html)]
    return _SPACE.sub(" ", " ".join(p for p in parts if p)).strip().lower()[:20_000]


def normalize_tags(tags: str | list[str]) -> str:
    items = tags if isinstance(tags, list) else tags.split(",")
    seen: dict[str, None] = {}
    for item in items:
        tag = _SPACE.sub(" ", item).strip()[:60]
        if tag and tag.lower() not in {t.lower() for t in seen}:
            seen[tag] = None
    return ", ".join(seen)[:500]
