"""Catalog files that are not what they claim: binary data, NUL bytes, a cell or a line
larger than any product, markup and spreadsheet formulas in cells. Each is refused with
a message (nothing changes) or, for text, stored as the text it is."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shops.catalog_csv import catalog_export, catalog_import
from shops.models import Product
from tests.factories import png_bytes
from tests.shops.test_csv_import import bad_file, snapshot

pytestmark = pytest.mark.django_db

HEADER = b"Handle,Title,Variant Price,Variant SKU\n"
BINARY = "This is not a CSV text file (it holds binary data): save it as CSV UTF-8 and import that."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (png_bytes(), BINARY),
        (HEADER + b"tee,T\x00ee,1.00,A\n", BINARY),
        ("Handle,Title,Variant Price\ntee,Tee,1.00\n".encode("utf-16-le"), BINARY),
        (
            HEADER + b"tee," + b"A" * 300_000 + b",1.00,A\n",
            "Row 2: This is not a readable CSV file (field larger than field limit (131072)).",
        ),
        (
            b"Handle," + b"x" * 3_000_000,
            "Row 1: This is not a readable CSV file (field larger than field limit (131072)).",
        ),
    ],
    ids=["picture", "nul-byte", "utf-16-without-bom", "huge-cell", "huge-line"],
)
def test_files_that_are_not_catalogs_are_refused_with_a_message(shop, data, message):
    bad_file(shop, data, message)


def test_the_import_page_refuses_a_picture_renamed_csv(client, shop):
    client.force_login(shop.owner)
    before = snapshot()
    upload = SimpleUploadedFile("products.csv", png_bytes(), content_type="text/csv")
    response = client.post(reverse("seller:import"), {"file": upload})
    assert response.status_code == 400
    assert BINARY in html.unescape(response.content.decode())
    assert snapshot() == before


def test_markup_and_formulas_in_cells_are_kept_as_text(client, shop):
    """The importer stores what the cells say; pages escape it, and the description goes
    through the sanitizer."""
    title = "=cmd|' /C calc'!A0 <script>alert(1)</script>"
    rows = [
        HEADER.decode().strip() + ",Body (HTML),Status",
        f'tee,"{title}",1.00,A,"<p onclick=""x()"">Soft</p><script>alert(2)</script>",active',
    ]
    report = catalog_import(
        shop=shop, actor=shop.owner, source="\n".join(rows).encode(), filename="p.csv"
    )
    assert report.ok, report.errors
    product = Product.objects.get(shop=shop)
    assert product.title == title
    assert product.description_html == "<p>Soft</p>"
    response = client.get(f"/products/{product.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    # The export is Shopify's format, read back by Shopify and by this importer: the cell
    # is written as it was imported (a leading quote would become part of the title).
    assert title in catalog_export(shop=shop)
