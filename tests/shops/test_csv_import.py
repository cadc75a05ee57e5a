"""Importing a Shopify product CSV: both header dialects, updates in place, every bad input
refused with its row and column and nothing changed, the command and the seller page."""

import csv
import html
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from shops import catalog_csv
from shops.catalog_csv import catalog_import
from shops.errors import NotYourShop
from shops.models import Category, Product, ProductImage, Variant
from tests.factories import make_product
from tests.shops.csvgen import CLASSIC_HEADERS, generate_catalog, product_rows, to_csv

pytestmark = pytest.mark.django_db

IMG = "https://cdn.example.com/tee"
DATA = Path(__file__).parent / "data"


# --- helpers --------------------------------------------------------------------------------


def snapshot():
    """Every catalog row as plain values: compared before and after a refused import."""
    return (
        list(Category.objects.order_by("pk").values()),
        list(Product.objects.order_by("pk").values()),
        list(Variant.objects.order_by("pk").values()),
        list(ProductImage.objects.order_by("pk").values()),
    )


def run(shop, data: bytes):
    return catalog_import(shop=shop, actor=shop.owner, source=data, filename="products.csv")


def tee_rows(*, price_s="25.00", stock_s="4", sku_prefix="TEE"):
    """A tee in two colours and two sizes with three pictures, the fourth row adding only
    a picture, as Shopify exports it."""
    return product_rows(
        "organic-tee",
        title="Organic tee",
        Body_HTML='<p>Soft <strong>cotton</strong>.</p><script>alert("x")</script>',
        Vendor="Tapbuy Basics",
        Product_Category="Apparel & Accessories > Clothing > Shirts & Tops",
        Type="T-Shirt",
        Tags="cotton,  summer, Cotton",
        options=("Colour", "Size"),
        variants=[
            {
                "Option1 Value": "Black",
                "Option2 Value": "S",
                "Variant SKU": f"{sku_prefix}-BS",
                "Variant Price": price_s,
                "Variant Compare At Price": "30.00",
                "Variant Inventory Qty": stock_s,
                "Variant Grams": "180.4",
                "Variant Barcode": "0001",
            },
            {
                "Option1 Value": "Black",
                "Option2 Value": "M",
                "Variant SKU": f"{sku_prefix}-BM",
                "Variant Price": "27.50",
                "Variant Inventory Qty": "2",
                "Variant Grams": "190",
            },
            {
                "Option1 Value": "White",
                "Option2 Value": "S",
                "Variant SKU": f"{sku_prefix}-WS",
                "Variant Price": "25.00",
                "Variant Inventory Qty": "0",
                "Variant Image": f"{IMG}/white.jpg",
            },
        ],
        images=[f"{IMG}/front.jpg", f"{IMG}/back.jpg", f"{IMG}/white.jpg", f"{IMG}/tag.jpg"],
    )


def mug_rows():
    """A product without options: Option1 Name=Title, Option1 Value=Default Title."""
    return product_rows(
        "enamel-mug",
        title="Enamel mug",
        Status="draft",
        variants=[
            {
                "Option1 Value": "Default Title",
                "Variant SKU": "MUG-1",
                "Variant Price": "12",
                "Variant Inventory Qty": "9",
            }
        ],
        options=("Title",),
    )


def catalog(**kwargs) -> bytes:
    return to_csv(tee_rows(**kwargs) + mug_rows())


def bad_file(shop, data: bytes, *expected: str):
    """Import a file that must be refused: the report names each expected error exactly,
    and nothing in the catalog changed."""
    before = snapshot()
    report = run(shop, data)
    assert not report.ok
    for error in expected:
        assert error in report.errors, report.errors
    assert snapshot() == before
    assert report.products_created == report.variants_created == 0
    return report


