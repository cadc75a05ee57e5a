"""Demo shops for seed_demo: three approved shops with products, variants and drawn
product pictures, and one shop waiting for approval."""

from __future__ import annotations

import io
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image, ImageDraw

from accounts.models import User

from . import services
from .models import Category, Product, Shop

SIZE = 1080

CATEGORIES = ["Apparel", "Home & Kitchen", "Beauty", "Accessories"]

SHOPS = [
    {
        "owner": "mia",
        "handle": "mialinen",
        "name": "Mia Linen",
        "description": "Washed linen clothes, cut and sewn in small batches.",
        "return_policy": "Free returns within 30 days, unworn, with tags.",
        "kind": "shirt",
        "category": "Apparel",
        "products": [
            ("Linen shirt", 4900, ["Sand", "Sage", "Ink"]),
            ("Oversized linen tee", 3200, ["Oat", "Rust"]),
            ("Wide-leg trousers", 6800, ["Sand", "Black"]),
            ("Linen shorts", 3900, ["Sage"]),
            ("Wrap dress", 8900, ["Ink", "Terracotta"]),
            ("Camp collar shirt", 5400, ["Sky"]),
            ("Linen overshirt", 7200, ["Olive"]),
            ("Sleeveless top", 2900, ["Cream", "Blush"]),
            ("Drawstring skirt", 5600, ["Sand"]),
            ("Kids' linen tee", 1900, ["Sky", "Oat"]),
        ],
    },
    {
        "owner": "leo.makes",
        "handle": "leostudio",
        "name": "Leo's Clay Studio",
        "description": "Wheel-thrown stoneware, glazed and fired in Leo's studio.",
        "return_policy": "Breakage in transit is replaced. Returns within 14 days.",
        "kind": "mug",
        "category": "Home & Kitchen",
        "products": [
            ("Speckled mug", 2800, ["Speckled", "Celadon"]),
            ("Espresso cup pair", 3400, ["Charcoal"]),
            ("Pour-over dripper", 4200, ["Cream"]),
            ("Serving bowl", 5800, ["Celadon", "Rust"]),
            ("Dinner plate", 3600, ["Speckled"]),
            ("Bud vase", 2400, ["Cobalt", "Cream"]),
            ("Tea bowl", 3000, ["Tenmoku"]),
            ("Pitcher", 6400, ["Speckled"]),
            ("Salt cellar", 1800, ["Cobalt"]),
        ],
    },
    {
        "owner": "ava",
        "handle": "avaskin",
        "name": "Ava Skin Lab",
        "description": "Short ingredient lists, real results, refillable glass.",
        "return_policy": "Opened products can be returned within 30 days if they don't suit you.",
        "kind": "bottle",
        "category": "Beauty",
        "products": [
            ("Hydrating serum", 3600, ["30 ml", "50 ml"]),
            ("Vitamin C drops", 4200, ["30 ml"]),
            ("Gentle cleanser", 2200, ["150 ml", "300 ml"]),
            ("Barrier cream", 3800, ["50 ml"]),
            ("SPF 50 fluid", 2900, ["50 ml"]),
            ("Night oil", 4600, ["30 ml"]),
            ("Lip balm trio", 1600, ["Trio"]),
            ("Clay mask", 2700, ["75 ml"]),
            ("Toner mist", 2400, ["100 ml"]),
            ("Eye gel", 3100, ["15 ml"]),
            ("Body lotion", 2600, ["250 ml"]),
        ],
    },
]

COLOURS = {
    "Sand": "#d8c3a5",
    "Sage": "#9caf88",
    "Ink": "#2c3e50",
    "Oat": "#e6dcc8",
    "Rust": "#b7472a",
    "Black": "#222222",
    "Terracotta": "#c4673f",
    "Sky": "#7fb3d5",
    "Olive": "#6b7b3a",
    "Cream": "#f3ead7",
    "Blush": "#e8b4b8",
    "Speckled": "#e9e2d0",
    "Celadon": "#a8c3a0",
    "Charcoal": "#3b3b3b",
    "Cobalt": "#2e4fa3",
    "Tenmoku": "#5a3220",
}
BACKGROUNDS = ["#f6efe6", "#e8eef2", "#f2e9ef", "#eef2e6"]


