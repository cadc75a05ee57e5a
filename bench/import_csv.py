"""Time the Shopify CSV import on the configured database.

    .venv/bin/python bench/import_csv.py                  # SQLite (the embedded default)
    DATABASE_URL=postgres://... .venv/bin/python bench/import_csv.py

Generates a catalog of --products × --variants rows (1,000 × 5 = 5,000 by default) into a
temporary directory and imports it three times through catalog_import: into an empty
shop, the same file again (nothing changes), and a file where every price and stock
changed. A throwaway business account and shop are created and deleted afterwards, unless
--shop names an existing shop (its catalog then keeps the bench-item-* products).
--images N adds N picture URLs per product; their fetch tasks are queued on the
configured broker and find nothing once the throwaway shop is gone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shop", help="Import into this existing shop instead.")
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument("--images", type=int, default=0)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from accounts.models import User
    from shops.catalog_csv import catalog_import
    from shops.models import Shop
    from tests.shops.csvgen import generate_catalog

    throwaway = args.shop is None
    if throwaway:
        handle = f"bench_{uuid.uuid4().hex[:8]}"
        owner = User.objects.create_user(handle, f"{handle}@example.com", is_business=True)
        shop = Shop.objects.create(
            owner=owner, handle=handle, name="Import benchmark", status=Shop.Status.APPROVED
        )
    else:
        shop = Shop.objects.select_related("owner").get(handle=args.shop.lower())

    shape = {
        "products": args.products,
        "variants": args.variants,
        "images": args.images,
        "prefix": "bench-item",
    }
    rows = args.products * args.variants
    print(
        f"{rows:,} rows ({args.products:,} products × {args.variants} variants, "
        f"{args.images} pictures each) into {connection.vendor} "
        f"{connection.settings_dict['NAME']}"
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            runs = [
                ("into an empty shop", generate_catalog(**shape)),
                ("the same file again", None),
                (
                    "every price and stock changed",
                    generate_catalog(**shape, price="21.50", stock=3),
                ),
            ]
            path = Path(folder) / "catalog.csv"
            for label, data in runs:
                if data is not None:
                    path.write_bytes(data)
                started = time.perf_counter()
                with path.open("rb") as source:
                    report = catalog_import(
                        shop=shop, actor=shop.owner, source=source, filename=path.name
                    )
                elapsed = time.perf_counter() - started
                if not report.ok:
                    sys.exit(report.summary())
                print(
                    f"  {label:<32} {elapsed:6.2f} s  (products +{report.products_created}"
                    f" ~{report.products_updated}, variants +{report.variants_created}"
                    f" ~{report.variants_updated})"
                )
    finally:
        if throwaway:
            shop.delete()
            owner.delete()


if __name__ == "__main__":
    main()
