"""Fetching imported pictures from a real HTTP server on 127.0.0.1: a PNG becomes three
renditions, anything else fails with a reason, private addresses are refused unless
allowed, and running the fetch twice is harmless."""

import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from PIL import Image

from shops.models import ProductImage
from shops.remote_images import product_image_fetch
from shops.tasks import image_fetch
from tests.factories import make_product, png_bytes

pytestmark = pytest.mark.django_db

PNG = png_bytes(1200, 900)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits.append(self.path)
        status, content_type, body, extra = self.server.routes.get(
            self.path, (404, "text/plain", b"not found", {})
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # keep test output quiet


@pytest.fixture
def image_server():
    """A real HTTP server in a thread, recording every path asked for."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hits = []
    base = f"http://127.0.0.1:{server.server_port}"
    server.routes = {
        "/tee.png": (200, "image/png", PNG, {}),
        "/notes.txt": (200, "text/plain", b"These are not the pixels you are looking for.", {}),
        "/busy.png": (503, "text/plain", b"try later", {}),
        "/moved.png": (302, "text/plain", b"", {"Location": f"{base}/tee.png"}),
    }
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield SimpleNamespace(url=base, hits=server.hits, port=server.server_port)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def allow_private(settings):
    settings.REMOTE_IMAGE_ALLOW_PRIVATE = True


@pytest.fixture
def remote(shop):
    product = make_product(shop, "Organic tee")

    def make(url: str) -> ProductImage:
        return ProductImage.objects.create(
            product=product, state=ProductImage.State.REMOTE, source_url=url, position=1
        )

    return make


def stored_files(image: ProductImage) -> list:
    return [f for f in (image.large, image.medium, image.thumb) if f]


def media_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return (
        sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
        if (root.exists())
        else []
    )


def test_a_png_becomes_ready_with_three_renditions(image_server, remote, allow_private):
    image = remote(f"{image_server.url}/tee.png")

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert (image.state, image.error) == (ProductImage.State.READY, "")
    assert (image.width, image.height) == (1080, 810)
    widths = []
    for rendition in stored_files(image):
        assert rendition.storage.exists(rendition.name)
        with rendition.open("rb") as handle, Image.open(io.BytesIO(handle.read())) as img:
            assert img.format == "WEBP"
            widths.append(img.width)
    assert widths == [1080, 480, 160]
    assert image_server.hits == ["/tee.png"]


def test_running_the_fetch_twice_is_harmless(image_server, remote, allow_private, settings):
    image = remote(f"{image_server.url}/tee.png")
    product_image_fetch(image_id=image.pk)
    image.refresh_from_db()
    files = media_files(settings)

    product_image_fetch(image_id=image.pk)

    again = ProductImage.objects.get(pk=image.pk)
    assert again.state == ProductImage.State.READY
    assert again.large.name == image.large.name
    assert media_files(settings) == files
    assert image_server.hits == ["/tee.png"]  # the second run did not download


def test_a_redirect_is_followed(image_server, remote, allow_private):
    image = remote(f"{image_server.url}/moved.png")

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert image.state == ProductImage.State.READY
    assert image_server.hits == ["/moved.png", "/tee.png"]


def test_a_text_file_fails_and_stores_nothing(image_server, remote, allow_private, settings):
    image = remote(f"{image_server.url}/notes.txt")

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert image.state == ProductImage.State.FAILED
    assert image.error == "The file is not a valid image."
    assert stored_files(image) == []
    assert media_files(settings) == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_address_is_refused_unless_allowed(image_server, remote, settings, host):
    settings.REMOTE_IMAGE_ALLOW_PRIVATE = False
    image = remote(f"http://{host}:{image_server.port}/tee.png")

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert image.state == ProductImage.State.FAILED
    assert image.error == "The image's address is private or local; it was not fetched."
    assert image_server.hits == []  # refused before connecting


def test_a_missing_picture_fails_with_the_status(image_server, remote, allow_private):
    image = remote(f"{image_server.url}/gone.png")

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert (image.state, image.error) == (
        ProductImage.State.FAILED,
        "The image's server answered HTTP 404.",
    )


def test_a_picture_over_the_size_limit_fails(image_server, remote, allow_private, settings):
    settings.PRODUCT_IMAGE_MAX_BYTES = 1000
    image = remote(f"{image_server.url}/tee.png")

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert (image.state, image.error) == (
        ProductImage.State.FAILED,
        "The image is larger than 1,000 bytes.",
    )
    assert media_files(settings) == []


def test_a_busy_server_is_left_for_a_retry_or_failed_on_the_last_attempt(
    image_server, remote, allow_private
):
    image = remote(f"{image_server.url}/busy.png")

    with pytest.raises(OSError, match="HTTP 503"):
        product_image_fetch(image_id=image.pk, raise_transient=True)
    image.refresh_from_db()
    assert image.state == ProductImage.State.REMOTE

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert (image.state, image.error) == (
        ProductImage.State.FAILED,
        "Could not download the image (HTTP 503).",
    )


def test_a_closed_port_fails_with_the_reason(remote, allow_private):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    image = remote(f"http://127.0.0.1:{port}/tee.png")

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert image.state == ProductImage.State.FAILED
    assert image.error.startswith("Could not download the image (")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/tee.png", "file:///etc/passwd"])
def test_only_http_and_https_are_fetched(remote, allow_private, url):
    image = remote(url)

    product_image_fetch(image_id=image.pk)

    image.refresh_from_db()
    assert (image.state, image.error) == (
        ProductImage.State.FAILED,
        "Only http and https image URLs can be fetched.",
    )


def test_images_that_are_not_remote_are_left_alone(image_server, remote, allow_private):
    image = remote(f"{image_server.url}/tee.png")
    ProductImage.objects.filter(pk=image.pk).update(state=ProductImage.State.FAILED, error="x")

    product_image_fetch(image_id=image.pk)
    product_image_fetch(image_id=image.pk + 1000)  # deleted meanwhile: nothing to do

    image.refresh_from_db()
    assert (image.state, image.error) == (ProductImage.State.FAILED, "x")
    assert image_server.hits == []


def test_the_task_runs_the_fetch(image_server, remote, allow_private):
    image = remote(f"{image_server.url}/tee.png")

    image_fetch.apply(kwargs={"image_id": image.pk}).get()

    image.refresh_from_db()
    assert image.state == ProductImage.State.READY
    assert image_fetch.name == "shops.image_fetch"
