"""Fetching the product pictures an imported catalog names by URL.

Runs in a Celery task, never in a request. The URL comes from a merchant's file, so the
fetch is treated as hostile input: http(s) only, a bounded size and time, and no private,
loopback or link-local addresses (the server would otherwise fetch from inside our own
network on the merchant's behalf). The downloaded bytes go through the same checks and
re-encoding as an upload.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile

from accounts.errors import InvalidImage

from .models import ProductImage
from .services import _store_renditions

logger = logging.getLogger(__name__)

USER_AGENT = "Tapbuy-image-fetcher/1.0"
_CHUNK = 64 * 1024
# Status codes worth another try later; every other error answer is final.
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class _Refused(Exception):
    """The host resolves to an address we do not fetch from. Not an OSError, so that
    urllib lets it through unwrapped and the task does not retry it."""


class _Final(Exception):
    """A failure that another attempt would not fix; the message is shown to the merchant."""


def product_image_fetch(*, image_id: int, raise_transient: bool = False) -> None:
    """Download a remote product image and store its renditions: the image becomes READY,
    or FAILED with a short reason. Network trouble that may pass (a timeout, a 503) is
    raised as OSError when raise_transient is set, leaving the image REMOTE for a retry;
    otherwise it fails the image too.

    Safe to run twice, and concurrently: only an image still REMOTE is fetched, and the
    result is saved with a compare-and-set on that state, so one run wins and the other
    discards its files. The caller must not hold a transaction: the download takes up to
    a few times REMOTE_IMAGE_TIMEOUT and no row is locked meanwhile."""
    image = (
        ProductImage.objects.filter(pk=image_id, state=ProductImage.State.REMOTE)
        .exclude(source_url="")
        .first()
    )
    if image is None:
        return  # already fetched, failed for good, or deleted
    try:
        data = _download(image.source_url)
        _store_renditions(image, ContentFile(data, name="remote"))
    except _Final as exc:
        _fail(image_id, str(exc))
        return
    except InvalidImage as exc:
        _fail(image_id, exc.message)
        return
    except OSError as exc:
        if raise_transient:
            raise
        _fail(image_id, f"Could not download the image ({_reason(exc)}).")
        return
    files = [image.large, image.medium, image.thumb]
    won = ProductImage.objects.filter(pk=image_id, state=ProductImage.State.REMOTE).update(
        state=ProductImage.State.READY,
        error="",
        large=image.large.name,
        medium=image.medium.name,
        thumb=image.thumb.name,
        width=image.width,
        height=image.height,
    )
    if not won:
        # Another run finished first, or the image was deleted meanwhile: these files are
        # nobody's.
        for stored in files:
            stored.storage.delete(stored.name)


def _fail(image_id: int, message: str) -> None:
    ProductImage.objects.filter(pk=image_id, state=ProductImage.State.REMOTE).update(
        state=ProductImage.State.FAILED, error=message[:250]
    )
    logger.info("product image %s not fetched: %s", image_id, message)


def _reason(exc: OSError) -> str:
    # URLError wraps the socket error in .reason ("timed out", "Connection refused").
    reason = getattr(exc, "reason", None) or exc.strerror or str(exc) or type(exc).__name__
    return str(reason)[:120]


def _download(url: str) -> bytes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Final("Only http and https image URLs can be fetched.")
    limit = settings.PRODUCT_IMAGE_MAX_BYTES
    shown = f"{limit / 2**20:.0f} MB" if limit >= 2**20 else f"{limit:,} bytes"
    too_large = f"The image is larger than {shown}."
    timeout = settings.REMOTE_IMAGE_TIMEOUT
    # The socket timeout bounds each wait; this bounds a server that drips bytes.
    deadline = time.monotonic() + 3 * timeout
    # The scheme is checked above, and the opener has http and https handlers only.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": USER_AGENT, "Accept": "image/*"}
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _Final(too_large)
            chunks, size = [], 0
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _Final(too_large)
                if time.monotonic() > deadline:
                    raise TimeoutError("the download took too long")
                chunks.append(chunk)
            return b"".join(chunks)
    except _Refused as exc:
        raise _Final(str(exc)) from None
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in _TRANSIENT_STATUS:
            raise OSError(f"HTTP {exc.code}") from None
        raise _Final(f"The image's server answered HTTP {exc.code}.") from None
    except http.client.HTTPException as exc:
        # A garbled answer (bad status line, cut-off body) is not an OSError: retry it too.
        raise OSError(f"bad HTTP answer: {type(exc).__name__}") from None


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _connect_public(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """socket.create_connection, refusing hosts that resolve to a non-public address.

    The socket connects to the very address that was checked, so a DNS answer that
    changes between the check and the connection (DNS rebinding) cannot slip through; a
    host with any non-public address is refused outright."""
    host, port = address
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not settings.REMOTE_IMAGE_ALLOW_PRIVATE:
        for *_, sockaddr in infos:
            if not _is_public(sockaddr[0]):
                raise _Refused("The image's address is private or local; it was not fetched.")
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"{host} has no address")


class _PublicHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # http.client opens its socket through this hook (CPython's own tests replace it
        # the same way); every connection, redirects included, goes through the check.
        self._create_connection = _connect_public


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_public


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_PublicHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_PublicHTTPSConnection, req, context=self._context)


def _opener() -> urllib.request.OpenerDirector:
    """http and https only (build_opener would add ftp, file and data handlers, which a
    redirect could reach), no proxy from the environment (the check would then apply to
    the proxy instead of the image's host), redirects followed through the same check."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.UnknownHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
        _HTTPHandler(),
        _HTTPSHandler(),
    ):
        opener.add_handler(handler)
    return opener
