from playwright.sync_api import Browser, expect

from streams import services
from tests.factories import PASSWORD, ShopFactory, UserFactory, make_product


def _login(context, base, handle):
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.locator("input[name=login]").fill(handle)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_test_id("nav-me")).to_be_visible()
    return page


def test_host_pins_and_the_viewer_sees_it_without_a_reload(browser: Browser, asgi_server):
    from django.utils import timezone

    host = UserFactory(handle="hana", is_business=True)
    shop = ShopFactory(owner=host, handle="hanashop")
    shirt = make_product(shop, "Linen shirt", sku="LS", price_minor=4900, stock=5)
    mug = make_product(shop, "Speckled mug", sku="MG", price_minor=2800, stock=2)
    stream, _ = services.stream_schedule(
        host=host, title="Friday drop", scheduled_at=timezone.now()
    )
    services.stream_go_live(stream=stream, actor=host)
    services.carousel_set(stream=stream, actor=host, product_ids=[shirt.pk, mug.pk])
    UserFactory(handle="vera")

    viewer = _login(browser.new_context(), asgi_server, "vera")
    viewer.goto(f"{asgi_server}/live/{stream.pk}")
    expect(viewer.locator("#live[data-connected='1']")).to_have_count(1)
    expect(viewer.locator(".carousel-item.pinned")).to_have_count(0)

    console = _login(browser.new_context(), asgi_server, "hana")
    console.goto(f"{asgi_server}/studio/{stream.pk}/")
    console.get_by_test_id(f"pin-{mug.pk}").click()

    pinned = viewer.locator(".carousel-item.pinned")
    expect(pinned).to_have_count(1)
    expect(pinned).to_contain_text("Speckled mug")
    expect(pinned).to_contain_text("2 left")

    # Chat travels too, as text.
    viewer.get_by_test_id("chat-input").fill("<b>hi</b> from Vera")
    viewer.get_by_role("button", name="Send").click()
    expect(viewer.get_by_test_id("chat")).to_contain_text("<b>hi</b> from Vera")
    expect(console.locator("#chat")).to_contain_text("<b>hi</b> from Vera")
    assert viewer.locator("#chat b").count() == 0


HOSTILE = '<img src=x onerror="window.pwned = 1"><script>window.pwned = 2</script>'


def test_the_live_room_runs_under_the_content_security_policy(
    browser: Browser, asgi_server, csp_violations
):
    """The live room with its video, socket, carousel, chat, gift panel and report sheet
    works with the policy on and the browser reports no violation; markup in a product
    title or a chat line stays text, and markup injected into the page cannot run."""
    from django.utils import timezone

    host = UserFactory(handle="hana", is_business=True)
    shop = ShopFactory(owner=host, handle="hanashop")
    hostile = make_product(shop, HOSTILE, sku="XSS", price_minor=4900, stock=5)
    stream, _ = services.stream_schedule(host=host, title=HOSTILE, scheduled_at=timezone.now())
    services.stream_go_live(stream=stream, actor=host, playback_url="/static/streams/demo-loop.mp4")
    services.carousel_set(stream=stream, actor=host, product_ids=[hostile.pk])
    UserFactory(handle="vera")

    viewer = _login(browser.new_context(), asgi_server, "vera")
    response = viewer.goto(f"{asgi_server}/live/{stream.pk}")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "connect-src 'self' ws://127.0.0.1:" in policy
    expect(viewer.locator("#live[data-connected='1']")).to_have_count(1)
    expect(viewer.get_by_test_id("carousel")).to_contain_text(HOSTILE)

    viewer.get_by_test_id("chat-input").fill(HOSTILE[:200])
    viewer.get_by_role("button", name="Send").click()
    expect(viewer.get_by_test_id("chat")).to_contain_text("window.pwned = 1")
    viewer.get_by_test_id("gift-button").click()
    expect(viewer.get_by_test_id("gift-dialog")).to_be_visible()
    viewer.keyboard.press("Escape")
    viewer.get_by_test_id("report-live").click()
    expect(viewer.get_by_test_id("report-dialog")).to_be_visible()
    viewer.wait_for_timeout(500)  # the video and htmx settle
    assert viewer.evaluate("window.pwned") is None
    assert csp_violations == []

    # The policy holds, and the listener hears it: an inline handler is refused.
    viewer.evaluate(
        "document.body.insertAdjacentHTML('beforeend', "
        '\'<img src="/static/img/favicon.svg" onload="window.pwned = 3">\')'
    )
    viewer.wait_for_timeout(300)
    assert viewer.evaluate("window.pwned") is None
    assert any("script-src" in v or "script-src-attr" in v for v in csp_violations)
    csp_violations.clear()