# --- what a good file creates ---------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["classic", "2024"])
def test_both_dialects_import_products_variants_and_images(shop, dialect):
    report = run(shop, to_csv(tee_rows() + mug_rows(), dialect=dialect))

    assert report.ok, report.errors
    assert report.dialect == dialect
    assert report.encoding == "utf-8"
    assert (report.products_created, report.variants_created, report.images_queued) == (2, 4, 4)
    tee = Product.objects.get(shop=shop, handle="organic-tee")
    assert tee.title == "Organic tee"
    assert tee.status == Product.Status.ACTIVE
    assert tee.vendor == "Tapbuy Basics"
    assert tee.product_type == "T-Shirt"
    assert tee.category.name == "Shirts & Tops"
    assert tee.tags == "cotton, summer"
    assert tee.currency == shop.currency
    assert "<script>" in tee.description  # the source as given...
    assert tee.description_html == "<p>Soft <strong>cotton</strong>.</p>"  # ...shown cleaned
    assert "organic tee" in tee.search_document and "soft cotton" in tee.search_document
    assert (tee.option1_name, tee.option2_name, tee.option3_name) == ("Colour", "Size", "")
    assert (tee.price_minor, tee.compare_at_minor) == (2500, 3000)
    variants = list(tee.variants.order_by("position"))
    assert [(v.option1, v.option2, v.sku, v.price_minor, v.stock) for v in variants] == [
        ("Black", "S", "TEE-BS", 2500, 4),
        ("Black", "M", "TEE-BM", 2750, 2),
        ("White", "S", "TEE-WS", 2500, 0),
    ]
    assert (variants[0].grams, variants[0].barcode, variants[0].compare_at_minor) == (
        180,
        "0001",
        3000,
    )
    images = list(tee.images.all())
    assert [(i.position, i.source_url, i.state) for i in images] == [
        (n, f"{IMG}/{name}.jpg", ProductImage.State.REMOTE)
        for n, name in enumerate(["front", "back", "white", "tag"], start=1)
    ]
    assert variants[2].image == images[2]
    assert all(v.shop_id == shop.pk for v in variants)


def test_a_shopify_export_with_multiline_cells_and_extra_columns_imports(shop):
    report = run(shop, (DATA / "shopify_export_sample.csv").read_bytes())

    assert report.ok, report.errors
    assert (report.rows, report.products_created, report.variants_created) == (6, 2, 4)
    assert report.images_queued == 4  # the navy picture is named twice, stored once
    hoodie = Product.objects.get(handle="example-hoodie")
    assert hoodie.category.name == "Hoodies"
    assert hoodie.description.count("\n") == 4
    assert '<li>Kangaroo pocket, "double-stitched"</li>' in hoodie.description_html
    assert (hoodie.price_minor, hoodie.compare_at_minor) == (5900, 6900)
    navy = Variant.objects.get(sku="HOOD-M-NVY")
    assert (navy.option1, navy.option2, navy.price_minor, navy.grams) == ("M", "Navy", 6150, 612)
    assert (navy.image.position, navy.image.alt) == (3, "Hoodie in navy")
    mug = Product.objects.get(handle="enamel-camp-mug")
    assert (mug.status, mug.option_names, mug.category.name) == ("draft", [], "Mugs")


def test_rows_are_numbered_as_a_spreadsheet_shows_them_despite_multiline_cells(shop):
    text = (DATA / "shopify_export_sample.csv").read_text(encoding="utf-8")
    bad = text.replace(
        "HOOD-M-GRY,612.35,shopify,8,deny,manual,59.00",
        "HOOD-M-GRY,612.35,shopify,8,deny,manual,abc",
    )
    assert bad != text

    bad_file(
        shop,
        bad.encode(),
        "Row 3, column \"Variant Price\": 'abc' is not a price (use digits, like 19.99).",
    )


