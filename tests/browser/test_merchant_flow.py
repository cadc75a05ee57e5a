"""A merchant's first day, in a real browser: sign up, switch to business, open a shop,
get approved by staff (in another browser context), list a product with two variants,
upload its pictures and count the shelf."""

import re

from PIL import Image
from playwright.sync_api import Browser, Page, expect

from shops.models import Product, ProductImage, Shop
from tests.factories import PASSWORD, UserFactory


def _pictures(tmp_path) -> list[str]:
    paths = []
    for index, colour in enumerate(("#ff2d55", "#25f4ee", "#f5a623"), start=1):
        path = tmp_path / f"beanie-{index}.png"
        Image.new("RGB", (120, 90), colour).save(path, format="PNG")
        paths.append(str(path))
    return paths


def _sign_up(page: Page, base: str) -> None:
    page.goto(f"{base}/accounts/signup/")
    page.locator("input[name=email]").fill("nora@example.com")
    page.locator("input[name=username]").fill("nora.knits")
    page.locator("input[name=password1]").fill("sunny-orchid-42")
    page.locator("input[name=password2]").fill("sunny-orchid-42")
    page.get_by_role("button", name="Sign Up").click()
    expect(page).to_have_url(re.compile(r"/@nora\.knits$"))


def _approve_as_staff(browser: Browser, base: str, shop_name: str) -> None:
    UserFactory(handle="staffer", is_staff=True, is_superuser=True)
    context = browser.new_context()
    try:
        admin = context.new_page()
        admin.goto(f"{base}/admin/login/")
        admin.locator("input[name=username]").fill("staffer")
        admin.locator("input[name=password]").fill(PASSWORD)
        admin.get_by_role("button", name="Log in").click()
        expect(
            admin.get_by_role("link", name="Log out").or_(
                admin.get_by_role("button", name="Log out")
            )
        ).to_be_visible()
        admin.goto(f"{base}/admin/shops/shop/")
        admin.get_by_role("checkbox", name=re.compile(re.escape(shop_name))).check()
        admin.get_by_role("combobox", name="Action").select_option(label="Approve selected shops")
        admin.get_by_role("button", name="Go").click()
        # Every staff action asks for a reason, written to the audit log.
        admin.get_by_label("Reason").fill("Catalog and policies checked")
        admin.get_by_role("button", name="Approve shops").click()
        expect(admin.get_by_text("Approved shops: 1.")).to_be_visible()
    finally:
        context.close()


def _fill_variant(page: Page, number: int, *, size: str, sku: str, price: str, stock: str):
    row = page.get_by_role("group", name=f"Variant {number}")
    row.get_by_label("Size").fill(size)
    row.get_by_label("SKU").fill(sku)
    row.get_by_label(re.compile(r"^Price")).fill(price)
    row.get_by_label("Stock", exact=True).fill(stock)


def test_a_new_merchant_opens_a_shop_and_lists_a_product(
    page: Page, browser: Browser, asgi_server, tmp_path
):
    base = asgi_server
    _sign_up(page, base)

    page.goto(f"{base}/settings/profile/")
    page.get_by_test_id("switch-business").click()
    expect(page.get_by_text("You now have a business account")).to_be_visible()

    page.goto(f"{base}/seller/")
    shop_form = page.get_by_test_id("open-shop")
    shop_form.get_by_label("Shop name").fill("Nora Knits")
    shop_form.get_by_label("Shop handle").fill("noraknits")
    shop_form.get_by_label("Description").fill("Hand-knitted hats and scarves.")
    shop_form.get_by_label("Return policy").fill("Returns within 30 days, unworn.")
    shop_form.get_by_role("button", name="Open shop").click()
    expect(page.get_by_test_id("shop-status")).to_contain_text("awaiting approval by staff")

    _approve_as_staff(browser, base, "Nora Knits")

    page.reload()
    expect(page.get_by_test_id("shop-status")).to_contain_text("approved")

    page.get_by_role("link", name="Add a product").click()
    expect(page.get_by_role("heading", name="New product")).to_be_visible()
    page.get_by_label("Title").fill("Merino beanie")
    page.get_by_label("Description").fill("A **warm** beanie.")
    page.get_by_label("Status").select_option("active")
    page.get_by_label("Option 1 name").fill("Size")
    _fill_variant(page, 1, size="S", sku="BEANIE-S", price="24.00", stock="5")
    page.get_by_role("button", name="Add variant").click()
    _fill_variant(page, 2, size="M", sku="BEANIE-M", price="26.50", stock="8")
    page.get_by_role("button", name="Create product").click()

    expect(page.get_by_role("heading", name="Merino beanie")).to_be_visible()
    expect(page.get_by_text("Product created")).to_be_visible()
    page.get_by_label("Add images").set_input_files(_pictures(tmp_path))
    page.get_by_role("button", name="Upload images").click()
    expect(page.get_by_text("3 images added.")).to_be_visible()
    expect(page.get_by_test_id("image-item")).to_have_count(3)

    # Count the shelf in place: htmx swaps the row, the page stays.
    small = page.locator("#stock .stock-row", has_text="BEANIE-S")
    small.get_by_label(re.compile("^In stock")).fill("-1")
    small.get_by_role("button", name=re.compile("^Save")).click()
    expect(
        page.locator("#stock .stock-row", has_text="BEANIE-S").get_by_role("alert")
    ).to_contain_text("greater than or equal to 0")
    small = page.locator("#stock .stock-row", has_text="BEANIE-S")
    small.get_by_label(re.compile("^In stock")).fill("7")
    small.get_by_role("button", name=re.compile("^Save")).click()
    expect(
        page.locator("#stock .stock-row", has_text="BEANIE-S").get_by_role("status")
    ).to_have_text("Saved")

    shop = Shop.objects.get(handle="noraknits")
    assert shop.status == Shop.Status.APPROVED and shop.owner.handle == "nora.knits"
    product = Product.objects.get(shop=shop)
    assert (product.title, product.status, product.price_minor) == (
        "Merino beanie",
        Product.Status.ACTIVE,
        2400,
    )
    assert list(product.variants.values_list("option1", "sku", "price_minor", "stock")) == [
        ("S", "BEANIE-S", 2400, 7),
        ("M", "BEANIE-M", 2650, 8),
    ]
    assert product.images.filter(state=ProductImage.State.READY).count() == 3
    assert list(product.images.values_list("position", flat=True)) == [1, 2, 3]
