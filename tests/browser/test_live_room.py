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