def test_a_product_without_options_gets_one_variant_without_option_values(shop):
    assert run(shop, catalog()).ok
    mug = Product.objects.get(handle="enamel-mug")
    assert mug.status == Product.Status.DRAFT
    assert mug.option_names == []
    (variant,) = mug.variants.all()
    assert (variant.option1, variant.option2, variant.option3) == ("", "", "")
    assert (variant.price_minor, variant.stock, variant.sku) == (1200, 9, "MUG-1")


def test_image_only_rows_add_pictures_but_no_variant(shop):
    rows = product_rows(
        "poster", title="Poster", images=[f"{IMG}/1.jpg", f"{IMG}/2.jpg", f"{IMG}/3.jpg"]
    )
    assert len(rows) == 3

    report = run(shop, to_csv(rows))

    assert report.ok, report.errors
    poster = Product.objects.get(handle="poster")
    assert poster.variants.count() == 1
    assert poster.images.count() == 3
    assert report.images_queued == 3


def test_status_follows_published_when_the_file_has_no_status_column(shop):
    rows = product_rows("a", title="A", Published="true") + product_rows(
        "b", title="B", Published="FALSE"
    )
    for row in rows:
        row.pop("Status", None)
    headers = [h for h in CLASSIC_HEADERS if h != "Status"]

    assert run(shop, to_csv(rows, headers=headers)).ok

    assert dict(Product.objects.values_list("handle", "status")) == {
        "a": Product.Status.ACTIVE,
        "b": Product.Status.DRAFT,
    }


def test_latin1_file_is_accepted_with_its_accents(shop):
    rows = product_rows(
        "cafe", title="Café crème", Body_HTML="<p>Torréfié à Genève</p>", Vendor="Brûlerie"
    )

    report = run(shop, to_csv(rows, encoding="latin-1"))

    assert report.ok, report.errors
    assert report.encoding == "cp1252"
    assert "read as Windows-1252" in report.summary()
    product = Product.objects.get(handle="cafe")
    assert (product.title, product.vendor) == ("Café crème", "Brûlerie")
    assert product.description_html == "<p>Torréfié à Genève</p>"


def test_utf8_with_a_byte_order_mark_is_read_as_utf8(shop):
    data = b"\xef\xbb\xbf" + to_csv(product_rows("cafe", title="Café ☕"))

    report = run(shop, data)

    assert report.ok, report.errors
    assert report.encoding == "utf-8"
    assert Product.objects.get(handle="cafe").title == "Café ☕"


def test_semicolon_separated_file_from_a_spreadsheet_is_read(shop):
    data = to_csv(product_rows("a", title="A, with a comma")).decode()
    rows = list(csv.reader(io.StringIO(data)))
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)

    assert run(shop, out.getvalue().encode()).ok
    assert Product.objects.get(handle="a").title == "A, with a comma"


def test_categories_are_matched_by_their_last_segment_and_reused(shop):
    existing = Category.objects.create(name="Shirts & Tops", slug="shirts-tops")
    rows = product_rows("a", title="A", Product_Category="Apparel > Shirts & Tops") + (
        product_rows("b", title="B", Product_Category="Home & Garden > Kitchen > Mugs")
    )

    assert run(shop, to_csv(rows)).ok

    assert Product.objects.get(handle="a").category == existing
    assert Product.objects.get(handle="b").category.slug == "mugs"
    assert Category.objects.count() == 2


