"""A creator's own site frames the embed page: the video is there, under our policy. The
same site cannot frame the live page."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, expect

from streams import services
from tests.factories import UserFactory


class _Site(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # keep test output quiet


@pytest.fixture
def outside_site():
    """Another origin: a plain HTTP server on another port of 127.0.0.1 (Chromium refuses
    a public origin's frames of a loopback address, so the site is local too). Set .page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.page = ""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}/"
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _scheduled(title: str):
    from django.utils import timezone

    host = UserFactory(handle="hana", is_business=True)
    stream, _ = services.stream_schedule(host=host, title=title, scheduled_at=timezone.now())
    return host, stream


def _shop_page(**frames: str) -> str:
    """A creator's page framing each address, the frame's id its keyword."""
    iframes = "".join(
        f'<iframe id="{name}" src="{src}" width="360" height="640"></iframe>'
        for name, src in frames.items()
    )
    return f"<!DOCTYPE html><title>Hana's shop</title><h1>Hana's shop</h1>{iframes}"


def test_another_site_frames_the_embed_and_not_the_live_page(
    browser: Browser, asgi_server, outside_site, csp_violations
):
    host, stream = _scheduled("Friday drop")
    services.stream_go_live(stream=stream, actor=host, playback_url="/static/streams/demo-loop.mp4")
    outside_site.page = _shop_page(
        embed=f"{asgi_server}/live/{stream.pk}/embed/", room=f"{asgi_server}/live/{stream.pk}"
    )

    page = browser.new_context().new_page()
    page.goto(outside_site.url)

    embed = page.frame_locator("#embed")
    expect(embed.locator("video#video")).to_have_count(1)
    expect(embed.get_by_test_id("state")).to_have_text("LIVE")
    expect(embed.get_by_test_id("embed-watch")).to_have_attribute("target", "_blank")
    # player.js ran inside the frame and gave the video its source.
    expect(embed.locator("video#video")).to_have_js_property(
        "src", f"{asgi_server}/static/streams/demo-loop.mp4"
    )

    # The live page refuses the frame, and the browser says so (the listener hears it).
    expect(page.frame_locator("#room").locator("#live")).to_have_count(0)
    page.wait_for_timeout(300)
    refused = [v for v in csp_violations if "frame-ancestors" in v]
    assert refused, csp_violations
    assert all(f"/live/{stream.pk}/embed/" not in v for v in refused), refused
    assert [v for v in csp_violations if v not in refused] == []
    csp_violations.clear()


def test_the_framed_embed_follows_the_live_from_scheduled_to_live_to_ended(
    browser: Browser, asgi_server, outside_site
):
    """Nobody reloads the creator's page: the embed goes live when the host does, and
    shows the replay state when the live ends."""
    host, stream = _scheduled("Sunday restock")
    outside_site.page = _shop_page(embed=f"{asgi_server}/live/{stream.pk}/embed/")
    page = browser.new_context().new_page()
    page.goto(outside_site.url)
    embed = page.frame_locator("#embed")
    expect(embed.get_by_test_id("state")).to_contain_text("Starts")
    expect(embed.locator("[data-testid=embed][data-connected='1']")).to_have_count(1)

    services.stream_go_live(stream=stream, actor=host, playback_url="/static/streams/demo-loop.mp4")
    expect(embed.get_by_test_id("state")).to_have_text("LIVE")
    expect(embed.locator("video#video")).to_have_js_property(
        "src", f"{asgi_server}/static/streams/demo-loop.mp4"
    )
    expect(embed.locator("[data-testid=embed][data-connected='1']")).to_have_count(1)

    services.stream_end(stream=stream, actor=host)
    expect(embed.get_by_test_id("state")).to_have_text("Replay")
    expect(embed.locator("[data-testid=embed]")).to_have_attribute("data-status", "ended")
    # The creator's page itself was never reloaded: only the frame was.
    assert page.url == outside_site.url
