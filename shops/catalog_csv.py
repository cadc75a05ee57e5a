"""The catalog as a Shopify product CSV.

Import reads either of Shopify's two header dialects by header name, validates every row
against the file and the shop's catalog, and only then writes, in one transaction, with
set-based queries. Export writes Shopify's long-standing dialect, in the same shape the
importer reads back, so that an exported file re-imports without changing anything.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Prefetch, ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from config.csv_lines import csv_lines
from payments.money import MoneyError, format_plain, parse_minor

from .errors import NotYourShop
from .models import Category, Product, ProductImage, Shop, Variant
from .tasks import image_fetch
from .text import normalize_tags, sanitize_html, search_document

logger = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_ERRORS = 200
# Rows per INSERT (Django lowers it further to fit SQLite's 999 variables per statement)
# and values per IN (...).
_WRITE_BATCH = 500
_IN_BATCH = 500

# Field lengths, from the models (bulk writes skip model validation, so they are checked
# here with messages that name the row and column).
_MAX_LEN = {
    "handle": 120,
    "title": 200,
    "body": 20_000,
    "vendor": 120,
    "type": 120,
    "option1_name": 60,
    "option2_name": 60,
    "option3_name": 60,
    "option1_value": 120,
    "option2_value": 120,
    "option3_value": 120,
    "sku": 64,
    "barcode": 64,
}
_HANDLE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_WHOLE = re.compile(r"\+?\d+")
_URL = URLValidator(schemes=["http", "https"])

# Internal field -> the headers that carry it, lowercased: Shopify's long-standing dialect
# first (its spelling is used in messages when the file has neither), then the 2024 one.
# Headers are matched case-insensitively, which also covers "Option1 Name"/"Option1 name".
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "handle": ("handle", "url handle"),
    "title": ("title",),
    "body": ("body (html)", "description"),
    "vendor": ("vendor",),
    "category": ("product category",),
    "type": ("type",),
    "tags": ("tags",),
    "published": ("published", "published on online store"),
    "status": ("status",),
    "option1_name": ("option1 name",),
    "option1_value": ("option1 value",),
    "option2_name": ("option2 name",),
    "option2_value": ("option2 value",),
    "option3_name": ("option3 name",),
    "option3_value": ("option3 value",),
    "sku": ("variant sku", "sku"),
    "grams": ("variant grams", "weight value (grams)"),
    "stock": ("variant inventory qty", "inventory quantity"),
    "price": ("variant price", "price"),
    "compare_at": ("variant compare at price", "compare-at price", "compare at price"),
    "barcode": ("variant barcode", "barcode"),
    "image_src": ("image src", "product image url"),
    "image_position": ("image position",),
    "image_alt": ("image alt text",),
    "variant_image": ("variant image", "variant image url"),
}
_CLASSIC_LABELS = {
    "handle": "Handle",
    "title": "Title",
    "body": "Body (HTML)",
    "vendor": "Vendor",
    "category": "Product Category",
    "type": "Type",
    "tags": "Tags",
    "published": "Published",
    "status": "Status",
    "sku": "Variant SKU",
    "grams": "Variant Grams",
    "stock": "Variant Inventory Qty",
    "price": "Variant Price",
    "compare_at": "Variant Compare At Price",
    "barcode": "Variant Barcode",
    "image_src": "Image Src",
    "image_position": "Image Position",
    "image_alt": "Image Alt Text",
    "variant_image": "Variant Image",
    **{
        f"option{n}_{part}": f"Option{n} {part.title()}"
        for n in (1, 2, 3)
        for part in ("name", "value")
    },
}
_REQUIRED = ("handle", "title", "price")
# A row after a product's first row is a variant if any of these is filled; otherwise it
# only adds an image (Shopify writes extra pictures as rows with image columns only).
_VARIANT_FIELDS = (
    "option1_value",
    "option2_value",
    "option3_value",
    "sku",
    "price",
    "compare_at",
    "stock",
    "grams",
    "barcode",
)

EXPORT_HEADERS = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Product Category",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Tracker",
    "Variant Inventory Qty",
    "Variant Inventory Policy",
    "Variant Fulfillment Service",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Requires Shipping",
    "Variant Taxable",
    "Variant Barcode",
    "Image Src",
    "Image Position",
    "Image Alt Text",
    "Gift Card",
    "SEO Title",
    "SEO Description",
    "Variant Image",
    "Variant Weight Unit",
    "Variant Tax Code",
    "Cost per item",
    "Status",
]

_PRODUCT_COLUMNS = (
    "title",
    "description",
    "description_html",
    "vendor",
    "product_type",
    "category_id",
    "tags",
    "status",
    "option1_name",
    "option2_name",
    "option3_name",
    "currency",
    "price_minor",
    "compare_at_minor",
    "search_document",
)
_VARIANT_COLUMNS = (
    "sku",
    "option1",
    "option2",
    "option3",
    "price_minor",
    "compare_at_minor",
    "stock",
    "grams",
    "barcode",
    "position",
    "image_id",
)


@dataclass
class ImportReport:
    """What an import did, or why it did nothing (ok is False and errors say where)."""

    ok: bool = False
    filename: str = ""
    encoding: str = ""
    dialect: str = ""
    rows: int = 0
    products_created: int = 0
    products_updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_deleted: int = 0
    images_queued: int = 0
    errors: list[str] = field(default_factory=list)
    errors_truncated: int = 0
    seconds: float = 0.0

    @property
    def encoding_label(self) -> str:
        return _ENCODING_NAMES.get(self.encoding, self.encoding)

    def summary(self) -> str:
        name = f" from {self.filename}" if self.filename else ""
        if not self.ok:
            total = len(self.errors) + self.errors_truncated
            lines = [f"Nothing was imported{name}: {_plural(total, 'error')}."]
            lines += self.errors
            if self.errors_truncated:
                lines.append(f"… and {_plural(self.errors_truncated, 'more error')}.")
            return "\n".join(lines)
        lines = [
            f"Imported {_plural(self.rows, 'row')}{name} in {self.seconds:.1f} s "
            f"({self.dialect} format, {self.encoding_label}).",
            f"Products: {self.products_created} created, {self.products_updated} updated.",
            f"Variants: {self.variants_created} created, {self.variants_updated} updated, "
            f"{self.variants_deleted} deleted.",
            f"Images: {self.images_queued} queued to be fetched.",
        ]
        if self.encoding != "utf-8":
            lines.append(
                f"The file was not UTF-8; it was read as {self.encoding_label}. "
                "Check that accented letters look right, or save it as CSV UTF-8 next time."
            )
        return "\n".join(lines)


_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252 (Western European)",
    "latin-1": "Latin-1",
}


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


# --- import: the parsed file ------------------------------------------------------------------


@dataclass
class _Image:
    row: int
    column: str  # "image_src" or "variant_image": where an error points
    url: str
    position: int | None
    alt: str
    existing: ProductImage | None = None


@dataclass
class _Variant:
    row: int
    options: tuple[str, str, str]
    price_minor: int
    compare_at_minor: int | None
    stock: int
    grams: int
    sku: str
    barcode: str
    image_url: str


@dataclass(eq=False)  # hashed by identity: products are dict keys while writing
class _Product:
    row: int
    handle: str
    title: str = ""
    body: str = ""
    vendor: str = ""
    category: str = ""
    product_type: str = ""
    tags: str = ""
    status: str | None = None  # None: the file says nothing (no Status, no Published)
    option_names: tuple[str, str, str] = ("", "", "")
    default_title: bool = False
    variants: list[_Variant] = field(default_factory=list)
    images: list[_Image] = field(default_factory=list)
    option_rows: dict[tuple[str, str, str], int] = field(default_factory=dict)


def catalog_import(
    *, shop: Shop, actor: User, source: bytes | BinaryIO, filename: str = ""
) -> ImportReport:
    """Import a Shopify product CSV (either header dialect) into the shop.

    Every row is validated first; if anything is wrong nothing is written and the report
    lists the errors by spreadsheet row and column. Otherwise products are created or
    updated by handle and variants by SKU (else by options), in one transaction; images
    named by URL become remote images fetched by a task after commit, never here.
    Importing the same file again changes nothing. The caller holds no transaction and
    no locks."""
    if shop.owner_id != actor.pk:
        raise NotYourShop()
    started = time.monotonic()
    report = ImportReport(filename=filename)
    _Importer(shop, report).run(source)
    report.seconds = round(time.monotonic() - started, 3)
    return report


class _Importer:
    """One import: parse, check against the catalog, then write. Errors are collected as
    (row, text) so that they can be listed in spreadsheet order."""

    def __init__(self, shop: Shop, report: ImportReport):
        self.shop = shop
        self.report = report
        self.errors: list[tuple[int, str]] = []
        self.columns: dict[str, int] = {}
        self.labels = dict(_CLASSIC_LABELS)
        self.products: dict[str, _Product] = {}
        self.sku_rows: dict[str, int] = {}
        self.existing: dict[str, Product] = {}
        self.existing_variants: dict[int, list[Variant]] = defaultdict(list)
        self.existing_images: dict[int, list[ProductImage]] = defaultdict(list)
        self.variant_before: dict[int, tuple[Any, ...]] = {}
        self.variant_deletes: list[int] = []

    def run(self, source: bytes | BinaryIO) -> None:
        text = self._read(source)
        if text is not None:
            self._parse(text)
        if self.products:
            self._load_existing()
            self._check_against_catalog()
        elif not self.errors:
            self._error(0, None, "The file has no product rows (only a header).")
        if not self.errors:
            self._apply()
        ordered = [text for _, text in sorted(self.errors, key=lambda item: item[0])]
        self.report.errors = ordered[:MAX_ERRORS]
        self.report.errors_truncated = max(0, len(ordered) - MAX_ERRORS)
        self.report.ok = not ordered

    def _error(self, row: int, column: str | None, message: str) -> None:
        if row and column:
            text = f'Row {row}, column "{self.labels[column]}": {message}'
        elif row:
            text = f"Row {row}: {message}"
        else:
            text = message
        self.errors.append((row, text))

    # --- reading and decoding ---

    def _read(self, source: bytes | BinaryIO) -> str | None:
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
        else:
            if hasattr(source, "seek"):
                source.seek(0)
            data = source.read(MAX_IMPORT_BYTES + 1)
            if isinstance(data, str):
                raise TypeError("catalog_import reads bytes: open the file in binary mode.")
        if len(data) > MAX_IMPORT_BYTES:
            self._error(
                0,
                None,
                f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MB: "
                "split it into several files.",
            )
            return None
        if data.startswith(b"PK\x03\x04"):
            self._error(
                0,
                None,
                "This is a spreadsheet workbook, not a CSV file: save it as "
                "CSV UTF-8 and import that.",
            )
            return None
        text, self.report.encoding = _decode(data)
        if "\x00" in text:
            # A picture, an archive or UTF-16 without its byte order mark: no CSV text holds
            # NUL, and PostgreSQL refuses to store one.
            self._error(
                0,
                None,
                "This is not a CSV text file (it holds binary data): save it as "
                "CSV UTF-8 and import that.",
            )
            return None
        if not text.strip():
            self._error(0, None, "The file is empty.")
            return None
        return text

    # --- parsing the file ---

    def _parse(self, text: str) -> None:
        first_line = text.split("\n", 1)[0]
        # Spreadsheets in some locales save "CSV" with semicolons, and Excel's Unicode text
        # uses tabs: the header line tells which.
        delimiter = max((",", ";", "\t"), key=first_line.count)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        row = 0  # the last row read: a csv.Error is about the one after it
        try:
            header = next(reader, [])
            row = 1
            if not self._read_header(header):
                return
            # Rows are numbered as a spreadsheet shows them: the header is row 1. A quoted
            # cell spanning several lines is still one row there.
            for row, record in enumerate(reader, start=2):
                if any(cell.strip() for cell in record):
                    self.report.rows += 1
                    self._parse_row(row, record)
        except csv.Error as exc:
            self._error(row + 1, None, f"This is not a readable CSV file ({exc}).")

    def _read_header(self, header: list[str]) -> bool:
        found: dict[str, int] = {}
        for index, name in enumerate(header):
            key = " ".join(name.replace("\ufeff", "").split()).lower()
            found.setdefault(key, index)
        for name, aliases in HEADER_ALIASES.items():
            for alias in aliases:
                if alias in found:
                    self.columns[name] = found[alias]
                    self.labels[name] = " ".join(header[found[alias]].split())
                    break
        self.report.dialect = (
            "2024" if "url handle" in found and "handle" not in found else "classic"
        )
        missing = [name for name in _REQUIRED if name not in self.columns]
        for name in missing:
            self._error(1, None, f"The required column {_REQUIRED_LABELS[name]} is missing.")
        return not missing

    def _parse_row(self, row: int, record: list[str]) -> None:
        size = len(record)
        values = {
            name: record[index].strip() if index < size else ""
            for name, index in self.columns.items()
        }
        handle = values["handle"].lower()
        if not handle:
            self._error(row, "handle", "Every row needs a handle.")
            return
        if not self._length_ok(row, "handle", handle):
            return
        if not _HANDLE.fullmatch(handle):
            self._error(
                row,
                "handle",
                f"{values['handle']!r} is not a valid handle (use "
                "lowercase letters, digits and hyphens, like blue-shirt).",
            )
            return
        product = self.products.get(handle)
        first = product is None
        if product is None:
            product = self.products[handle] = _Product(row=row, handle=handle)
            self._parse_product(row, values, product)
        # The first row of a product is always a variant; later rows are variants if they
        # carry variant data, else they only add a picture.
        variant = None
        if first or any(values.get(name) for name in _VARIANT_FIELDS):
            variant = self._parse_variant(row, values, product)
            if variant is not None:
                product.variants.append(variant)
        if values.get("image_src"):
            position = self._whole(row, "image_position", values, minimum=1)
            self._add_image(
                product,
                _Image(
                    row=row,
                    column="image_src",
                    url=values["image_src"],
                    position=position,
                    alt=values.get("image_alt", "")[:250],
                ),
            )
        if variant is not None and variant.image_url:
            self._add_image(
                product,
                _Image(
                    row=row,
                    column="variant_image",
                    url=variant.image_url,
                    position=None,
                    alt="",
                ),
            )

    @staticmethod
    def _add_image(product: _Product, image: _Image) -> None:
        for index, known in enumerate(product.images):
            if known.url == image.url:
                # Named first as a variant's picture, then on its own image row: the image
                # row's position and alt text win.
                if known.column == "variant_image" and image.column == "image_src":
                    product.images[index] = image
                return
        product.images.append(image)

    def _parse_product(self, row: int, values: dict[str, str], product: _Product) -> None:
        product.title = values["title"]
        if not product.title:
            self._error(row, "title", "The first row of a product needs a title.")
        for name in ("title", "body", "vendor", "type"):
            self._length_ok(row, name, values.get(name, ""))
        product.body = values.get("body", "")
        product.vendor = values.get("vendor", "")
        product.product_type = values.get("type", "")
        # Shopify's taxonomy path ("Apparel & Accessories > Clothing > Shirts"): the last
        # segment is the category.
        product.category = values.get("category", "").split(">")[-1].strip()[:80]
        product.tags = normalize_tags(values.get("tags", ""))
        names = [values.get(f"option{n}_name", "") for n in (1, 2, 3)]
        for n in (1, 2, 3):
            self._length_ok(row, f"option{n}_name", names[n - 1])
        # A product without options is written as Option1 Name=Title, Value=Default Title.
        if names[0].lower() == "title" and values.get("option1_value", "").lower() == (
            "default title"
        ):
            names[0] = ""
            product.default_title = True
        product.option_names = (names[0], names[1], names[2])
        status = values.get("status", "").lower()
        if status:
            if status in Product.SELLER_STATUSES:
                product.status = status
            else:
                self._error(
                    row,
                    "status",
                    f"{values['status']!r} is not a status (use active, draft or archived).",
                )
        elif "published" in self.columns:
            published = values["published"].lower()
            if published in ("true", "false", ""):
                product.status = (
                    Product.Status.ACTIVE if published == "true" else Product.Status.DRAFT
                )
            else:
                self._error(row, "published", f"{values['published']!r} is not TRUE or FALSE.")

    def _parse_variant(
        self, row: int, values: dict[str, str], product: _Product
    ) -> _Variant | None:
        before = len(self.errors)
        price = self._money(row, "price", values, required=True)
        compare_at = self._money(row, "compare_at", values, required=False)
        stock = self._whole(row, "stock", values, minimum=0) or 0
        grams = self._grams(row, values)
        sku = values.get("sku", "")
        barcode = values.get("barcode", "")
        self._length_ok(row, "sku", sku)
        self._length_ok(row, "barcode", barcode)
        options = [values.get(f"option{n}_value", "") for n in (1, 2, 3)]
        for n in (1, 2, 3):
            self._length_ok(row, f"option{n}_value", options[n - 1])
        if product.default_title and options[0].lower() == "default title":
            options[0] = ""
        key = (options[0], options[1], options[2])
        earlier = product.option_rows.setdefault(key, row)
        if earlier != row:
            if any(key):
                shown = " / ".join(value for value in key if value)
                self._error(
                    row,
                    "option1_value",
                    f'The options "{shown}" are already used on row {earlier} for this product.',
                )
            else:
                self._error(
                    row,
                    "option1_value",
                    "This product already has a variant without "
                    f"options (row {earlier}): give each variant "
                    "its option values.",
                )
        if sku:
            first_use = self.sku_rows.setdefault(sku, row)
            if first_use != row:
                self._error(
                    row,
                    "sku",
                    f"The SKU {sku!r} is also used on row {first_use}: a SKU is unique in a shop.",
                )
        if len(self.errors) > before or price is None:
            return None
        return _Variant(
            row=row,
            options=key,
            price_minor=price,
            compare_at_minor=compare_at,
            stock=stock,
            grams=grams,
            sku=sku,
            barcode=barcode,
            image_url=values.get("variant_image", ""),
        )

    # --- cell parsers: each records its own error and returns None on a bad value ---

    def _length_ok(self, row: int, column: str, value: str) -> bool:
        limit = _MAX_LEN[column]
        if len(value) > limit:
            self._error(row, column, f"This is longer than {limit:,} characters.")
            return False
        return True

    def _money(
        self, row: int, column: str, values: dict[str, str], *, required: bool
    ) -> int | None:
        text = values.get(column, "")
        if not text:
            if required:
                self._error(row, column, "A price is required (like 19.99).")
            return None
        try:
            return parse_minor(text, self.shop.currency)
        except MoneyError as exc:
            self._error(row, column, str(exc))
            return None

    def _whole(self, row: int, column: str, values: dict[str, str], *, minimum: int) -> int | None:
        text = values.get(column, "")
        if not text:
            return None
        if _WHOLE.fullmatch(text) and int(text) >= minimum:
            return int(text)
        what = "quantity" if column == "stock" else "position"
        self._error(
            row, column, f"{text!r} is not a valid {what} (use a whole number, {minimum} or more)."
        )
        return None

    def _grams(self, row: int, values: dict[str, str]) -> int:
        text = values.get("grams", "")
        if not text:
            return 0
        try:
            # Shopify writes weights as decimals ("453.6"); the catalog keeps whole grams.
            grams = round(float(text))
        except (ValueError, OverflowError):
            grams = -1
        if not 0 <= grams < 2**31:
            self._error(
                row, "grams", f"{text!r} is not a weight in grams (use a number, 0 or more)."
            )
            return 0
        return grams

    # --- checks against the catalog (read before the write transaction) ---

    def _load_existing(self) -> None:
        for chunk in _chunks(list(self.products)):
            for product in Product.objects.filter(shop=self.shop, handle__in=chunk):
                self.existing[product.handle] = product
        for chunk in _chunks([product.pk for product in self.existing.values()]):
            for variant in Variant.objects.filter(product_id__in=chunk).order_by("position", "pk"):
                self.existing_variants[variant.product_id].append(variant)
                self.variant_before[variant.pk] = _variant_values(variant)
            for image in ProductImage.objects.filter(product_id__in=chunk):
                self.existing_images[image.product_id].append(image)

    def _check_against_catalog(self) -> None:
        owners: dict[str, str] = {}
        for chunk in _chunks(list(self.sku_rows)):
            owners.update(
                Variant.objects.filter(shop=self.shop, sku__in=chunk).values_list(
                    "sku", "product__handle"
                )
            )
        for product in self.products.values():
            for variant in product.variants:
                owner = owners.get(variant.sku) if variant.sku else None
                if owner is not None and owner != product.handle:
                    self._error(
                        variant.row,
                        "sku",
                        f"The SKU {variant.sku!r} is already used by "
                        f'another product of this shop ("{owner}").',
                    )
            self._check_images(product)

    def _check_images(self, product: _Product) -> None:
        existing = self.existing.get(product.handle)
        stored = self.existing_images.get(existing.pk, []) if existing else []
        for image in product.images:
            # An exported file names uploaded pictures by their media URL: recognise them
            # (as well as remote ones by source URL) instead of fetching a copy.
            image.existing = _match_image(image.url, stored)
            if image.existing is not None:
                continue
            if len(image.url) > 1000:
                self._error(image.row, image.column, "This URL is longer than 1,000 characters.")
                continue
            try:
                _URL(image.url)
            except ValidationError:
                self._error(image.row, image.column, f"{image.url!r} is not an http(s) URL.")
        # Stored images stay (the file may not list pictures uploaded in Tapbuy).
        new = [image for image in product.images if image.existing is None]
        room = max(settings.PRODUCT_MAX_IMAGES - len(stored), 0)
        if len(new) > room:
            first_over = new[room]
            self._error(
                first_over.row,
                first_over.column,
                f"A product can have at most {settings.PRODUCT_MAX_IMAGES} images.",
            )

    # --- writing ---

    def _lock_existing(self) -> None:
        """Lock the stored products this file updates and take their status as it is now:
        a takedown by staff since the catalog was read is kept, and one that comes next
        waits for this import."""
        by_pk = {product.pk: product for product in self.existing.values()}
        for chunk in _chunks(list(by_pk)):
            for pk, status in (
                Product.objects.select_for_update(no_key=True)
                .filter(pk__in=chunk)
                .order_by("pk")
                .values_list("pk", "status")
            ):
                by_pk[pk].status = status

    def _apply(self) -> None:
        try:
            with transaction.atomic():
                self._write(list(self.products.values()))
        except IntegrityError:
            # The checks above read the catalog before this transaction; a concurrent edit
            # (the same SKU saved in another tab) can still meet a constraint here.
            logger.warning("catalog import into shop %s rolled back", self.shop.pk, exc_info=True)
            self._error(
                0,
                None,
                "The catalog changed while the file was being imported; "
                "nothing was imported. Try again.",
            )

    def _write(self, products: list[_Product]) -> None:
        now = timezone.now()
        report = self.report
        touched: set[_Product] = set()  # stored products whose rows changed
        self._lock_existing()
        pairs = {product: self._match_variants(product, touched) for product in products}

        categories = (
            _categories({p.category for p in products if p.category})
            if "category" in self.columns
            else {}
        )
        objects: dict[_Product, Product] = {}
        created: list[Product] = []
        for product in products:
            stored = self.existing.get(product.handle)
            obj = stored or Product(shop=self.shop, handle=product.handle)
            before = [getattr(obj, name) for name in _PRODUCT_COLUMNS]
            self._set_product(product, obj, [variant for variant, _ in pairs[product]], categories)
            objects[product] = obj
            if stored is None:
                created.append(obj)
            elif [getattr(obj, name) for name in _PRODUCT_COLUMNS] != before:
                touched.add(product)
        Product.objects.bulk_create(created, batch_size=_WRITE_BATCH)
        if any(obj.pk is None for obj in created):  # a database that returns no ids
            ids = dict(
                Product.objects.filter(
                    shop=self.shop, handle__in=[o.handle for o in created]
                ).values_list("handle", "pk")
            )
            for obj in created:
                obj.pk = ids[obj.handle]

        images, to_fetch = self._write_images(products, objects, touched)
        self._write_variants(products, objects, pairs, images, touched)

        updates = [objects[product] for product in touched if product.handle in self.existing]
        for obj in updates:
            obj.updated_at = now  # bulk_update skips auto_now; lists sort by it
        _update_rows(Product, updates, [*_PRODUCT_COLUMNS, "updated_at"])
        report.products_created = len(created)
        report.products_updated = len(updates)
        queued = [image.pk for image in to_fetch]
        report.images_queued = len(queued)
        if queued:
            # After commit: a worker must find the rows, and a rolled-back import must not
            # leave tasks behind.
            transaction.on_commit(partial(_enqueue_fetches, queued))

    def _match_variants(
        self, product: _Product, touched: set[_Product]
    ) -> list[tuple[Variant, _Variant]]:
        """Pair each row with its stored variant (by SKU first, then by options) or a new
        one, and set its values. Stored variants left over are marked for deletion."""
        existing = self.existing.get(product.handle)
        stored = self.existing_variants.get(existing.pk, []) if existing else []
        by_sku = {v.sku: v for v in stored if v.sku}
        by_options = {(v.option1, v.option2, v.option3): v for v in stored}
        matches: dict[int, Variant] = {}
        for index, row in enumerate(product.variants):
            if row.sku and row.sku in by_sku and "sku" in self.columns:
                matches[index] = by_sku[row.sku]
        claimed = {variant.pk for variant in matches.values()}
        for index, row in enumerate(product.variants):
            found = by_options.get(row.options)
            if index not in matches and found is not None and found.pk not in claimed:
                matches[index] = found
                claimed.add(found.pk)
        gone = [variant.pk for variant in stored if variant.pk not in claimed]
        if gone:
            self.variant_deletes += gone
            touched.add(product)
        pairs = []
        for position, row in enumerate(product.variants, start=1):
            variant = matches.get(position - 1) or Variant(shop_id=self.shop.pk)
            variant.option1, variant.option2, variant.option3 = row.options
            variant.price_minor = row.price_minor
            variant.position = position
            for column, attr, value in (
                ("sku", "sku", row.sku),
                ("compare_at", "compare_at_minor", row.compare_at_minor),
                ("stock", "stock", row.stock),
                ("grams", "grams", row.grams),
                ("barcode", "barcode", row.barcode),
            ):
                # A column missing from the file leaves stored values alone: a file with only
                # Handle, Title and Variant Price updates prices, not stock.
                if column in self.columns or variant.pk is None:
                    setattr(variant, attr, value)
            pairs.append((variant, row))
        return pairs

    def _set_product(
        self, product: _Product, obj: Product, variants: list[Variant], categories: dict[str, int]
    ) -> None:
        has = self.columns.__contains__
        stored = obj.pk is not None
        obj.title = product.title
        # The export writes description_html as Body (HTML): when the file carries exactly
        # that, keep the merchant's source (Markdown written in Tapbuy) as it is.
        if has("body") and not (stored and product.body == obj.description_html):
            obj.description = product.body
            obj.description_html = sanitize_html(product.body)
        if has("vendor"):
            obj.vendor = product.vendor
        if has("type"):
            obj.product_type = product.product_type
        if has("tags"):
            obj.tags = product.tags
        if has("category"):
            obj.category_id = categories.get(product.category)
        # A product staff took down keeps that status whatever the file says.
        if product.status is not None and obj.status != Product.Status.TAKEN_DOWN:
            obj.status = product.status
        for n, name in enumerate(product.option_names, start=1):
            if has(f"option{n}_name") or not stored:
                setattr(obj, f"option{n}_name", name)
        obj.currency = self.shop.currency
        # The from-price lists show and sort by; "was" price of that same variant.
        cheapest = min(variants, key=lambda variant: variant.price_minor)
        obj.price_minor = cheapest.price_minor
        obj.compare_at_minor = cheapest.compare_at_minor
        obj.search_document = search_document(
            title=obj.title,
            description_html=obj.description_html,
            tags=obj.tags,
            vendor=obj.vendor,
            product_type=obj.product_type,
        )

    def _write_images(
        self, products: list[_Product], objects: dict[_Product, Product], touched: set[_Product]
    ) -> tuple[dict[tuple[int, str], ProductImage], list[ProductImage]]:
        """Create the new remote images and move the known ones. Returns the file's images
        by (product id, URL), for the variants that point at them, and those to fetch."""
        by_url: dict[tuple[int, str], ProductImage] = {}
        new: list[ProductImage] = []
        changed: list[ProductImage] = []
        to_fetch: list[ProductImage] = []
        for product in products:
            obj = objects[product]
            for index, image in enumerate(product.images, start=1):
                stored = image.existing
                if stored is None:
                    stored = ProductImage(
                        product=obj,
                        state=ProductImage.State.REMOTE,
                        source_url=image.url,
                        position=image.position or index,
                        alt=image.alt,
                    )
                    new.append(stored)
                    to_fetch.append(stored)
                    touched.add(product)
                else:
                    position, alt = stored.position, stored.alt
                    if image.column == "image_src":  # a variant's reference says neither
                        position, alt = image.position or index, image.alt
                    # Named again after a failed fetch: perhaps the merchant fixed the host.
                    retry = stored.state == ProductImage.State.FAILED and bool(stored.source_url)
                    if retry or (stored.position, stored.alt) != (position, alt):
                        stored.position, stored.alt = position, alt
                        if retry:
                            stored.state, stored.error = ProductImage.State.REMOTE, ""
                            to_fetch.append(stored)
                        changed.append(stored)
                        touched.add(product)
                by_url[(obj.pk, image.url)] = stored
        ProductImage.objects.bulk_create(new, batch_size=_WRITE_BATCH)
        _update_rows(ProductImage, changed, ["position", "alt", "state", "error"])
        return by_url, to_fetch

    def _write_variants(
        self,
        products: list[_Product],
        objects: dict[_Product, Product],
        pairs: dict[_Product, list[tuple[Variant, _Variant]]],
        images: dict[tuple[int, str], ProductImage],
        touched: set[_Product],
    ) -> None:
        report = self.report
        new: list[Variant] = []
        changed: list[Variant] = []
        rekeyed: list[Variant] = []
        for product in products:
            obj = objects[product]
            for variant, row in pairs[product]:
                variant.product_id = obj.pk
                if "variant_image" in self.columns or variant.pk is None:
                    image = images.get((obj.pk, row.image_url)) if row.image_url else None
                    variant.image_id = image.pk if image is not None else None
                if variant.pk is None:
                    new.append(variant)
                    touched.add(product)
                    continue
                old, current = self.variant_before[variant.pk], _variant_values(variant)
                if current != old:
                    changed.append(variant)
                    touched.add(product)
                    if current[:4] != old[:4]:
                        rekeyed.append(variant)
        # Deleted first, created last, so that a SKU or an option combination freed by one
        # row is free for another.
        kept = []
        for chunk in _chunks(self.variant_deletes):
            try:
                Variant.objects.filter(pk__in=chunk).delete()
            except ProtectedError as exc:
                # A variant that was ordered stays (its orders point at it) with no stock,
                # so that it cannot be sold again; the others of the chunk go.
                ordered = {getattr(row, "variant_id", None) for row in exc.protected_objects}
                Variant.objects.filter(pk__in=chunk).exclude(pk__in=ordered).delete()
                Variant.objects.filter(pk__in=ordered & set(chunk)).update(stock=0)
                kept += sorted(ordered & set(chunk))
        self.variant_deletes = [pk for pk in self.variant_deletes if pk not in set(kept)]
        if rekeyed:
            # Rows are updated one at a time, so two variants trading SKUs or options would
            # meet the unique constraints halfway: park their keys on values nothing else
            # uses first.
            parked = [
                Variant(pk=v.pk, sku="", option1=f"\u2060{v.pk}", option2="", option3="")
                for v in rekeyed
            ]
            _update_rows(Variant, parked, ["sku", "option1", "option2", "option3"])
        _update_rows(Variant, changed, list(_VARIANT_COLUMNS))
        Variant.objects.bulk_create(new, batch_size=_WRITE_BATCH)
        report.variants_deleted = len(self.variant_deletes)
        report.variants_updated = len(changed)
        report.variants_created = len(new)


_REQUIRED_LABELS = {
    "handle": '"Handle" (or "URL handle")',
    "title": '"Title"',
    "price": '"Variant Price" (or "Price")',
}


def _variant_values(variant: Variant) -> tuple[Any, ...]:
    # SKU and options first: a change there needs the keys parked (see _write_variants).
    return tuple(getattr(variant, name) for name in _VARIANT_COLUMNS)


def _update_rows(model: type[models.Model], objects: list, fields: list[str]) -> None:
    """UPDATE each object's row to its current values: one prepared statement, executed
    for every row. Django's bulk_update compiles a CASE WHEN per row and column in Python,
    which took 13 s for 5,000 variants here against 0.2 s for this."""
    if not objects:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    # Only quoted table and column names from the model go into the text; values are
    # parameters.
    table, key = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608
    params = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns]
        + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first. Older Excel versions save "CSV" in the Windows
    code page: cp1252 is a superset of Latin-1 for text, and Latin-1 decodes anything."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    for encoding, name in (("utf-8-sig", "utf-8"), ("cp1252", "cp1252"), ("latin-1", "latin-1")):
        try:
            return data.decode(encoding), name
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), _IN_BATCH):
        yield items[start : start + _IN_BATCH]


def _match_image(url: str, images: list[ProductImage]) -> ProductImage | None:
    for image in images:
        if image.source_url and image.source_url == url:
            return image
    path = unquote(urlsplit(url).path)
    for image in images:
        if image.large and path.endswith("/" + image.large.name):
            return image
    return None


def _categories(names: set[str]) -> dict[str, int]:
    """Category ids by name, creating the missing ones (categories are shared by every
    shop; a name is matched by its slug, so "Shirts" and "shirts" are one category)."""
    slugs: dict[str, str] = {}
    for name in names:
        slug = (slugify(name) or slugify(name, allow_unicode=True))[:80]
        if slug:
            slugs[name] = slug
    if not slugs:
        return {}
    known: dict[str, int] = {}
    for chunk in _chunks(sorted(set(slugs.values()))):
        known.update(Category.objects.filter(slug__in=chunk).values_list("slug", "pk"))
    missing = {slug: name for name, slug in slugs.items() if slug not in known}
    if missing:
        # ignore_conflicts: another import may create the same category at the same time,
        # or the name may exist under another slug; both are read back below.
        Category.objects.bulk_create(
            [Category(name=name, slug=slug) for slug, name in missing.items()],
            batch_size=_WRITE_BATCH,
            ignore_conflicts=True,
        )
        for chunk in _chunks(sorted(missing)):
            known.update(Category.objects.filter(slug__in=chunk).values_list("slug", "pk"))
        by_name = dict(
            Category.objects.filter(
                name__in=[n for s, n in missing.items() if s not in known]
            ).values_list("name", "pk")
        )
    else:
        by_name = {}
    return {
        name: known[slug] if slug in known else by_name[name]
        for name, slug in slugs.items()
        if slug in known or name in by_name
    }


def _enqueue_fetches(image_ids: list[int]) -> None:
    for image_id in image_ids:
        image_fetch.delay(image_id=image_id)


# --- export -----------------------------------------------------------------------------------


def catalog_export_rows(*, shop: Shop, base_url: str = "") -> Iterator[list[str]]:
    """The shop's catalog as rows of Shopify's long-standing product CSV, header first:
    one row per variant, the first carrying the product's fields, pictures on the variant
    rows and the extra ones on rows of their own. Three queries per 500 products."""
    yield list(EXPORT_HEADERS)
    products = (
        Product.objects.filter(shop=shop)
        .select_related("category")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.order_by("position", "pk")),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk")),
        )
        .order_by("pk")
    )
    for product in products.iterator(chunk_size=500):
        yield from _product_rows(product, base_url)


def catalog_export_lines(*, shop: Shop, base_url: str = "") -> Iterator[str]:
    """The same, as CSV text one line at a time (for streaming responses and files)."""
    return csv_lines(catalog_export_rows(shop=shop, base_url=base_url))


def catalog_export(*, shop: Shop, base_url: str = "") -> str:
    """The whole catalog as one CSV string. Uploaded pictures are written as absolute URLs
    under base_url (e.g. "https://tapbuy.example/") when given, else as media paths that an
    import into the same shop still recognises; remote ones as the URL they came from."""
    return "".join(catalog_export_lines(shop=shop, base_url=base_url))


def _image_url(image: ProductImage, base_url: str) -> str:
    if image.source_url:
        return image.source_url
    if image.large:
        return urljoin(base_url, image.large.url) if base_url else image.large.url
    return ""


def _product_rows(product: Product, base_url: str) -> Iterable[list[str]]:
    variants = list(product.variants.all())
    all_images = list(product.images.all())
    images = [(image, url) for image in all_images if (url := _image_url(image, base_url))]
    urls = {image.pk: url for image, url in images}
    # Shopify writes a product without options as Option1 Name=Title, Value=Default Title.
    no_options = not product.option_names
    currency = product.currency
    for index in range(max(len(variants), len(images))):
        row = dict.fromkeys(EXPORT_HEADERS, "")
        row["Handle"] = product.handle
        if index == 0:
            row.update(
                {
                    "Title": product.title,
                    "Body (HTML)": product.description_html,
                    "Vendor": product.vendor,
                    "Product Category": product.category.name if product.category else "",
                    "Type": product.product_type,
                    "Tags": product.tags,
                    "Published": "TRUE" if product.status == Product.Status.ACTIVE else "FALSE",
                    "Option1 Name": "Title" if no_options else product.option1_name,
                    "Option2 Name": product.option2_name,
                    "Option3 Name": product.option3_name,
                    "Gift Card": "FALSE",
                    "Status": product.status,
                }
            )
        if index < len(variants):
            variant = variants[index]
            default = no_options and not (variant.option1 or variant.option2 or variant.option3)
            row.update(
                {
                    "Option1 Value": "Default Title" if default else variant.option1,
                    "Option2 Value": variant.option2,
                    "Option3 Value": variant.option3,
                    "Variant SKU": variant.sku,
                    "Variant Grams": str(variant.grams),
                    "Variant Inventory Tracker": "shopify",
                    "Variant Inventory Qty": str(variant.stock),
                    "Variant Inventory Policy": "deny",
                    "Variant Fulfillment Service": "manual",
                    "Variant Price": format_plain(variant.price_minor, currency),
                    "Variant Compare At Price": (
                        ""
                        if variant.compare_at_minor is None
                        else format_plain(variant.compare_at_minor, currency)
                    ),
                    "Variant Requires Shipping": "TRUE",
                    "Variant Taxable": "TRUE",
                    "Variant Barcode": variant.barcode,
                    "Variant Image": urls.get(variant.image_id, ""),
                    "Variant Weight Unit": "g",
                }
            )
        if index < len(images):
            image, url = images[index]
            row.update(
                {
                    "Image Src": url,
                    "Image Position": str(image.position),
                    "Image Alt Text": image.alt,
                }
            )
        yield [row[name] for name in EXPORT_HEADERS]
