"""Demo coins and gifts for seed_demo: the coin packs of settings.GIFTING_COIN_PACKS, the
gift catalog with pictures, and a pack bought by each demo shopper (with the card orders'
demo saved for them, so this runs after it)."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

from accounts.models import User
from payments.money import MoneyError, parse_minor

from . import services
from .models import CoinPack, Gift

GIFTS = [
    # slug, name, coins, level, colours
    ("rose", "Rose", 1, Gift.Level.SMALL, ("#ff2d55", "#c2185b")),
    ("heart", "Heart", 5, Gift.Level.SMALL, ("#ff6b81", "#ff2d55")),
    ("donut", "Donut", 30, Gift.Level.SMALL, ("#f5a623", "#e84393")),
    ("sunglasses", "Sunglasses", 99, Gift.Level.SMALL, ("#2e86de", "#222f3e")),
    ("confetti", "Confetti", 299, Gift.Level.LARGE, ("#25f4ee", "#7a5cff")),
    ("sports-car", "Sports car", 1_500, Gift.Level.LARGE, ("#ff3f34", "#f5a623")),
    ("rocket", "Rocket", 10_000, Gift.Level.FULLSCREEN, ("#7a5cff", "#25f4ee")),
    ("lion", "Lion", 29_999, Gift.Level.FULLSCREEN, ("#f5a623", "#b35900")),
]
# Who buys which pack (by its coins), once: the checkout key makes a rerun buy nothing.
PURCHASES = {"noah": 700, "zoe": 1_400}


def coin_packs_from_settings() -> list[tuple[int, int]]:
    """settings.GIFTING_COIN_PACKS ("coins=price" in TAPBUY_CURRENCY) as (coins, minor)."""
    currency = settings.TAPBUY_CURRENCY
    packs = []
    for item in settings.GIFTING_COIN_PACKS:
        coins, _, price = str(item).partition("=")
        try:
            packs.append((int(coins), parse_minor(price, currency)))
        except (ValueError, MoneyError) as exc:
            raise ImproperlyConfigured(
                f"GIFTING_COIN_PACKS: {item!r} is not coins=price (like 350=4.99)."
            ) from exc
    return packs


def _picture(letter: str, colours: tuple[str, str]) -> SimpleUploadedFile:
    size = 256
    top, bottom = (Image.new("RGB", (1, 1), c).getpixel((0, 0)) for c in colours)
    img = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(img)
    for y in range(size):
        t = y / (size - 1)
        draw.line(
            [(0, y), (size, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    draw.ellipse((36, 36, 220, 220), outline="white", width=12)
    draw.text((128, 128), letter, fill="white", anchor="mm", font=ImageFont.load_default(size=110))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return SimpleUploadedFile("gift.png", buffer.getvalue(), content_type="image/png")


def _seed_packs() -> None:
    if CoinPack.objects.exists():
        return  # staff's packs from now on
    CoinPack.objects.bulk_create(
        CoinPack(coins=coins, price_minor=price, currency=settings.TAPBUY_CURRENCY, position=index)
        for index, (coins, price) in enumerate(coin_packs_from_settings())
    )


def _seed_gifts() -> None:
    existing = set(Gift.objects.values_list("slug", flat=True))
    for position, (slug, name, coins, level, colours) in enumerate(GIFTS):
        if slug in existing:
            continue
        image = services.gift_image_clean(upload=_picture(name[0], colours))
        image.name = f"{slug}.webp"
        Gift.objects.create(
            slug=slug, name=name, coins=coins, level=level, position=position, image=image
        )


def seed() -> list[str]:
    _seed_packs()
    _seed_gifts()
    for handle, coins in PURCHASES.items():
        user = User.objects.get(handle=handle)
        pack = CoinPack.objects.filter(coins=coins, active=True).first()
        pack = pack or CoinPack.objects.filter(active=True).order_by("position", "pk").first()
        if pack is not None:
            services.coins_buy(buyer=user, pack_id=pack.pk, checkout_key=f"demo:coins:{handle}")
    return [
        f"coins      {CoinPack.objects.filter(active=True).count()} packs on sale, "
        f"{Gift.objects.count()} gifts; noah and zoe have coins: /wallet/"
    ]
