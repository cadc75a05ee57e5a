"""Files that pretend to be pictures, sent where users upload pictures: the product image
API, the seller's upload page and the profile's avatar. Each is refused with a message
and nothing is stored; a real picture carrying a payload is stored as pixels only."""

import io
import os
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image

from accounts.models import User
from shops.models import ProductImage
from tests.factories import make_product, png_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says width × height, with one row of pixel data: what a
    decompression bomb looks like to a server that decodes before it checks."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "#25f4ee").save(buffer, format="GIF")
    return buffer.getvalue()


NOT_AN_IMAGE = "The file is not a valid image."
PAYLOAD = b"<script>alert(document.cookie)</script>"
HOSTILE = {
    "html": (b"<!DOCTYPE html><html><body>" + PAYLOAD + b"</body></html>", NOT_AN_IMAGE),
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9"/></svg>',
        NOT_AN_IMAGE,
    ),
    "gif-magic-then-script": (b"GIF89a/*" + PAYLOAD + b"*/=1;", NOT_AN_IMAGE),
    "bomb": (_png_claiming(100_000, 100_000), "Images can have at most 40 megapixels."),
    "empty": (b"", "The submitted file is empty."),
    "truncated": (png_bytes(400, 300)[:300], NOT_AN_IMAGE),
}


def _file(kind: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"{kind}.png", HOSTILE[kind][0], content_type="image/png")


def _media(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


@pytest.fixture
def product(shop):
    return make_product(shop, "Linen shirt", sku="LS")


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_the_image_api_refuses_files_that_are_not_pictures(api_client, product, settings, kind):
    api_client.force_authenticate(product.shop.owner)
    response = api_client.post(
        f"/api/v1/products/{product.pk}/images/", {"image": _file(kind)}, format="multipart"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert HOSTILE[kind][1] in [error["message"], *error.get("fields", {}).get("image", [])]
    assert not ProductImage.objects.exists()
    assert _media(settings) == []


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_the_upload_page_refuses_files_that_are_not_pictures(client, product, settings, kind):
    client.force_login(product.shop.owner)
    response = client.post(
        reverse("seller:product_images", args=[product.pk]), {"images": [_file(kind)]}
    )
    assert response.status_code == 400
    assert escape(HOSTILE[kind][1]) in response.content.decode()
    assert not ProductImage.objects.exists()
    assert _media(settings) == []


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_the_avatar_refuses_files_that_are_not_pictures(client, viewer, settings, kind):
    client.force_login(viewer)
    response = client.post(
        reverse("accounts:settings"),
        {"display_name": "Changed", "bio": "", "avatar": _file(kind)},
    )
    assert response.status_code == 400
    assert escape(HOSTILE[kind][1]) in response.content.decode()
    viewer = User.objects.get(pk=viewer.pk)
    assert viewer.display_name == "Vera Viewer" and not viewer.avatar
    assert _media(settings) == []


def test_a_picture_carrying_a_payload_is_stored_as_pixels_only(api_client, product, settings):
    """A GIF that is also an HTML page (the payload after the image data) is a picture:
    it is kept, re-encoded, and the payload is gone from every stored file."""
    api_client.force_authenticate(product.shop.owner)
    polyglot = SimpleUploadedFile("fine.gif", _gif() + PAYLOAD, content_type="image/gif")
    response = api_client.post(
        f"/api/v1/products/{product.pk}/images/", {"image": polyglot}, format="multipart"
    )
    assert response.status_code == 201, response.content
    stored = _media(settings)
    assert len(stored) == 3
    for path in stored:
        assert path.endswith(".webp")
        with open(path, "rb") as handle:
            content = handle.read()
        assert content[:4] == b"RIFF" and b"<script" not in content
