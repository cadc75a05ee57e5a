"""Buying in a live, in a real browser: the sheet opens over the video, Confirm places the
order without leaving the page, and the host's console sees the order and the new stock
as they happen."""

from django.utils import timezone
from playwright.sync_api import Browser, expect

from orders import services as orders_services
from orders.models import Address, BagItem, Order
from payments.provider_models import PaymentMethod
from payments.provider_services import payment_method_add
from shops.models import Variant
from streams import services
from tests.factories import PASSWORD, ShopFactory, UserFactory, make_product


def _login(browser: Browser, base: str, handle: str):
    page = browser.new_context().new_page()
    page.goto(f"{base}/accounts/login/")
    page.locator("input[name=login]").fill(handle)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_test_id("nav-me")).to_be_visible()
    return page


def _live_like_the_demo(*, deal: bool = True):
    """A host selling their own shop's products in a live: a carousel with the shirt
    pinned and, when asked, a flash deal on it."""
    host = UserFactory(handle="hana", display_name="Hana Host", is_business=True)
    shop = ShopFactory(owner=host, handle="hanashop", name="Hana Linen")
    shirt = make_product(shop, "Linen shirt", sku="LS", price_minor=4900, stock=5)
    mug = make_product(shop, "Speckled mug", sku="MG", price_minor=2800, stock=2)
    stream, _ = services.stream_schedule(
        host=host, title="Friday drop", scheduled_at=timezone.now()
    )
    services.stream_go_live(stream=stream, actor=host, playback_url="/static/streams/demo-loop.mp4")
    services.carousel_set(stream=stream, actor=host, product_ids=[shirt.pk, mug.pk])
    services.carousel_pin(stream=stream, actor=host, product_id=shirt.pk)
    stream.refresh_from_db()
    if deal:
        services.deal_start(
            stream=stream,
            actor=host,
            product_id=shirt.pk,
            price_minor=3900,
            quantity=3,
            seconds=600,
        )
    return stream, shirt


def _open_live(page, base, stream):
    page.goto(f"{base}/live/{stream.pk}")
    expect(page.locator("#live[data-connected='1']")).to_have_count(1)
    # A marker that a navigation or reload would wipe out.
    page.evaluate("window.stillHere = true")


def test_one_tap_buy_in_the_live_reaches_the_host_console(browser: Browser, asgi_server):
    stream, shirt = _live_like_the_demo()
    vera = UserFactory(handle="vera", display_name="Vera Viewer")
    orders_services.address_add(
        user=vera,
        data={
            "name": "Vera Viewer",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        },
    )
    payment_method_add(user=vera, number="4242424242424242", exp_month=12, exp_year=2040, cvc="123")

    console = _login(browser, asgi_server, "hana")
    console.goto(f"{asgi_server}/studio/{stream.pk}/")
    expect(console.locator("#live[data-connected='1']")).to_have_count(1)
    expect(console.get_by_test_id(f"console-stock-{shirt.pk}")).to_have_text("5")

    viewer = _login(browser, asgi_server, "vera")
    _open_live(viewer, asgi_server, stream)
    live_url = viewer.url
    pinned = viewer.locator(".carousel-item.pinned")
    expect(pinned).to_contain_text("5 left")
    expect(viewer.get_by_test_id("deal")).to_contain_text("3")

    pinned.get_by_test_id("buy").click()
    sheet = viewer.get_by_test_id("buy-sheet")
    expect(viewer.get_by_test_id("buy-dialog")).to_be_visible()
    expect(sheet).to_contain_text("Linen shirt")
    expect(sheet.get_by_test_id("sheet-price")).to_have_text("$39.00")  # the deal's price
    expect(sheet.get_by_test_id("chosen-address")).to_contain_text("1 Main St")
    expect(sheet.get_by_test_id("chosen-card")).to_contain_text("4242")
    sheet.get_by_test_id("confirm").click()

    expect(sheet.get_by_test_id("order-placed")).to_have_text("✓ Order placed")
    order = Order.objects.get(buyer=vera)
    expect(sheet.get_by_test_id("order-reference")).to_have_text(order.reference)
    assert order.status == Order.Status.PAID and order.stream_id == stream.pk
    assert order.total_minor == 3900

    # The live never left: same page, same video element, still playing its source.
    assert viewer.url == live_url
    assert viewer.evaluate("window.stillHere") is True
    expect(viewer.locator("video#video")).to_have_count(1)
    assert viewer.evaluate("!!document.getElementById('video').src")

    # The carousel and the deal follow the sale, on the buyer's page as on everyone's.
    expect(pinned).to_contain_text("4 left")
    expect(viewer.locator("#deal-left")).to_have_text("2")
    expect(viewer.locator("#ticker")).to_contain_text("Vera just bought Linen shirt")

    # The host's console shows the order as it comes, and the new stock.
    expect(console.get_by_test_id("console-orders")).to_contain_text("Vera bought 1 × Linen shirt")
    expect(console.get_by_test_id(f"console-stock-{shirt.pk}")).to_have_text("4")

    # Keep watching: the sheet closes over the same live.
    sheet.get_by_role("button", name="Keep watching").click()
    expect(viewer.get_by_test_id("buy-dialog")).to_be_hidden()
    assert viewer.evaluate("window.stillHere") is True