def test_a_big_catalog_imports_in_one_call(shop, tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_bytes(generate_catalog(products=1000, variants=5, images=1))
    out = io.StringIO()

    call_command("import_shopify_csv", "--shop", shop.handle, str(path), stdout=out)

    assert Product.objects.filter(shop=shop).count() == 1000
    assert Variant.objects.filter(shop=shop).count() == 5000
    assert ProductImage.objects.filter(product__shop=shop).count() == 1000
    assert "Imported 5,000 rows from" in out.getvalue()


# --- importing again ------------------------------------------------------------------------


def test_reimport_updates_prices_and_stock_in_place(shop):
    assert run(shop, catalog()).ok
    ids = snapshot()

    report = run(shop, catalog(price_s="22.00", stock_s="11"))

    assert report.ok, report.errors
    assert (report.products_created, report.products_updated) == (0, 1)
    assert (report.variants_created, report.variants_updated, report.variants_deleted) == (
        0,
        1,
        0,
    )
    assert report.images_queued == 0
    variant = Variant.objects.get(sku="TEE-BS")
    assert (variant.price_minor, variant.stock) == (2200, 11)
    tee = Product.objects.get(handle="organic-tee")
    assert tee.price_minor == 2200  # the from-price follows the cheapest variant
    after = snapshot()
    for table_before, table_after in zip(ids, after, strict=True):
        assert [row["id"] for row in table_before] == [row["id"] for row in table_after]


def test_reimporting_the_same_file_changes_nothing(shop):
    data = catalog()
    assert run(shop, data).ok
    before = snapshot()

    report = run(shop, data)

    assert report.ok
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


def test_variants_gone_from_the_file_are_deleted_and_new_ones_added(shop):
    assert run(shop, catalog()).ok
    rows = tee_rows()
    rows[2].update({"Option1 Value": "Navy", "Variant SKU": "TEE-NS"})  # replaces White S

    report = run(shop, to_csv(rows))

    assert report.ok, report.errors
    assert (report.variants_created, report.variants_deleted) == (1, 1)
    tee = Product.objects.get(handle="organic-tee")
    assert sorted(tee.variants.values_list("sku", flat=True)) == ["TEE-BM", "TEE-BS", "TEE-NS"]
    assert Product.objects.count() == 2  # the mug, absent from this file, is left alone


def test_variants_can_trade_skus_and_options_on_reimport(shop):
    assert run(shop, catalog()).ok
    black_s = Variant.objects.get(sku="TEE-BS")
    black_m = Variant.objects.get(sku="TEE-BM")
    rows = tee_rows()
    rows[0]["Option2 Value"], rows[1]["Option2 Value"] = "M", "S"  # the SKUs swap sizes

    report = run(shop, to_csv(rows))

    assert report.ok, report.errors
    assert report.variants_updated == 2
    black_s.refresh_from_db()
    black_m.refresh_from_db()
    assert (black_s.option2, black_m.option2) == ("M", "S")


def test_variants_without_sku_are_matched_by_their_options(shop):
    rows = tee_rows()
    for row in rows:
        row.pop("Variant SKU", None)
    assert run(shop, to_csv(rows)).ok
    first_pks = set(Variant.objects.values_list("pk", flat=True))
    rows[1]["Variant Inventory Qty"] = "40"

    report = run(shop, to_csv(rows))

    assert report.ok, report.errors
    assert set(Variant.objects.values_list("pk", flat=True)) == first_pks
    assert Variant.objects.get(option1="Black", option2="M").stock == 40


def test_columns_absent_from_the_file_leave_stored_values_alone(shop):
    assert run(shop, catalog()).ok
    rows = [
        {
            "Handle": "organic-tee",
            "Title": "Organic tee",
            "Option1 Value": "Black",
            "Option2 Value": "S",
            "Variant SKU": "TEE-BS",
            "Variant Price": "20.00",
        },
    ]
    headers = ["Handle", "Title", "Option1 Value", "Option2 Value", "Variant SKU", "Variant Price"]

    report = run(shop, to_csv(rows, headers=headers))

    assert report.ok, report.errors
    variant = Variant.objects.get(sku="TEE-BS")
    assert (variant.price_minor, variant.stock, variant.barcode) == (2000, 4, "0001")
    tee = Product.objects.get(handle="organic-tee")
    assert (tee.vendor, tee.tags, tee.category.name) == (
        "Tapbuy Basics",
        "cotton, summer",
        "Shirts & Tops",
    )
    assert tee.variants.count() == 1  # the variants not in the file are gone


def test_a_failed_picture_named_again_is_fetched_again(
    shop, monkeypatch, django_capture_on_commit_callbacks
):
    assert run(shop, catalog()).ok
    ProductImage.objects.filter(source_url=f"{IMG}/back.jpg").update(
        state=ProductImage.State.FAILED, error="HTTP 404"
    )
    queued = []
    monkeypatch.setattr(catalog_csv.image_fetch, "delay", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        report = run(shop, catalog())

    retried = ProductImage.objects.get(source_url=f"{IMG}/back.jpg")
    assert report.images_queued == 1
    assert (retried.state, retried.error) == (ProductImage.State.REMOTE, "")
    assert queued == [{"image_id": retried.pk}]


def test_pictures_are_queued_after_commit_and_never_fetched_during_the_import(
    shop, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(catalog_csv.image_fetch, "delay", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = run(shop, catalog())
    assert queued == []  # nothing before commit
    for callback in callbacks:
        callback()

    ids = set(ProductImage.objects.values_list("pk", flat=True))
    assert report.images_queued == 4
    assert {kw["image_id"] for kw in queued} == ids
    assert set(ProductImage.objects.values_list("state", flat=True)) == {"remote"}


# --- bad files: refused whole, with row and column ------------------------------------------


def test_missing_required_columns_are_named(shop):
    data = to_csv([{"Handle": "a", "Vendor": "V"}], headers=["Handle", "Vendor"])

    bad_file(
        shop,
        data,
        'Row 1: The required column "Title" is missing.',
        'Row 1: The required column "Variant Price" (or "Price") is missing.',
    )


def test_a_price_that_is_not_a_number_is_refused(shop):
    rows = tee_rows()
    rows[1]["Variant Price"] = "abc"

    bad_file(
        shop,
        to_csv(rows),
        "Row 3, column \"Variant Price\": 'abc' is not a price (use digits, like 19.99).",
    )


def test_errors_use_the_2024_header_names_in_a_2024_file(shop):
    rows = tee_rows()
    rows[1]["Variant Price"] = "abc"

    bad_file(
        shop,
        to_csv(rows, dialect="2024"),
        "Row 3, column \"Price\": 'abc' is not a price (use digits, like 19.99).",
    )


def test_a_negative_price_is_refused(shop):
    rows = tee_rows()
    rows[0]["Variant Compare At Price"] = "-5"

    bad_file(
        shop, to_csv(rows), 'Row 2, column "Variant Compare At Price": A price cannot be negative.'
    )


def test_negative_or_fractional_stock_is_refused(shop):
    rows = tee_rows()
    rows[0]["Variant Inventory Qty"] = "-3"
    rows[1]["Variant Inventory Qty"] = "2.5"

    bad_file(
        shop,
        to_csv(rows),
        "Row 2, column \"Variant Inventory Qty\": '-3' is not a valid quantity (use a whole "
        "number, 0 or more).",
        "Row 3, column \"Variant Inventory Qty\": '2.5' is not a valid quantity (use a whole "
        "number, 0 or more).",
    )


def test_an_empty_file_is_refused(shop):
    report = bad_file(shop, b"", "The file is empty.")
    assert report.errors == ["The file is empty."]


def test_a_file_with_only_a_header_is_refused(shop):
    bad_file(shop, to_csv([]), "The file has no product rows (only a header).")


def test_a_sku_used_twice_in_the_file_is_refused(shop):
    rows = tee_rows()
    rows[2]["Variant SKU"] = "TEE-BS"

    bad_file(
        shop,
        to_csv(rows),
        "Row 4, column \"Variant SKU\": The SKU 'TEE-BS' is also used on row 2: a SKU is "
        "unique in a shop.",
    )


def test_a_sku_of_another_product_of_the_shop_is_refused(shop):
    make_product(shop, "Linen shirt", sku="TEE-BM")

    bad_file(
        shop,
        catalog(),
        "Row 3, column \"Variant SKU\": The SKU 'TEE-BM' is already used by another "
        'product of this shop ("linen-shirt").',
    )


def test_a_sku_of_another_shop_is_fine(shop, rival_shop):
    make_product(rival_shop, "Rival tee", sku="TEE-BS")

    assert run(shop, catalog()).ok


def test_two_variants_with_the_same_options_are_refused(shop):
    rows = tee_rows()
    rows[1]["Option2 Value"] = "S"

    bad_file(
        shop,
        to_csv(rows),
        'Row 3, column "Option1 Value": The options "Black / S" are already used on row 2 '
        "for this product.",
    )


def test_an_unknown_status_is_refused(shop):
    rows = tee_rows()
    rows[0]["Status"] = "live"

    bad_file(
        shop,
        to_csv(rows),
        "Row 2, column \"Status\": 'live' is not a status (use active, draft or archived).",
    )


@pytest.mark.parametrize("url", ["ftp://cdn.example.com/a.jpg", "javascript:alert(1)", "front.jpg"])
def test_an_image_that_is_not_an_http_url_is_refused(shop, url):
    rows = tee_rows()
    rows[3]["Image Src"] = url

    bad_file(shop, to_csv(rows), f'Row 5, column "Image Src": {url!r} is not an http(s) URL.')


def test_one_bad_row_keeps_every_good_product_out(shop):
    rows = tee_rows() + mug_rows()
    rows[-1]["Variant Price"] = "12,00"

    report = bad_file(
        shop,
        to_csv(rows),
        "Row 6, column \"Variant Price\": '12,00' is not a price (use digits, like 19.99).",
    )
    assert len(report.errors) == 1


def test_rows_without_a_handle_or_a_title_are_refused(shop):
    rows = tee_rows()
    rows[1]["Handle"] = ""
    rows[0]["Title"] = ""

    bad_file(
        shop,
        to_csv(rows),
        'Row 2, column "Title": The first row of a product needs a title.',
        'Row 3, column "Handle": Every row needs a handle.',
    )


def test_errors_are_listed_by_row_and_capped(shop):
    rows = []
    for n in range(300):
        rows += product_rows(f"p{n}", title=f"P{n}", variants=[{"Variant Price": "x"}])
    rows[0]["Variant SKU"] = rows[1]["Variant SKU"] = "DUP"

    report = bad_file(shop, to_csv(rows))

    assert len(report.errors) == catalog_csv.MAX_ERRORS
    assert report.errors_truncated == 301 - catalog_csv.MAX_ERRORS
    assert report.errors[0].startswith("Row 2, ")
    assert report.errors[-1].startswith("Row 200, ")
    assert "… and 101 more errors." in report.summary()


def test_only_the_owner_can_import(shop, rival_shop):
    before = snapshot()

    with pytest.raises(NotYourShop):
        catalog_import(shop=shop, actor=rival_shop.owner, source=catalog())

    assert snapshot() == before


# --- the command ----------------------------------------------------------------------------


def test_command_prints_the_summary(shop, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(catalog())
    out = io.StringIO()

    call_command("import_shopify_csv", "--shop", "MaxShop", str(path), stdout=out)

    assert "Products: 2 created, 0 updated." in out.getvalue()
    assert "Variants: 4 created, 0 updated, 0 deleted." in out.getvalue()
    assert Product.objects.filter(shop=shop).count() == 2


def test_command_fails_with_the_errors_and_changes_nothing(shop, tmp_path):
    rows = tee_rows()
    rows[1]["Variant Price"] = "abc"
    path = tmp_path / "products.csv"
    path.write_bytes(to_csv(rows))
    err = io.StringIO()

    with pytest.raises(CommandError, match="refused"):
        call_command("import_shopify_csv", "--shop", shop.handle, str(path), stderr=err)

    assert 'Row 3, column "Variant Price"' in err.getvalue()
    assert Product.objects.count() == 0


def test_command_refuses_an_unknown_shop(db, tmp_path):
    with pytest.raises(CommandError, match="No shop has the handle 'nope'"):
        call_command("import_shopify_csv", "--shop", "nope", str(tmp_path / "x.csv"))


# --- the seller page ------------------------------------------------------------------------


def upload(data: bytes, name="products.csv"):
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_import_page_shows_the_upload_form_and_the_export_link(client, shop):
    client.force_login(shop.owner)

    response = client.get(reverse("seller:import"))

    assert response.status_code == 200
    assert response.context["seller_tab"] == "import"
    body = response.content.decode()
    assert 'type="file" name="file"' in body
    assert reverse("seller:export") in body


def test_uploading_a_file_imports_it_and_shows_the_report(client, shop):
    client.force_login(shop.owner)

    response = client.post(reverse("seller:import"), {"file": upload(catalog())})

    assert response.status_code == 200
    report = response.context["report"]
    assert report.ok and report.products_created == 2
    assert 'data-testid="import-report"' in response.content.decode()
    assert Product.objects.filter(shop=shop).count() == 2


def test_uploading_a_bad_file_lists_the_errors_and_changes_nothing(client, shop):
    client.force_login(shop.owner)
    rows = tee_rows()
    rows[1]["Variant Price"] = "abc"
    before = snapshot()

    response = client.post(reverse("seller:import"), {"file": upload(to_csv(rows))})

    assert response.status_code == 400
    assert (
        "Row 3, column \"Variant Price\": 'abc' is not a price (use digits, like 19.99)."
        in html.unescape(response.content.decode())
    )
    assert snapshot() == before


def test_posting_without_a_file_asks_for_one(client, shop):
    client.force_login(shop.owner)

    response = client.post(reverse("seller:import"), {})

    assert response.status_code == 400
    assert "Choose a CSV file to import." in response.content.decode()


def test_a_file_over_the_limit_is_refused_before_reading(client, shop, monkeypatch):
    monkeypatch.setattr(catalog_csv, "MAX_IMPORT_BYTES", 1000)
    client.force_login(shop.owner)
    before = snapshot()

    response = client.post(reverse("seller:import"), {"file": upload(catalog())})

    assert response.status_code == 413
    assert "Split it into several files" in response.content.decode()
    assert snapshot() == before


def test_import_page_needs_a_login(client, shop):
    response = client.get(reverse("seller:import"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_import_page_is_a_404_without_a_shop(client, viewer):
    client.force_login(viewer)

    assert client.get(reverse("seller:import")).status_code == 404
    assert client.post(reverse("seller:import"), {"file": upload(catalog())}).status_code == 404
    assert Product.objects.count() == 0


def test_an_ordered_variant_gone_from_the_file_stays_with_no_stock(shop):
    """Orders point at their variants: a re-import that drops an ordered variant keeps it
    (sold out) instead of deleting it, and deletes the others as usual."""
    from orders import services as order_services
    from tests.factories import UserFactory

    assert run(shop, catalog()).ok
    white_s = Variant.objects.get(sku="TEE-WS")
    Variant.objects.filter(pk=white_s.pk).update(stock=3)
    buyer = UserFactory()
    order_services.address_add(
        user=buyer,
        data={"name": "B", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"},
    )
    order_services.order_place(
        buyer=buyer,
        items=[{"variant": white_s.pk, "quantity": 1}],
        payment_method="pm_card_ok",
        checkout_key="csv-reimport",
    )
    rows = tee_rows()
    rows[2].update({"Option1 Value": "Navy", "Variant SKU": "TEE-NS"})  # replaces White S

    report = run(shop, to_csv(rows))

    assert report.ok, report.errors
    assert (report.variants_created, report.variants_deleted) == (1, 0)
    white_s.refresh_from_db()
    assert white_s.stock == 0
