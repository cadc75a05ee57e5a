"""Gifts in a live, in a real browser: a viewer buys coins on the wallet page, opens the
gift panel over the live without stopping it, sends a gift, and every page animates it;
the host's console shows the gift and its earnings as they happen."""

from django.utils import timezone
from playwright.sync_api import Browser, expect

from gifting import selectors
from gifting.models import CoinPack, Gift, GiftSend
from payments.provider_services import payment_method_add
from streams import services
from tests.factories import PASSWORD, UserFactory

# Script errors on any page of a test (gifts.js failing to parse or run among them).
SCRIPT_ERRORS: list[str] = []


def _login(browser: Browser, base: str, handle: str, **context):
    page = browser.new_context(**context).new_page()
    page.on("pageerror", lambda error: SCRIPT_ERRORS.append(str(error)))
    page.goto(f"{base}/accounts/login/")
    page.locator("input[name=login]").fill(handle)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_test_id("nav-me")).to_be_visible()
    return page


def _live():
    host = UserFactory(handle="hana", display_name="Hana Host", is_business=True)
    stream, _ = services.stream_schedule(
        host=host, title="Friday drop", scheduled_at=timezone.now()
    )
    services.stream_go_live(stream=stream, actor=host, playback_url="/static/streams/demo-loop.mp4")
    stream.refresh_from_db()
    return stream


def _open_live(page, base, stream):
    page.goto(f"{base}/live/{stream.pk}")
    expect(page.locator("#live[data-connected='1']")).to_have_count(1)
    page.evaluate("window.stillHere = true")  # a navigation or reload would wipe it out


def test_a_viewer_buys_coins_sends_a_gift_and_the_host_sees_it(browser: Browser, asgi_server):
    SCRIPT_ERRORS.clear()
    stream = _live()
    CoinPack.objects.create(coins=70, price_minor=99, currency="USD", position=0)
    heart = Gift.objects.create(name="Heart", slug="heart", coins=5, position=0)
    Gift.objects.create(
        name="Lion", slug="lion", coins=500, level=Gift.Level.FULLSCREEN, position=1
    )
    vera = UserFactory(handle="vera", display_name="Vera Viewer")
    payment_method_add(user=vera, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123")

    console = _login(browser, asgi_server, "hana")
    console.goto(f"{asgi_server}/studio/{stream.pk}/")
    expect(console.locator("#live[data-connected='1']")).to_have_count(1)
    expect(console.get_by_test_id("gift-earnings")).to_have_text("$0.00")

    # A watcher who asked for reduced motion: the ticker says it, nothing flies.
    calm = _login(browser, asgi_server, "vera", reduced_motion="reduce")
    _open_live(calm, asgi_server, stream)

    viewer = _login(browser, asgi_server, "vera")
    viewer.goto(f"{asgi_server}/wallet/")
    viewer.get_by_test_id("coin-pack").get_by_role("button", name="Buy for $0.99").click()
    expect(viewer.get_by_test_id("wallet-balance")).to_have_text("70")

    _open_live(viewer, asgi_server, stream)
    viewer.get_by_test_id("gift-button").click()
    panel = viewer.get_by_test_id("gift-panel")
    expect(viewer.get_by_test_id("gift-dialog")).to_be_visible()
    expect(panel.get_by_test_id("gift-balance")).to_have_text("70")
    expect(panel.get_by_test_id("gift-share")).to_have_text("@hana receives 50 % of the value.")

    # Not enough coins for the lion: said in the panel, with the way to buy more.
    panel.get_by_text("Lion").click()
    panel.get_by_test_id("gift-send").click()
    expect(panel.get_by_test_id("gift-error")).to_contain_text("Not enough coins")
    expect(panel.get_by_test_id("gift-error").get_by_role("link", name="Buy coins")).to_be_visible()
    assert not GiftSend.objects.exists()

    panel.get_by_text("Heart").click()
    panel.get_by_test_id("gift-send").click()
    expect(panel.get_by_test_id("gift-sent")).to_contain_text("Sent Heart")
    expect(panel.get_by_test_id("gift-balance")).to_have_text("65")
    # The same gift again at once: a combo, one growing animation.
    panel.get_by_test_id("gift-send").click()
    expect(panel.get_by_test_id("gift-balance")).to_have_text("60")

    # The host's console: one animation grown to ×2, the feed, and the earnings.
    animation = console.get_by_test_id("gift-animation")
    expect(animation).to_have_count(1)
    expect(animation).to_contain_text("Vera Viewer sent Heart")
    expect(animation).to_contain_text("×2")
    # The viewer's own page animates it too.
    expect(viewer.locator("#gift-layer [data-testid=gift-animation]")).to_contain_text("×2")
    expect(console.get_by_test_id("console-gifts")).to_contain_text("Vera Viewer sent 2 × Heart")
    expect(console.get_by_test_id("gift-coins")).to_have_text("10")
    expect(console.get_by_test_id("gift-earnings")).to_have_text("$0.04")  # 2 × ⌊2.5¢⌋

    # The live never left.
    assert viewer.evaluate("window.stillHere") is True
    assert viewer.evaluate("!!document.getElementById('video').src")

    expect(calm.locator("#ticker")).to_contain_text("Vera Viewer sent Heart")
    assert calm.get_by_test_id("gift-animation").count() == 0

    sends = GiftSend.objects.filter(gift=heart)
    assert sends.count() == 2 and selectors.wallet_balance(user=vera) == 60

    viewer.get_by_role("button", name="Close").click()
    expect(viewer.get_by_test_id("gift-dialog")).to_be_hidden()
    # Every script ran without an error on the host's, the viewer's and the calm page.
    assert SCRIPT_ERRORS == []


def test_a_signed_out_viewer_is_offered_to_log_in(browser: Browser, asgi_server):
    stream = _live()
    page = browser.new_context().new_page()
    _open_live(page, asgi_server, stream)
    page.get_by_test_id("gift-login-link").click()
    expect(page).to_have_url(f"{asgi_server}/accounts/login/?next=/live/{stream.pk}")