def test_the_first_buy_sets_up_address_and_card_in_the_sheet(browser: Browser, asgi_server):
    stream, shirt = _live_like_the_demo(deal=False)
    UserFactory(handle="zoe", display_name="Zoe Martin")
    viewer = _login(browser, asgi_server, "zoe")
    _open_live(viewer, asgi_server, stream)

    viewer.locator(".carousel-item.pinned").get_by_test_id("buy").click()
    sheet = viewer.get_by_test_id("buy-sheet")
    expect(sheet.get_by_test_id("address-form")).to_be_visible()
    expect(sheet.get_by_test_id("card-form")).to_be_visible()
    # A bad card number is said in the sheet, and what was typed stays.
    sheet.get_by_label("Full name").fill("Zoe Martin")
    sheet.get_by_label("Address", exact=True).fill("2 Side St")
    sheet.get_by_label("City").fill("Shelbyville")
    sheet.get_by_label("Postal code").fill("54321")
    sheet.get_by_label("Country code").fill("US")
    sheet.get_by_label("Card number").fill("4242 4242 4242 4241")
    sheet.get_by_label("Expiry (MM/YY)").fill("12/40")
    sheet.get_by_label("Security code").fill("123")
    sheet.get_by_test_id("confirm").click()
    expect(sheet.get_by_test_id("sheet-error")).to_be_visible()
    expect(sheet.get_by_label("City")).to_have_value("Shelbyville")
    assert not Order.objects.exists()

    sheet.get_by_label("Card number").fill("4242 4242 4242 4242")
    sheet.get_by_label("Security code").fill("123")
    sheet.get_by_test_id("confirm").click()
    expect(sheet.get_by_test_id("order-placed")).to_be_visible()
    assert viewer.evaluate("window.stillHere") is True
    assert Address.objects.get(user__handle="zoe").is_default
    assert PaymentMethod.objects.get(user__handle="zoe").is_default
    expect(viewer.locator(".carousel-item.pinned")).to_contain_text("4 left")

    # The second buy is one tap and Confirm: address and card are chosen already.
    sheet.get_by_role("button", name="Keep watching").click()
    viewer.locator(".carousel-item.pinned").get_by_test_id("buy").click()
    sheet = viewer.get_by_test_id("buy-sheet")
    expect(sheet.get_by_test_id("chosen-address")).to_contain_text("2 Side St")
    expect(sheet.get_by_test_id("address-form")).to_be_hidden()
    sheet.get_by_test_id("confirm").click()
    expect(sheet.get_by_test_id("order-placed")).to_be_visible()
    assert Order.objects.filter(buyer__handle="zoe", status=Order.Status.PAID).count() == 2
    assert Variant.objects.get(product=shirt).stock == 3

    # Or into the bag for later: a small confirmation in the sheet, the count in the nav.
    sheet.get_by_role("button", name="Keep watching").click()
    viewer.locator(".carousel-item.pinned").get_by_test_id("buy").click()
    sheet = viewer.get_by_test_id("buy-sheet")
    sheet.get_by_label("Quantity").fill("2")
    sheet.get_by_test_id("add-to-bag").click()
    expect(sheet.get_by_test_id("bag-added")).to_contain_text("Added to your bag")
    expect(viewer.get_by_test_id("bag-count")).to_have_text("(2)")
    assert viewer.evaluate("window.stillHere") is True
    item = BagItem.objects.get(user__handle="zoe")
    assert (item.quantity, item.stream_id) == (2, stream.pk)


def test_a_signed_out_viewer_is_offered_to_log_in(browser: Browser, asgi_server):
    stream, _shirt = _live_like_the_demo(deal=False)
    page = browser.new_context().new_page()
    _open_live(page, asgi_server, stream)
    page.locator(".carousel-item.pinned").get_by_test_id("buy").click()
    expect(page.get_by_test_id("buy-login")).to_be_visible()
    assert page.evaluate("window.stillHere") is True
