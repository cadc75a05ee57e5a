import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shops.models import Product, ProductImage, Shop, Variant
from tests.factories import ShopFactory, UserFactory, make_product, png_bytes

pytestmark = pytest.mark.django_db


def _error(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def _snapshot(shop=None):
    """Everything of one shop (or of all shops) that a write could change."""
    products = Product.objects.filter(**({"shop": shop} if shop else {}))
    variants = Variant.objects.filter(**({"shop": shop} if shop else {}))
    images = ProductImage.objects.filter(**({"product__shop": shop} if shop else {}))
    shops = Shop.objects.filter(**({"pk": shop.pk} if shop else {}))
    return (
        list(products.order_by("pk").values_list("pk", "title", "status", "price_minor")),
        list(variants.order_by("pk").values_list("pk", "sku", "price_minor", "stock")),
        list(images.order_by("pk").values_list("pk", "position")),
        list(shops.order_by("pk").values_list("pk", "name", "status")),
    )


# --- reading ---------------------------------------------------------------------------------


def test_product_list_carries_variants_stock_and_images(api_client, shop):
    product = make_product(
        shop,
        option1_name="Size",
        variants=[
            {"option1": "S", "sku": "S", "price_minor": 1500, "stock": 2},
            {"option1": "M", "sku": "M", "price_minor": 1700, "stock": 0},
        ],
    )
    response = api_client.get("/api/v1/products/")
    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item["id"] == product.pk
    assert item["price"] == 1500 and item["currency"] == "USD"
    assert [(v["title"], v["stock"], v["price"]) for v in item["variants"]] == [
        ("S", 2, 1500),
        ("M", 0, 1700),
    ]
    assert item["images"] == []


def test_lists_use_constant_queries(api_client, shop, django_assert_max_num_queries):
    for n in range(25):
        make_product(shop, f"Item {n}", sku=f"I{n}")
    with django_assert_max_num_queries(5):
        assert len(api_client.get("/api/v1/products/").json()["results"]) == 24
    with django_assert_max_num_queries(3):
        api_client.get("/api/v1/shops/")
    api_client.force_authenticate(shop.owner)
    with django_assert_max_num_queries(7):
        api_client.get("/api/v1/seller/products/")


def test_hidden_products_are_not_listed(api_client, shop, merchant):
    make_product(shop, "Draft", status="draft", sku="D")
    pending = ShopFactory(status="pending")
    make_product(pending, "Pending shop's", sku="P")
    assert api_client.get("/api/v1/products/").json()["results"] == []
    draft = Product.objects.get(title="Draft")
    assert api_client.get(f"/api/v1/products/{draft.pk}/").status_code == 404
    # The owner sees their own draft.
    api_client.force_authenticate(merchant)
    assert api_client.get(f"/api/v1/products/{draft.pk}/").status_code == 200


def test_search_and_filters(api_client, shop, rival_shop):
    make_product(
        shop,
        "Linen shirt",
        description="Breathable summer linen.",
        sku="A",
        price_minor=3000,
        tags="summer",
    )
    make_product(shop, "Ceramic mug", description="Stoneware, 350 ml.", sku="B", price_minor=1200)
    make_product(rival_shop, "Wool scarf", sku="C", price_minor=2500)

    def titles(**params):
        response = api_client.get("/api/v1/products/", params)
        assert response.status_code == 200, response.content
        return sorted(p["title"] for p in response.json()["results"])

    assert titles(q="linen") == ["Linen shirt"]
    assert titles(q="summer") == ["Linen shirt"]
    assert titles(q="stoneware mug") == ["Ceramic mug"]
    assert titles(shop="rival") == ["Wool scarf"]
    assert titles(min_price=2000) == ["Linen shirt", "Wool scarf"]
    assert titles(max_price=2500, min_price=1300) == ["Wool scarf"]
    assert titles(q="nothing-like-this") == []
    assert _error(api_client.get("/api/v1/products/", {"min_price": "abc"}), 400)["fields"]


# --- writing: the owner ----------------------------------------------------------------------


def test_open_shop_then_create_a_product_with_variants(api_client, merchant):
    api_client.force_authenticate(merchant)
    response = api_client.post("/api/v1/shops/", {"handle": "maxs", "name": "Max"}, format="json")
    assert response.status_code == 201 and response.json()["status"] == "pending"
    response = api_client.post(
        "/api/v1/products/",
        {
            "title": "Tee",
            "status": "active",
            "option1_name": "Size",
            "variants": [
                {"option1": "S", "sku": "T-S", "price": 1000, "stock": 4},
                {"option1": "M", "sku": "T-M", "price": 1100, "stock": 0},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["price"] == 1000 and len(body["variants"]) == 2


def test_owner_edits_stock_price_and_archives(api_client, shop):
    product = make_product(shop, sku="A")
    variant = product.variants.get()
    api_client.force_authenticate(shop.owner)
    response = api_client.patch(
        f"/api/v1/variants/{variant.pk}/", {"stock": 0, "price": 999}, format="json"
    )
    assert response.status_code == 200
    assert Product.objects.get(pk=product.pk).price_minor == 999
    response = api_client.patch(f"/api/v1/products/{product.pk}/", {"title": "New"}, format="json")
    assert response.json()["title"] == "New"
    assert api_client.delete(f"/api/v1/products/{product.pk}/").status_code == 204
    assert Product.objects.get(pk=product.pk).status == "archived"


def test_owner_uploads_an_image(api_client, shop):
    product = make_product(shop)
    api_client.force_authenticate(shop.owner)
    upload = SimpleUploadedFile("a.png", png_bytes(2000, 1500), content_type="image/png")
    response = api_client.post(
        f"/api/v1/products/{product.pk}/images/", {"image": upload}, format="multipart"
    )
    assert response.status_code == 201, response.content
    image = ProductImage.objects.get()
    assert (image.width, image.height) == (1080, 810)
    with image.thumb.open("rb") as f, Image.open(f) as thumb:
        assert thumb.size == (160, 120) and thumb.format == "WEBP"


# --- bad input: a clear error, nothing changed ---------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "X", "price": -5}, "price"),
        ({"title": "X", "variants": [{"price": 100, "stock": -1}]}, "variants"),
        ({"title": "", "price": 100}, "title"),
        ({"title": "X"}, "price"),
        ({"title": "X", "price": "abc"}, "price"),
        ({"title": "X", "price": 100, "affiliate_rate_bp": 6000}, "affiliate_rate_bp"),
        ({"title": "X", "price": 100, "external_url": "javascript:alert(1)"}, "external_url"),
    ],
)
def test_bad_product_input_is_a_400(api_client, shop, payload, field):
    api_client.force_authenticate(shop.owner)
    before = _snapshot()
    error = _error(api_client.post("/api/v1/products/", payload, format="json"), 400)
    assert field in error["fields"]
    assert _snapshot() == before


def test_duplicate_sku_is_a_400(api_client, shop):
    make_product(shop, sku="DUP")
    api_client.force_authenticate(shop.owner)
    before = _snapshot()
    error = _error(
        api_client.post(
            "/api/v1/products/", {"title": "Y", "price": 1, "sku": "DUP"}, format="json"
        ),
        400,
    )
    assert "DUP" in error["message"]
    assert _snapshot() == before


def _big_png(width, height) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.jpg", b"just some text, renamed", "not a valid image"),
        ("huge.png", _big_png(8000, 6250), "at most 40 megapixels"),
        ("big.png", png_bytes(16, 16) + b"\0" * (12 * 1024 * 1024), "at most 10 MB"),
    ],
)
def test_bad_images_are_refused(api_client, shop, name, content, message):
    product = make_product(shop)
    api_client.force_authenticate(shop.owner)
    before = _snapshot()
    upload = SimpleUploadedFile(name, content)
    error = _error(
        api_client.post(
            f"/api/v1/products/{product.pk}/images/", {"image": upload}, format="multipart"
        ),
        400,
    )
    assert message in error["message"]
    assert _snapshot() == before


