"""Django's admin under the site's strict Content-Security-Policy: its pages and widgets
(date and time pickers, the raw-id lookup popup, the two-box selector) report no
violation (tests/browser/conftest.py fails a test that sees one)."""

from django.utils import timezone
from playwright.sync_api import Browser, expect

from streams import services
from tests.factories import PASSWORD, ShopFactory, UserFactory, make_product


def test_admin_pages_and_widgets_run_under_the_policy(browser: Browser, asgi_server):
    UserFactory(handle="root", is_staff=True, is_superuser=True)
    shop = ShopFactory()
    product = make_product(shop, "Linen shirt", sku="LS")
    stream, _ = services.stream_schedule(
        host=shop.owner, title="Friday drop", scheduled_at=timezone.now()
    )
    page = browser.new_context().new_page()
    response = page.goto(f"{asgi_server}/admin/login/")
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.locator("input[name=username]").fill("root")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page.locator("#site-name")).to_be_visible()
    for path in (
        "/admin/",
        "/admin/shops/product/",
        f"/admin/shops/product/{product.pk}/change/",
        "/admin/streams/stream/",
        "/admin/moderation/report/",
    ):
        page.goto(asgi_server + path)
        expect(page.locator("#content")).to_be_visible()

    page.goto(f"{asgi_server}/admin/streams/stream/{stream.pk}/change/")
    page.locator("#calendarlink0").click()
    expect(page.locator("#calendarbox0")).to_be_visible()
    page.locator("#clocklink0").click()
    expect(page.locator("#clockbox0")).to_be_visible()
    with page.expect_popup() as popup:
        page.locator("#lookup_id_host").click()
    expect(popup.value.locator("#result_list")).to_be_visible()

    page.goto(f"{asgi_server}/admin/auth/group/add/")
    expect(page.locator("#id_permissions_from")).to_be_visible()
