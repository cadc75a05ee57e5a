"""Exporting the catalog as Shopify's product CSV: its shape, a constant number of queries,
the download and the command, and a round trip that changes nothing."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from shops import services
from shops.catalog_csv import EXPORT_HEADERS, catalog_export, catalog_import
from shops.models import Category, Product, ProductImage, Variant
from tests.factories import make_product, png_bytes
from tests.shops.csvgen import generate_catalog, product_rows, to_csv

pytestmark = pytest.mark.django_db

IMG = "https://cdn.example.com/tee"


def snapshot():
    return (
        list(Category.objects.order_by("pk").values()),
        list(Product.objects.order_by("pk").values()),
        list(Variant.objects.order_by("pk").values()),
        list(ProductImage.objects.order_by("pk").values()),
    )


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def linen_shirt(shop):
    """A product made in Tapbuy: Markdown description, two sizes, an uploaded picture that
    the M variant shows."""
    shirt = make_product(
        shop,
        "Linen shirt",
        description="**Washed** linen.\n\n- breathable\n- relaxed fit",
        tags="linen, summer",
        option1_name="Size",
        variants=[
            {"option1": "S", "sku": "LIN-S", "price_minor": 4500, "stock": 3, "grams": 210},
            {
                "option1": "M",
                "sku": "LIN-M",
                "price_minor": 4700,
                "stock": 0,
                "compare_at_minor": 5200,
                "barcode": "4006381333931",
            },
        ],
    )
    picture = services.product_image_add(
        product=shirt,
        actor=shop.owner,
        alt="Front",
        upload=SimpleUploadedFile("front.png", png_bytes(), content_type="image/png"),
    )
    Variant.objects.filter(sku="LIN-M").update(image=picture)
    return shirt


@pytest.fixture
def imported_tee(shop):
    """A product imported with pictures still waiting to be fetched, and one without
    options."""
    rows = product_rows(
        "organic-tee",
        title="Organic tee",
        Body_HTML="<p>Soft, <em>organic</em>.</p>",
        Vendor="Tapbuy Basics",
        Product_Category="Apparel > Shirts & Tops",
        Tags="cotton",
        options=("Colour",),
        variants=[
            {
                "Option1 Value": "Black",
                "Variant SKU": "TEE-B",
                "Variant Price": "25.00",
                "Variant Inventory Qty": "4",
            },
            {
                "Option1 Value": "White",
                "Variant SKU": "TEE-W",
                "Variant Price": "25.00",
                "Variant Inventory Qty": "1",
                "Variant Image": f"{IMG}/white.jpg",
            },
        ],
        images=[f"{IMG}/front.jpg", f"{IMG}/white.jpg", f"{IMG}/tag.jpg"],
    ) + product_rows("gift-card", title="Gift card", Status="draft", Published="FALSE")
    report = catalog_import(shop=shop, actor=shop.owner, source=to_csv(rows))
    assert report.ok, report.errors
    return Product.objects.get(handle="organic-tee")


def test_export_writes_shopify_columns_one_row_per_variant(shop, imported_tee, linen_shirt):
    rows = rows_of(catalog_export(shop=shop))

    assert list(rows[0]) == EXPORT_HEADERS
    tee = [row for row in rows if row["Handle"] == "organic-tee"]
    assert len(tee) == 3  # two variants, the third picture on a row of its own
    first, second, picture_only = tee
    assert (
        first["Title"],
        first["Vendor"],
        first["Product Category"],
        first["Status"],
        first["Published"],
        first["Option1 Name"],
    ) == (
        "Organic tee",
        "Tapbuy Basics",
        "Shirts & Tops",
        "active",
        "TRUE",
        "Colour",
    )
    assert first["Body (HTML)"] == "<p>Soft, <em>organic</em>.</p>"
    assert (
        first["Option1 Value"],
        first["Variant SKU"],
        first["Variant Price"],
        first["Variant Inventory Qty"],
        first["Image Src"],
        first["Image Position"],
    ) == (
        "Black",
        "TEE-B",
        "25.00",
        "4",
        f"{IMG}/front.jpg",
        "1",
    )
    assert second["Title"] == "" and second["Variant SKU"] == "TEE-W"
    assert second["Variant Image"] == f"{IMG}/white.jpg"
    assert picture_only["Variant Price"] == picture_only["Variant SKU"] == ""
    assert picture_only["Image Src"] == f"{IMG}/tag.jpg"
    (card,) = [row for row in rows if row["Handle"] == "gift-card"]
    assert (card["Option1 Name"], card["Option1 Value"], card["Published"], card["Status"]) == (
        "Title",
        "Default Title",
        "FALSE",
        "draft",
    )
    shirt_m = next(row for row in rows if row["Variant SKU"] == "LIN-M")
    assert (
        shirt_m["Variant Price"],
        shirt_m["Variant Compare At Price"],
        shirt_m["Variant Barcode"],
    ) == ("47.00", "52.00", "4006381333931")


def test_uploaded_pictures_export_as_absolute_urls_under_the_base_url(shop, linen_shirt):
    picture = linen_shirt.images.get()

    rows = rows_of(catalog_export(shop=shop, base_url="https://tapbuy.example/"))

    url = f"https://tapbuy.example/media/{picture.large.name}"
    assert rows[0]["Image Src"] == url
    assert rows[0]["Image Alt Text"] == "Front"
    assert rows[1]["Variant Image"] == url


@pytest.mark.parametrize("base_url", ["", "https://tapbuy.example/"])
def test_export_then_import_changes_nothing(shop, imported_tee, linen_shirt, base_url):
    before = snapshot()
    exported = catalog_export(shop=shop, base_url=base_url)

    report = catalog_import(shop=shop, actor=shop.owner, source=exported.encode())

    assert report.ok, report.errors
    assert (
        report.products_created,
        report.products_updated,
        report.variants_created,
        report.variants_updated,
        report.variants_deleted,
        report.images_queued,
    ) == (
        0,
        0,
        0,
        0,
        0,
        0,
    )
    assert snapshot() == before


def test_an_export_imports_into_another_shop(shop, rival_shop, imported_tee):
    exported = catalog_export(shop=shop)

    report = catalog_import(shop=rival_shop, actor=rival_shop.owner, source=exported.encode())

    assert report.ok, report.errors
    assert report.products_created == 2
    assert Variant.objects.filter(shop=rival_shop).count() == 3
    assert ProductImage.objects.filter(product__shop=rival_shop).count() == 3


def test_export_runs_the_same_few_queries_for_any_catalog_size(shop, django_assert_max_num_queries):
    assert catalog_import(
        shop=shop, actor=shop.owner, source=generate_catalog(products=3, variants=2, images=2)
    ).ok
    with django_assert_max_num_queries(3):
        small = catalog_export(shop=shop)
    assert catalog_import(
        shop=shop, actor=shop.owner, source=generate_catalog(products=60, variants=4, images=3)
    ).ok

    with django_assert_max_num_queries(3):
        large = catalog_export(shop=shop)

    assert len(rows_of(small)) == 6
    assert len(rows_of(large)) == 60 * 4


def test_export_holds_only_the_shops_own_products(shop, rival_shop, imported_tee):
    make_product(rival_shop, "Rival tee", sku="RIVAL-1")

    text = catalog_export(shop=shop)

    assert "RIVAL-1" not in text and "Rival tee" not in text


def test_the_export_downloads_as_an_attachment(client, shop, imported_tee):
    client.force_login(shop.owner)

    response = client.get(reverse("seller:export"))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="maxshop-products.csv"'
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content).decode()
    assert body == catalog_export(shop=shop, base_url="http://testserver/")


def test_the_export_needs_a_login_and_a_shop(client, viewer, shop):
    response = client.get(reverse("seller:export"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))

    client.force_login(viewer)
    assert client.get(reverse("seller:export")).status_code == 404


def test_the_command_writes_a_file_or_standard_output(shop, imported_tee, linen_shirt, tmp_path):
    path = tmp_path / "out.csv"
    out = io.StringIO()

    call_command("export_shopify_csv", "--shop", shop.handle, str(path))
    call_command("export_shopify_csv", "--shop", shop.handle, stdout=out)

    expected = catalog_export(shop=shop)
    assert path.read_bytes().decode() == expected
    assert out.getvalue() == expected
