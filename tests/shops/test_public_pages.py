import pytest

from shops.models import Product, ProductImage
from tests.factories import ShopFactory, make_product

pytestmark = pytest.mark.django_db


def test_profile_shows_the_shop_tab_with_products(client, shop):
    make_product(shop, "Linen shirt", sku="A")
    make_product(shop, "Hidden draft", sku="B", status="draft")
    body = client.get(f"/@{shop.owner.handle}").content.decode()
    assert 'data-testid="shop-tab"' in body
    assert "Linen shirt" in body and "Hidden draft" not in body


def test_pending_shop_is_not_public(client):
    shop = ShopFactory(status="pending")
    product = make_product(shop, sku="P")
    assert 'data-testid="shop-tab"' not in client.get(f"/@{shop.owner.handle}").content.decode()
    assert client.get(f"/shop/{shop.handle}").status_code == 404
    assert client.get(f"/products/{product.pk}").status_code == 404


def test_shop_and_product_pages(client, shop):
    product = make_product(
        shop,
        "Linen shirt",
        option1_name="Size",
        description="## Soft\n\nLinen.",
        variants=[
            {"option1": "S", "price_minor": 2000, "stock": 0},
            {"option1": "M", "price_minor": 2200, "stock": 3},
        ],
    )
    assert "Linen shirt" in client.get(f"/shop/{shop.handle}").content.decode()
    body = client.get(f"/products/{product.pk}").content.decode()
    assert "$20.00" in body and "3 left" in body and "Sold out" in body
    assert "<h2>Soft</h2>" in body


def test_chat_like_text_in_products_is_escaped(client, shop):
    product = make_product(shop, "<script>alert(1)</script>", sku="X")
    body = client.get(f"/products/{product.pk}").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_external_link_counts_the_click(client, shop):
    product = make_product(shop, external_url="https://max.example/p/1", sku="E")
    response = client.get(f"/products/{product.pk}/out")
    assert response.status_code == 302 and response.url == "https://max.example/p/1"
    assert Product.objects.get(pk=product.pk).external_clicks == 1
    plain = make_product(shop, "Plain", sku="F")
    assert client.get(f"/products/{plain.pk}/out").status_code == 404


def test_search_page_filters(client, shop):
    make_product(shop, "Linen shirt", sku="A", price_minor=3000)
    make_product(shop, "Mug", sku="B", price_minor=1000)
    body = client.get("/products/", {"q": "linen"}).content.decode()
    assert "Linen shirt" in body and "Mug" not in body
    body = client.get("/products/", {"max": "15.00"}).content.decode()
    assert "Mug" in body and "Linen shirt" not in body
    response = client.get("/products/", {"min": "abc"})
    assert "is not a price" in response.content.decode()


def test_pages_use_constant_queries(client, shop, django_assert_max_num_queries):
    for n in range(30):
        product = make_product(shop, f"Item {n}", sku=f"S{n}")
        ProductImage.objects.create(
            product=product,
            medium="products/x.webp",
            large="products/x.webp",
            thumb="products/x.webp",
        )
    with django_assert_max_num_queries(8):
        assert client.get(f"/shop/{shop.handle}").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(f"/@{shop.owner.handle}").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/products/", {"q": "item"}).status_code == 200