def _draw(kind: str, colour: str, background: str, angle: int) -> SimpleUploadedFile:
    img = Image.new("RGB", (SIZE, SIZE), background)
    d = ImageDraw.Draw(img)
    d.ellipse((240, 860, 840, 960), fill="#d9d2c5")
    shift = angle * 40
    if kind == "shirt":
        body = [
            (340 + shift, 300),
            (740 + shift, 300),
            (900 + shift, 420),
            (820 + shift, 520),
            (740 + shift, 470),
            (740 + shift, 880),
            (340 + shift, 880),
            (340 + shift, 470),
            (260 + shift, 520),
            (180 + shift, 420),
        ]
        d.polygon(body, fill=colour, outline="#00000055")
        d.polygon([(470 + shift, 300), (540 + shift, 380), (610 + shift, 300)], fill=background)
    elif kind == "mug":
        d.rounded_rectangle(
            (330 + shift, 330, 690 + shift, 860),
            radius=40,
            fill=colour,
            outline="#00000044",
            width=6,
        )
        d.arc((600 + shift, 430, 820 + shift, 720), start=-90, end=90, fill=colour, width=48)
        for _ in range(60):
            x, y = random.randint(350, 670) + shift, random.randint(350, 840)
            d.ellipse((x, y, x + 6, y + 6), fill="#00000033")
    else:
        d.rounded_rectangle(
            (420 + shift, 380, 660 + shift, 880),
            radius=50,
            fill=colour,
            outline="#00000044",
            width=6,
        )
        d.rectangle((490 + shift, 260, 590 + shift, 380), fill="#333333")
        d.rectangle((450 + shift, 560, 630 + shift, 720), fill="#fafafa")
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return SimpleUploadedFile("demo.png", buffer.getvalue(), content_type="image/png")


def _variants(kind: str, price: int, colours: list[str]) -> tuple[dict, list[dict]]:
    rng = random.Random(price)
    if kind == "shirt":
        names = {"option1_name": "Colour", "option2_name": "Size"}
        rows = [
            {"option1": c, "option2": s, "price_minor": price, "stock": rng.randint(0, 25)}
            for c in colours
            for s in ("S", "M", "L")
        ]
    elif kind == "bottle":
        names = {"option1_name": "Size"}
        rows = [
            {"option1": c, "price_minor": price + 1200 * i, "stock": rng.randint(2, 60)}
            for i, c in enumerate(colours)
        ]
    else:
        names = {"option1_name": "Glaze"}
        rows = [{"option1": c, "price_minor": price, "stock": rng.randint(0, 12)} for c in colours]
    for n, row in enumerate(rows):
        row["sku"] = f"{kind[:3].upper()}-{price}-{n}"
    return names, rows


def _palette_colour(kind: str, name: str) -> str:
    return COLOURS.get(name, "#c9a7eb" if kind == "bottle" else "#999999")


@transaction.atomic
def seed() -> list[str]:
    random.seed(7)
    for name in CATEGORIES:
        Category.objects.get_or_create(
            slug=name.lower().replace(" & ", "-"), defaults={"name": name}
        )
    lines = []
    for spec in SHOPS:
        owner = User.objects.get(handle=spec["owner"])
        shop = Shop.objects.filter(owner=owner).first()
        if shop is None:
            shop = services.shop_open(
                owner=owner,
                name=spec["name"],
                handle=spec["handle"],
                description=spec["description"],
                return_policy=spec["return_policy"],
            )
            services.shop_approve(shop_id=shop.pk, actor=None, reason="Demo data")
            shop.refresh_from_db()
        category = Category.objects.get(name=spec["category"])
        for index, (title, price, colours) in enumerate(spec["products"]):
            if Product.objects.filter(shop=shop, title=title).exists():
                continue
            names, rows = _variants(spec["kind"], price, colours)
            product = services.product_create(
                shop=shop,
                actor=owner,
                title=title,
                variants=rows,
                category=category,
                status="active",
                tags=f"{spec['category'].lower()}, demo",
                description=f"**{title}** from {shop.name}.\n\n{spec['description']}",
                affiliate_rate_bp=1000 if index % 2 == 0 else 0,
                **names,
            )
            for angle, colour in enumerate(colours[:3] or ["Sand"]):
                services.product_image_add(
                    product=product,
                    actor=owner,
                    alt=f"{title} in {colour}",
                    upload=_draw(
                        spec["kind"],
                        _palette_colour(spec["kind"], colour),
                        BACKGROUNDS[(index + angle) % len(BACKGROUNDS)],
                        angle - 1,
                    ),
                )
        lines.append(f"shop      /shop/{shop.handle} ({shop.products.count()} products)")

    pending_owner = User.objects.filter(handle="kai.crafts").first()
    if pending_owner is None:
        pending_owner = User.objects.create_user(
            "kai.crafts",
            "kai@demo.tapbuy.local",
            "tapbuy-demo-2026",
            display_name="Kai Ito",
            is_business=True,
        )
    if not Shop.objects.filter(owner=pending_owner).exists():
        services.shop_open(
            owner=pending_owner,
            name="Kai Crafts",
            handle="kaicrafts",
            description="Hand-bound notebooks.",
        )
    lines.append("pending   kaicrafts (waiting for approval in /admin/)")
    return lines