# --- nobody else writes ------------------------------------------------------------------------


def _write_routes(product, variant, image):
    return [
        ("patch", f"/api/v1/shops/{product.shop.handle}/", {"name": "Taken"}),
        ("post", "/api/v1/products/", {"title": "Sneaky", "price": 1}),
        ("patch", f"/api/v1/products/{product.pk}/", {"title": "Sneaky"}),
        ("delete", f"/api/v1/products/{product.pk}/", None),
        ("post", f"/api/v1/products/{product.pk}/variants/", {"price": 1, "option1": "Z"}),
        ("patch", f"/api/v1/variants/{variant.pk}/", {"stock": 0}),
        ("delete", f"/api/v1/variants/{variant.pk}/", None),
        ("post", f"/api/v1/products/{product.pk}/images/", {"alt": "x"}),
        ("delete", f"/api/v1/images/{image.pk}/", None),
    ]


@pytest.mark.parametrize("who", ["anonymous", "viewer", "other_merchant"])
def test_every_write_route_refuses_anyone_but_the_owner(api_client, shop, who):
    product = make_product(
        shop,
        option1_name="Size",
        variants=[
            {"option1": "S", "price_minor": 100, "stock": 1},
            {"option1": "M", "price_minor": 100, "stock": 1},
        ],
    )
    variant = product.variants.first()
    image = ProductImage.objects.create(
        product=product, state="remote", source_url="https://img.example/a.png"
    )
    if who == "viewer":
        api_client.force_authenticate(UserFactory())
    elif who == "other_merchant":
        api_client.force_authenticate(ShopFactory(handle="other").owner)
    before = _snapshot(shop)
    for method, url, data in _write_routes(product, variant, image):
        response = getattr(api_client, method)(url, data, format="json")
        expected = {401} if who == "anonymous" else {403, 404}
        if who == "other_merchant" and url == "/api/v1/products/":
            expected = {201}  # creates in their own shop, never in this one
        assert response.status_code in expected, (method, url, response.status_code)
    assert _snapshot(shop) == before


@pytest.mark.postgres
def test_search_uses_the_full_text_index(shop):
    from django.db import connection

    from shops.selectors import products_search

    make_product(shop, "Linen shirt", sku="A")
    sql, params = products_search(Product.objects.all(), "linen").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "shops_product_search_gin" in plan, plan
