"""Shopify product CSVs for tests and the import benchmark.

Rows are written as dicts keyed by the long-standing (classic) header names; `to_csv`
renames them for the 2024 dialect, so one test body can check both formats.
"""

from __future__ import annotations

import csv
import io

CLASSIC_HEADERS = [
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
    "Option1 Linked To",
    "Option2 Name",
    "Option2 Value",
    "Option2 Linked To",
    "Option3 Name",
    "Option3 Value",
    "Option3 Linked To",
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
    "Google Shopping / Google Product Category",
    "Google Shopping / Gender",
    "Color (product.metafields.shopify.color-pattern)",
    "Variant Image",
    "Variant Weight Unit",
    "Variant Tax Code",
    "Cost per item",
    "Price / International",
    "Status",
]

# Classic header -> the 2024 export's name for the same column (the rest keep their name
# or have no 2024 counterpart and are dropped).
TO_2024 = {
    "Handle": "URL handle",
    "Body (HTML)": "Description",
    "Product Category": "Product category",
    "Published": "Published on online store",
    "Option1 Name": "Option1 name",
    "Option1 Value": "Option1 value",
    "Option2 Name": "Option2 name",
    "Option2 Value": "Option2 value",
    "Option3 Name": "Option3 name",
    "Option3 Value": "Option3 value",
    "Variant SKU": "SKU",
    "Variant Barcode": "Barcode",
    "Variant Price": "Price",
    "Variant Compare At Price": "Compare-at price",
    "Variant Taxable": "Charge tax",
    "Variant Tax Code": "Tax code",
    "Variant Inventory Tracker": "Inventory tracker",
    "Variant Inventory Qty": "Inventory quantity",
    "Variant Inventory Policy": "Continue selling when out of stock",
    "Variant Grams": "Weight value (grams)",
    "Variant Weight Unit": "Weight unit for display",
    "Variant Requires Shipping": "Requires shipping",
    "Variant Fulfillment Service": "Fulfillment service",
    "Image Src": "Product image URL",
    "Image Position": "Image position",
    "Image Alt Text": "Image alt text",
    "Variant Image": "Variant image URL",
    "Gift Card": "Gift card",
    "SEO Title": "SEO title",
    "SEO Description": "SEO description",
}
HEADERS_2024 = [
    "Title",
    "URL handle",
    "Description",
    "Vendor",
    "Product category",
    "Type",
    "Tags",
    "Published on online store",
    "Status",
    "SKU",
    "Barcode",
    "Option1 name",
    "Option1 value",
    "Option2 name",
    "Option2 value",
    "Option3 name",
    "Option3 value",
    "Price",
    "Price / International",
    "Compare-at price",
    "Cost per item",
    "Charge tax",
    "Tax code",
    "Inventory tracker",
    "Inventory quantity",
    "Continue selling when out of stock",
    "Weight value (grams)",
    "Weight unit for display",
    "Requires shipping",
    "Fulfillment service",
    "Product image URL",
    "Image position",
    "Image alt text",
    "Variant image URL",
    "Gift card",
    "SEO title",
    "SEO description",
    "Google Shopping / Google product category",
]


def to_csv(
    rows: list[dict[str, str]],
    *,
    dialect: str = "classic",
    encoding: str = "utf-8",
    headers: list[str] | None = None,
) -> bytes:
    """Rows keyed by classic header names, as the bytes of a CSV in the given dialect.
    `headers` (classic names) narrows or reorders the columns."""
    if dialect == "2024":
        rows = [{TO_2024.get(key, key): value for key, value in row.items()} for row in rows]
        fieldnames = [TO_2024.get(h, h) for h in headers] if headers else HEADERS_2024
    else:
        fieldnames = headers or CLASSIC_HEADERS
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, extrasaction="raise", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def product_rows(
    handle: str,
    *,
    title: str,
    variants: list[dict[str, str]] | None = None,
    images: list[str] | tuple[str, ...] = (),
    options: tuple[str, ...] = (),
    **product: str,
) -> list[dict[str, str]]:
    """One product in Shopify's shape: the first row carries the product's fields and the
    first variant, each variant row one picture, extra pictures rows of their own.

    variants: dicts of variant columns ("Option1 Value", "Variant SKU", "Variant Price",
    ...); none gives one variant without options (Option1 Name=Title, Default Title).
    product: more product columns by header name with spaces as underscores, such as
    Body_HTML, Vendor, Tags, Status, Published."""
    if variants is None:
        variants = [{"Option1 Value": "Default Title", "Variant Price": "10.00"}]
        options = ("Title",)
    first = {
        "Title": title,
        "Published": "TRUE",
        "Status": "active",
        "Gift Card": "FALSE",
        **{_header(key): value for key, value in product.items()},
    }
    for n, name in enumerate(options, start=1):
        first[f"Option{n} Name"] = name
    rows = []
    for index in range(max(len(variants), len(images))):
        row = {"Handle": handle, **(first if index == 0 else {})}
        if index < len(variants):
            row.update(
                {
                    "Variant Inventory Tracker": "shopify",
                    "Variant Inventory Policy": "deny",
                    "Variant Fulfillment Service": "manual",
                    "Variant Requires Shipping": "TRUE",
                    "Variant Taxable": "TRUE",
                    "Variant Grams": "0.0",
                    "Variant Weight Unit": "kg",
                    "Variant Inventory Qty": "0",
                    **variants[index],
                }
            )
        if index < len(images):
            row.update(
                {"Image Src": images[index], "Image Position": str(index + 1), "Image Alt Text": ""}
            )
        rows.append(row)
    return rows


def _header(key: str) -> str:
    return {"Body_HTML": "Body (HTML)", "Product_Category": "Product Category"}.get(
        key, key.replace("_", " ")
    )


def generate_catalog(
    *,
    products: int = 1000,
    variants: int = 5,
    images: int = 1,
    dialect: str = "classic",
    price: str = "19.99",
    stock: int = 7,
    prefix: str = "item",
) -> bytes:
    """A catalog of `products` products with `variants` sizes each (products × variants
    rows when images <= variants), every SKU unique: the shape of a real shop's export."""
    sizes = ["XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL"]
    sizes += [f"Size {n}" for n in range(len(sizes) + 1, variants + 1)]
    rows: list[dict[str, str]] = []
    for p in range(products):
        handle = f"{prefix}-{p:05d}"
        rows += product_rows(
            handle,
            title=f"Organic cotton tee {p}",
            Body_HTML=f"<p>Soft <strong>organic</strong> cotton, batch {p}.</p>",
            Vendor="Tapbuy Basics",
            Product_Category="Apparel & Accessories > Clothing > Shirts & Tops",
            Type="T-Shirt",
            Tags="cotton, organic, summer",
            options=("Size",),
            variants=[
                {
                    "Option1 Value": sizes[v],
                    "Variant SKU": f"{handle}-{v}",
                    "Variant Price": price,
                    "Variant Compare At Price": "",
                    "Variant Inventory Qty": str(stock),
                    "Variant Grams": "180",
                    "Variant Barcode": f"{p:06d}{v:02d}",
                }
                for v in range(variants)
            ],
            images=[f"https://cdn.example.com/{handle}/{i}.jpg" for i in range(images)],
        )
    return to_csv(rows, dialect=dialect)
