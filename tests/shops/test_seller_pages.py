"""The merchant center (/seller/) through HTTP: what each page shows, what each form
changes, that bad input changes nothing, and that only the owner reaches anything."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from shops import services
from shops.models import Category, Product, ProductImage, Shop, Variant
from tests.factories import ShopFactory, UserFactory, make_product, png_bytes

pytestmark = pytest.mark.django_db


# --- helpers --------------------------------------------------------------------------------


def png(name="photo.png", width=64, height=48, color="#ff2d55"):
    return SimpleUploadedFile(name, png_bytes(width, height, color), content_type="image/png")


def snapshot():
    """Every catalog row as plain values: compared before and after a refused request."""
    return (
        list(Shop.objects.order_by("pk").values()),
        list(Product.objects.order_by("pk").values()),
        list(Variant.objects.order_by("pk").values()),
        list(ProductImage.objects.order_by("pk").values()),
    )


def media_files(settings):
    root = settings.MEDIA_ROOT
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
    )


def product_data(variants, *, initial=0, **fields):
    """The POST body of the product form with its variants formset."""
    data = {
        "title": "Linen shirt",
        "description": "",
        "category": "",
        "tags": "",
        "status": "active",
        "affiliate_percent": "0",
        "external_url": "",
        "option1_name": "Size",
        "option2_name": "",
        "option3_name": "",
        "variants-TOTAL_FORMS": str(len(variants)),
        "variants-INITIAL_FORMS": str(initial),
        "variants-MIN_NUM_FORMS": "1",
        "variants-MAX_NUM_FORMS": "100",
    }
    data.update(fields)
    defaults = {
        "id": "",
        "option1": "",
        "option2": "",
        "option3": "",
        "sku": "",
        "price": "",
        "compare_at": "",
        "stock": "0",
        "grams": "0",
    }
    for index, variant in enumerate(variants):
        for key, value in {**defaults, **variant}.items():
            data[f"variants-{index}-{key}"] = value
    return data


def edit_data(product, rows=None, **fields):
    """The product form as the edit page posts it: the existing rows (without stock, which
    is set on its own), or the given rows, existing ones first."""
    existing = list(product.variants.order_by("position", "pk"))
    if rows is None:
        rows = [
            {
                "id": str(v.pk),
                "option1": v.option1,
                "sku": v.sku,
                "price": f"{v.price_minor / 100:.2f}",
            }
            for v in existing
        ]
    fields = {
        "title": product.title,
        "status": product.status,
        "option1_name": product.option1_name,
        **fields,
    }
    data = product_data(rows, initial=len(existing), **fields)
    for index in range(len(existing)):
        del data[f"variants-{index}-stock"]
    return data


@pytest.fixture
def tee(shop):
    return make_product(
        shop,
        "Tee",
        option1_name="Size",
        variants=[
            {"option1": "S", "sku": "TEE-S", "price_minor": 1999, "stock": 3},
            {"option1": "M", "sku": "TEE-M", "price_minor": 2099, "stock": 12},
        ],
    )


@pytest.fixture
def tee_image(tee, merchant):
    return services.product_image_add(product=tee, actor=merchant, upload=png("a.png"))


@pytest.fixture
def intruder(db):
    """Another merchant with a shop of their own."""
    return ShopFactory(
        handle="intruder", owner=UserFactory(handle="intruder", is_business=True)
    ).owner


# --- the shop -------------------------------------------------------------------------------


def test_personal_account_is_offered_the_switch(client, viewer):
    client.force_login(viewer)
    response = client.get(reverse("seller:home"))
    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("accounts:account_type") in body
    assert 'name="account_type" value="business"' in body
    assert 'data-testid="open-shop"' not in body

    client.post(reverse("accounts:account_type"), {"account_type": "business"})
    viewer.refresh_from_db()
    assert viewer.is_business
    assert 'data-testid="open-shop"' in client.get(reverse("seller:home")).content.decode()


def test_merchant_opens_a_shop_with_a_logo(client, merchant):
    client.force_login(merchant)
    assert "Open your shop" in client.get(reverse("seller:home")).content.decode()
    response = client.post(
        reverse("seller:shop_open"),
        {
            "name": "Max Goods",
            "handle": "MaxGoods",
            "description": "Linen.",
            "return_policy": "30 days.",
            "logo": png("logo.png", 300, 200),
        },
    )
    assert response.status_code == 302
    shop = Shop.objects.get(owner=merchant)
    assert (shop.name, shop.handle, shop.status, shop.return_policy) == (
        "Max Goods",
        "maxgoods",
        "pending",
        "30 days.",
    )
    assert shop.logo.name.endswith(".webp")
    body = client.get(reverse("seller:home")).content.decode()
    assert "awaiting approval by staff" in body


def test_open_shop_refuses_a_taken_handle(client, merchant, shop):
    other = UserFactory(is_business=True)
    client.force_login(other)
    before = snapshot()
    response = client.post(reverse("seller:shop_open"), {"name": "Copy", "handle": "MAXSHOP"})
    assert response.status_code == 400
    assert "That shop handle is taken." in response.content.decode()
    assert snapshot() == before


def test_open_shop_refuses_a_fake_logo(client, merchant):
    client.force_login(merchant)
    fake = SimpleUploadedFile("logo.jpg", b"just some text", content_type="image/jpeg")
    response = client.post(
        reverse("seller:shop_open"), {"name": "Max", "handle": "maxgoods", "logo": fake}
    )
    assert response.status_code == 400
    assert "The file is not a valid image." in response.content.decode()
    assert not Shop.objects.exists()


def test_personal_account_cannot_open_a_shop_by_posting(client, viewer):
    client.force_login(viewer)
    response = client.post(reverse("seller:shop_open"), {"name": "V", "handle": "vshop"})
    assert response.status_code == 302
    assert not Shop.objects.exists()


@pytest.mark.parametrize(
    ("status", "reason", "text"),
    [
        ("pending", "", "awaiting approval by staff"),
        ("approved", "", "approved and public"),
        ("rejected", "Logo is blurry", "Logo is blurry"),
        ("suspended", "Counterfeits", "Counterfeits"),
    ],
)
def test_home_shows_the_shop_status(client, merchant, shop, status, reason, text):
    Shop.objects.filter(pk=shop.pk).update(status=status, status_reason=reason)
    client.force_login(merchant)
    response = client.get(reverse("seller:home"))
    assert response.status_code == 200
    assert text in response.content.decode()


def test_home_counts_products_and_low_stock(client, merchant, shop, tee):
    make_product(shop, "Cap", price_minor=900, stock=50)
    client.force_login(merchant)
    body = client.get(reverse("seller:home")).content.decode()
    assert "<strong>2</strong> products" in body
    assert "<strong>1</strong> variant low on stock" in body  # the S tee, 3 left


def test_shop_settings_are_saved(client, merchant, shop):
    client.force_login(merchant)
    response = client.post(
        reverse("seller:shop_settings"),
        {
            "name": "Max Linen",
            "description": "New.",
            "return_policy": "14 days.",
            "logo": png("logo.png"),
        },
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.name, shop.description, shop.return_policy) == ("Max Linen", "New.", "14 days.")
    assert shop.logo


def test_rejected_shop_goes_back_to_the_queue_when_saved(client, merchant, staff):
    shop = services.shop_open(owner=merchant, name="Max", handle="maxgoods")
    services.shop_reject(shop_id=shop.pk, actor=staff, reason="Add a return policy")
    client.force_login(merchant)
    assert "Add a return policy" in client.get(reverse("seller:home")).content.decode()
    client.post(reverse("seller:shop_settings"), {"name": "Max", "return_policy": "30 days."})
    shop.refresh_from_db()
    assert shop.status == "pending"


def test_shop_settings_refuse_a_fake_logo(client, merchant, shop):
    client.force_login(merchant)
    before = snapshot()
    fake = SimpleUploadedFile("logo.jpg", b"not an image", content_type="image/jpeg")
    response = client.post(reverse("seller:shop_settings"), {"name": "Renamed", "logo": fake})
    assert response.status_code == 400
    assert "The file is not a valid image." in response.content.decode()
    assert snapshot() == before


def test_seller_pages_need_login(client):
    for name in ("seller:home", "seller:products", "seller:low_stock", "seller:product_new"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))


def test_lists_send_a_shopless_account_home(client, viewer):
    client.force_login(viewer)
    for name in ("seller:products", "seller:low_stock", "seller:product_new"):
        assert client.get(reverse(name)).url == reverse("seller:home")


# --- the products list ----------------------------------------------------------------------


def test_products_list_shows_each_product(client, merchant, shop, tee, tee_image):
    client.force_login(merchant)
    response = client.get(reverse("seller:products"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Tee" in body
    assert "from $19.99" in body
    assert "15 in stock · low" in body
    assert "2 variants" in body
    assert tee_image.thumb.url in body
    assert reverse("seller:product_edit", args=[tee.pk]) in body


def test_products_list_filters(client, merchant, shop, tee):
    make_product(shop, "Linen cap", price_minor=900, stock=50, status="draft")
    make_product(shop, "Old scarf", price_minor=500, stock=40, status="archived")
    client.force_login(merchant)

    def titles(**params):
        response = client.get(reverse("seller:products"), params)
        return {row.product.title for row in response.context["rows"]}

    assert titles() == {"Tee", "Linen cap", "Old scarf"}
    assert titles(q="linen") == {"Linen cap"}
    assert titles(status="draft") == {"Linen cap"}
    assert titles(status="archived") == {"Old scarf"}
    assert titles(low_stock="1") == {"Tee"}
    assert titles(q="scarf", status="active") == set()


def test_products_list_is_paginated(client, merchant, shop):
    Product.objects.bulk_create(
        Product(shop=shop, handle=f"p{i}", title=f"Product {i}", price_minor=100) for i in range(51)
    )
    client.force_login(merchant)
    first = client.get(reverse("seller:products"))
    assert len(first.context["rows"]) == 50
    assert "Page 1 of 2" in first.content.decode()
    assert len(client.get(reverse("seller:products"), {"page": 2}).context["rows"]) == 1


def _catalog(shop, merchant, count):
    for i in range(count):
        product = make_product(
            shop,
            f"Product {i}",
            option1_name="Size",
            variants=[
                {"option1": "S", "price_minor": 1000 + i, "stock": i % 5},
                {"option1": "M", "price_minor": 1100 + i, "stock": 20},
            ],
        )
        services.product_image_add(product=product, actor=merchant, upload=png(f"{i}.png", 8, 8))


@pytest.mark.parametrize("count", [3, 30])
def test_products_list_queries_are_constant(
    client, merchant, shop, count, django_assert_max_num_queries
):
    _catalog(shop, merchant, count)
    client.force_login(merchant)
    # session, user, unread notifications, shop, count, products, images, variants
    with django_assert_max_num_queries(8):
        response = client.get(reverse("seller:products"), {"low_stock": "1", "q": "product"})
    assert len(response.context["rows"]) == count


@pytest.mark.parametrize("count", [3, 30])
def test_low_stock_queries_are_constant(
    client, merchant, shop, count, django_assert_max_num_queries
):
    _catalog(shop, merchant, count)
    client.force_login(merchant)
    # session, user, unread notifications, shop, count, variants
    with django_assert_max_num_queries(6):
        response = client.get(reverse("seller:low_stock"))
    assert len(response.context["page"].object_list) == count  # the S of each product


def test_low_stock_lists_only_low_variants(client, merchant, shop, tee):
    archived = make_product(shop, "Old", price_minor=100, stock=0, status="archived")
    client.force_login(merchant)
    response = client.get(reverse("seller:low_stock"))
    variants = list(response.context["page"].object_list)
    assert [v.sku for v in variants] == ["TEE-S"]
    assert archived.variants.get() not in variants
    assert 'hx-post="{}"'.format(reverse("seller:variant_stock", args=[variants[0].pk])) in (
        response.content.decode()
    )


# --- creating and editing products ----------------------------------------------------------


def test_create_product_with_two_variants(client, merchant, shop):
    category = Category.objects.create(name="Shirts", slug="shirts")
    client.force_login(merchant)
    assert client.get(reverse("seller:product_new")).status_code == 200
    response = client.post(
        reverse("seller:product_new"),
        product_data(
            [
                {
                    "option1": "S",
                    "sku": "SH-S",
                    "price": "19.99",
                    "compare_at": "25",
                    "stock": "4",
                    "grams": "180",
                },
                {"option1": "M", "sku": "SH-M", "price": "21.50", "stock": "9"},
            ],
            description="**Soft** linen.",
            category=str(category.pk),
            tags="linen, summer",
            affiliate_percent="12.5",
            external_url="",
        ),
    )
    product = Product.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("seller:product_edit", args=[product.pk])
    assert (product.title, product.status, product.category, product.affiliate_rate_bp) == (
        "Linen shirt",
        "active",
        category,
        1250,
    )
    assert product.price_minor == 1999
    assert "<strong>Soft</strong>" in product.description_html
    rows = list(
        product.variants.values_list(
            "option1", "sku", "price_minor", "compare_at_minor", "stock", "grams"
        )
    )
    assert rows == [("S", "SH-S", 1999, 2500, 4, 180), ("M", "SH-M", 2150, None, 9, 0)]


def test_create_product_without_options(client, merchant, shop):
    client.force_login(merchant)
    client.post(
        reverse("seller:product_new"),
        product_data([{"price": "5", "stock": "2"}], option1_name="", title="Sticker"),
    )
    variant = Variant.objects.get(product__title="Sticker")
    assert (variant.title, variant.price_minor, variant.stock) == ("Default", 500, 2)


@pytest.mark.parametrize(
    ("variants", "fields", "message"),
    [
        ([{"option1": "S", "price": "abc"}], {}, "&#x27;abc&#x27; is not a price"),
        ([{"option1": "S", "price": "-3"}], {}, "A price cannot be negative."),
        ([{"option1": "S", "price": "1.999"}], {}, "has more than 2 decimals"),
        (
            [{"option1": "S", "price": "3", "stock": "-1"}],
            {},
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            [
                {"option1": "S", "price": "3", "sku": "X"},
                {"option1": "M", "price": "3", "sku": "X"},
            ],
            {},
            "The SKU &#x27;X&#x27; is used twice in this product.",
        ),
        (
            [{"option1": "S", "price": "3"}, {"option1": "S", "price": "4"}],
            {},
            "Two variants cannot have the same options.",
        ),
        (
            [{"price": "3"}, {"price": "4"}],
            {"option1_name": ""},
            "Name an option (like Size) to sell more than one variant.",
        ),
        ([{"option1": "", "price": "3"}], {}, "Give this variant a Size."),
        (
            [{"option1": "S", "price": "3"}],
            {"affiliate_percent": "51"},
            "Ensure this value is less than or equal to 50.",
        ),
        ([{"option1": "S", "price": "3"}], {"title": ""}, "This field is required."),
        (
            [{"option1": "S", "price": "3"}],
            {"option2_name": "", "option3_name": "Fit"},
            "Name option 2 first.",
        ),
    ],
)
def test_create_product_refuses_bad_input(client, merchant, shop, variants, fields, message):
    client.force_login(merchant)
    before = snapshot()
    response = client.post(reverse("seller:product_new"), product_data(variants, **fields))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_create_product_refuses_a_sku_of_another_product(client, merchant, shop, tee):
    client.force_login(merchant)
    before = snapshot()
    response = client.post(
        reverse("seller:product_new"),
        product_data(
            [
                {"option1": "S", "sku": "NEW-S", "price": "3"},
                {"option1": "M", "sku": "TEE-M", "price": "3"},
            ]
        ),
    )
    assert response.status_code == 400
    formset = response.context["formset"]
    assert formset.forms[1].errors["sku"] == ["The SKU 'TEE-M' is already used in this shop."]
    assert not formset.forms[0].errors
    assert snapshot() == before


def test_same_sku_in_another_shop_is_fine(client, merchant, shop, rival_shop):
    make_product(rival_shop, "Rival tee", variants=[{"sku": "TEE-S", "price_minor": 100}])
    client.force_login(merchant)
    response = client.post(
        reverse("seller:product_new"),
        product_data([{"option1": "S", "sku": "TEE-S", "price": "3"}]),
    )
    assert response.status_code == 302


def test_edit_page_shows_the_product(client, merchant, shop, tee, tee_image):
    client.force_login(merchant)
    response = client.get(reverse("seller:product_edit", args=[tee.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="19.99"' in body and 'value="TEE-M"' in body
    assert tee_image.thumb.url in body
    assert 'type="file" name="images"' in body and "multiple" in body
    for variant in tee.variants.all():
        assert reverse("seller:variant_stock", args=[variant.pk]) in body


def test_edit_product_updates_rows_and_adds_one(client, merchant, shop, tee):
    client.force_login(merchant)
    small, medium = tee.variants.order_by("position")
    data = edit_data(
        tee,
        rows=[
            {"id": str(small.pk), "option1": "S", "sku": "TEE-S", "price": "17.00"},
            {
                "id": str(medium.pk),
                "option1": "M",
                "sku": "TEE-M",
                "price": "20.99",
                "compare_at": "30",
            },
            {"option1": "L", "sku": "TEE-L", "price": "22", "stock": "6"},
        ],
        title="Linen tee",
        affiliate_percent="5",
    )
    response = client.post(reverse("seller:product_edit", args=[tee.pk]), data)
    assert response.status_code == 302
    tee.refresh_from_db()
    assert (tee.title, tee.affiliate_rate_bp, tee.price_minor) == ("Linen tee", 500, 1700)
    rows = list(
        tee.variants.values_list("option1", "sku", "price_minor", "compare_at_minor", "stock")
    )
    # Stock of existing rows is not part of the product form: it stays as it was.
    assert rows == [
        ("S", "TEE-S", 1700, None, 3),
        ("M", "TEE-M", 2099, 3000, 12),
        ("L", "TEE-L", 2200, None, 6),
    ]


def test_edit_product_refuses_a_sku_of_another_product_and_changes_nothing(
    client, merchant, shop, tee
):
    make_product(shop, "Cap", variants=[{"sku": "CAP", "price_minor": 900}])
    client.force_login(merchant)
    small, medium = tee.variants.order_by("position")
    before = snapshot()
    data = edit_data(
        tee,
        rows=[
            {"id": str(small.pk), "option1": "S", "sku": "TEE-S", "price": "1.00"},
            {"id": str(medium.pk), "option1": "M", "sku": "CAP", "price": "2.00"},
        ],
        title="Renamed",
    )
    response = client.post(reverse("seller:product_edit", args=[tee.pk]), data)
    assert response.status_code == 400
    formset = response.context["formset"]
    assert formset.forms[1].errors["sku"] == ["The SKU 'CAP' is already used in this shop."]
    # The title and the first row were saved before the SKU was refused: rolled back too.
    assert snapshot() == before
    assert "<h1>Tee</h1>" in response.content.decode()


@pytest.mark.parametrize(
    ("price", "message"),
    [("-1", "A price cannot be negative."), ("abc", "&#x27;abc&#x27; is not a price")],
)
def test_edit_product_refuses_a_bad_price(client, merchant, shop, tee, price, message):
    client.force_login(merchant)
    small, medium = tee.variants.order_by("position")
    before = snapshot()
    data = edit_data(
        tee,
        rows=[
            {"id": str(small.pk), "option1": "S", "sku": "TEE-S", "price": price},
            {"id": str(medium.pk), "option1": "M", "sku": "TEE-M", "price": "20.99"},
        ],
    )
    response = client.post(reverse("seller:product_edit", args=[tee.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_edit_product_refuses_a_variant_of_another_product(client, merchant, shop, tee):
    cap = make_product(shop, "Cap", variants=[{"sku": "CAP", "price_minor": 900}])
    client.force_login(merchant)
    before = snapshot()
    small, _ = tee.variants.order_by("position")
    data = edit_data(
        tee,
        rows=[
            {"id": str(small.pk), "option1": "S", "sku": "TEE-S", "price": "1"},
            {"id": str(cap.variants.get().pk), "option1": "M", "sku": "CAP", "price": "1"},
        ],
    )
    response = client.post(reverse("seller:product_edit", args=[tee.pk]), data)
    assert response.status_code == 400
    assert "This variant was removed meanwhile" in response.content.decode()
    assert snapshot() == before


# --- images ---------------------------------------------------------------------------------


def upload(client, product, *files):
    return client.post(reverse("seller:product_images", args=[product.pk]), {"images": list(files)})


def test_upload_several_images(client, merchant, shop, tee, settings):
    client.force_login(merchant)
    response = upload(client, tee, png("a.png"), png("b.png", color="#00ff00"), png("c.png"))
    assert response.status_code == 302
    images = list(tee.images.all())
    assert [(i.position, i.state) for i in images] == [(1, "ready"), (2, "ready"), (3, "ready")]
    assert all(i.large and i.medium and i.thumb for i in images)
    body = client.get(reverse("seller:product_edit", args=[tee.pk])).content.decode()
    assert body.count('data-testid="image-item"') == 3


def _text_as_jpeg():
    return SimpleUploadedFile("photo.jpg", b"hello, I am text\n" * 50, content_type="image/jpeg")


def _fifty_megapixels():
    # Mode "1" (one bit a pixel, all zero) compresses to a few kilobytes: the header says
    # 8000×6250, which is what the check reads before decoding anything.
    buffer = io.BytesIO()
    Image.new("1", (8000, 6250)).save(buffer, format="PNG")
    return SimpleUploadedFile("huge.png", buffer.getvalue(), content_type="image/png")


def _twelve_megabytes():
    return SimpleUploadedFile("big.png", os.urandom(12 * 1024 * 1024), content_type="image/png")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_text_as_jpeg, "The file is not a valid image."),
        (_fifty_megapixels, "Images can have at most 40 megapixels."),
        (_twelve_megabytes, "Images can be at most 10 MB."),
    ],
)
def test_upload_refuses_a_bad_file(client, merchant, shop, tee, settings, make, message):
    client.force_login(merchant)
    before, files_before = snapshot(), media_files(settings)
    response = upload(client, tee, make())
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before
    assert media_files(settings) == files_before


def test_upload_with_one_bad_file_adds_nothing(
    client, merchant, shop, tee, settings, django_capture_on_commit_callbacks
):
    client.force_login(merchant)
    before, files_before = snapshot(), media_files(settings)
    # Files of deleted images go on commit, which the test's transaction never reaches.
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, tee, png("good1.png"), png("good2.png"), _text_as_jpeg())
    assert response.status_code == 400
    assert "photo.jpg: The file is not a valid image. Nothing was added." in (
        response.content.decode()
    )
    # The two good files were added first, then taken back with their files.
    assert snapshot() == before
    assert media_files(settings) == files_before


def test_upload_stops_at_the_image_limit(client, merchant, shop, tee, settings):
    settings.PRODUCT_MAX_IMAGES = 2
    client.force_login(merchant)
    upload(client, tee, png("a.png"))
    before = snapshot()
    response = upload(client, tee, png("b.png"), png("c.png"))
    assert response.status_code == 400
    assert "holds at most 2 images (1 already)" in response.content.decode()
    assert snapshot() == before


def test_delete_an_image(
    client, merchant, shop, tee, tee_image, settings, django_capture_on_commit_callbacks
):
    client.force_login(merchant)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("seller:product_image_delete", args=[tee_image.pk]))
    assert response.status_code == 302
    assert not ProductImage.objects.exists()
    assert not [f for f in media_files(settings) if f.startswith("products")]


def test_move_images_up_and_down(client, merchant, shop, tee):
    first, second, third = (
        services.product_image_add(product=tee, actor=merchant, upload=png(f"{n}.png"))
        for n in "abc"
    )
    client.force_login(merchant)

    def order():
        return list(tee.images.values_list("pk", flat=True))

    client.post(reverse("seller:product_image_move", args=[third.pk]), {"direction": "up"})
    assert order() == [first.pk, third.pk, second.pk]
    client.post(reverse("seller:product_image_move", args=[first.pk]), {"direction": "down"})
    assert order() == [third.pk, first.pk, second.pk]
    # At either end there is nowhere to go: nothing changes.
    client.post(reverse("seller:product_image_move", args=[third.pk]), {"direction": "up"})
    client.post(reverse("seller:product_image_move", args=[second.pk]), {"direction": "down"})
    assert order() == [third.pk, first.pk, second.pk]
    body = client.get(reverse("seller:product_edit", args=[tee.pk])).content.decode()
    assert body.index(third.thumb.url) < body.index(first.thumb.url) < body.index(second.thumb.url)


# --- stock and variants ---------------------------------------------------------------------


def test_set_stock_with_htmx(client, merchant, shop, tee):
    variant = tee.variants.get(sku="TEE-S")
    client.force_login(merchant)
    response = client.post(
        reverse("seller:variant_stock", args=[variant.pk]), {"stock": "40"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div class="stock-row')  # the row alone, no page
    assert 'value="40"' in body and "Saved" in body
    variant.refresh_from_db()
    assert variant.stock == 40


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-2", "Ensure this value is greater than or equal to 0."),
        ("1.5", "Enter a whole number."),
        ("abc", "Enter a whole number."),
        ("", "This field is required."),
    ],
)
def test_set_stock_refuses_bad_numbers(client, merchant, shop, tee, value, message):
    variant = tee.variants.get(sku="TEE-S")
    client.force_login(merchant)
    before = snapshot()
    response = client.post(
        reverse("seller:variant_stock", args=[variant.pk]), {"stock": value}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body
    assert 'aria-invalid="true"' in body
    assert snapshot() == before


def test_set_stock_without_htmx_goes_back(client, merchant, shop, tee):
    variant = tee.variants.get(sku="TEE-S")
    client.force_login(merchant)
    response = client.post(
        reverse("seller:variant_stock", args=[variant.pk]),
        {"stock": "8", "next": reverse("seller:low_stock")},
    )
    assert response.url == reverse("seller:low_stock")
    variant.refresh_from_db()
    assert variant.stock == 8
    # An address elsewhere is not followed.
    response = client.post(
        reverse("seller:variant_stock", args=[variant.pk]),
        {"stock": "9", "next": "https://evil.example/"},
    )
    assert response.url == reverse("seller:product_edit", args=[tee.pk]) + "#stock"


def test_delete_a_variant_but_not_the_last(client, merchant, shop, tee):
    small, medium = tee.variants.order_by("position")
    client.force_login(merchant)
    response = client.post(reverse("seller:variant_delete", args=[small.pk]))
    assert response.status_code == 302
    assert list(tee.variants.all()) == [medium]
    tee.refresh_from_db()
    assert tee.price_minor == 2099

    edit_url = reverse("seller:product_edit", args=[tee.pk])
    response = client.post(
        reverse("seller:variant_delete", args=[medium.pk]),
        HTTP_REFERER="http://testserver" + edit_url,
        follow=True,
    )
    assert response.redirect_chain == [("http://testserver" + edit_url, 302)]
    assert "A product keeps at least one variant." in response.content.decode()
    assert list(tee.variants.all()) == [medium]


# --- only the owner reaches anything --------------------------------------------------------


def _write_routes(tee, tee_image):
    small = tee.variants.get(sku="TEE-S")
    return {
        "shop_settings": (reverse("seller:shop_settings"), {"name": "Hacked"}),
        "product_new": (
            reverse("seller:product_new"),
            product_data([{"option1": "S", "sku": "TEE-S-2", "price": "1"}], title="Planted"),
        ),
        "product_edit": (
            reverse("seller:product_edit", args=[tee.pk]),
            edit_data(tee, title="Hacked"),
        ),
        "product_images": (
            reverse("seller:product_images", args=[tee.pk]),
            {"images": [png("x.png")]},
        ),
        "product_image_delete": (reverse("seller:product_image_delete", args=[tee_image.pk]), {}),
        "product_image_move": (
            reverse("seller:product_image_move", args=[tee_image.pk]),
            {"direction": "down"},
        ),
        "variant_stock": (reverse("seller:variant_stock", args=[small.pk]), {"stock": "0"}),
        "variant_delete": (reverse("seller:variant_delete", args=[small.pk]), {}),
    }


ROUTES = [
    "shop_settings",
    "product_new",
    "product_edit",
    "product_images",
    "product_image_delete",
    "product_image_move",
    "variant_stock",
    "variant_delete",
]
# Routes that name no row act on the caller's own shop: another merchant just changes
# theirs. Every route that names a row is a 404 for anyone but its owner.
ROUTES_WITH_IDS = ROUTES[2:]


@pytest.fixture
def victim(shop, tee, tee_image):
    # A second image, so that moving one would change something.
    services.product_image_add(product=tee, actor=shop.owner, upload=png("b.png"))
    return _write_routes(tee, tee_image)


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_writes_go_to_log_in(client, victim, route):
    url, data = victim[route]
    before = snapshot()
    response = client.post(url, data)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert snapshot() == before


@pytest.mark.parametrize("route", ROUTES)
def test_a_viewer_gets_404_for_every_write(client, viewer, victim, route):
    client.force_login(viewer)
    url, data = victim[route]
    before = snapshot()
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("route", ROUTES_WITH_IDS)
def test_another_merchant_gets_404_for_every_row(client, intruder, victim, route):
    client.force_login(intruder)
    url, data = victim[route]
    before = snapshot()
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("route", ["shop_settings", "product_new"])
def test_another_merchant_only_changes_their_own_shop(client, shop, intruder, victim, route):
    client.force_login(intruder)
    url, data = victim[route]
    mine = (
        list(Shop.objects.filter(pk=shop.pk).values()),
        list(Product.objects.filter(shop=shop).values()),
        list(Variant.objects.filter(shop=shop).values()),
    )
    response = client.post(url, data)
    assert response.status_code == 302
    assert mine == (
        list(Shop.objects.filter(pk=shop.pk).values()),
        list(Product.objects.filter(shop=shop).values()),
        list(Variant.objects.filter(shop=shop).values()),
    )
    changed = Shop.objects.get(owner=intruder)
    if route == "shop_settings":
        assert changed.name == "Hacked"
    else:
        assert Product.objects.get(title="Planted").shop == changed


def test_another_merchants_product_page_is_404(client, intruder, tee):
    client.force_login(intruder)
    assert client.get(reverse("seller:product_edit", args=[tee.pk])).status_code == 404
