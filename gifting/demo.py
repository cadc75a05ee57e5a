"""Demo coins and gifts for seed_demo: the coin packs of settings.GIFTING_COIN_PACKS, the
gift catalog with pictures, a pack bought by each demo shopper (with the card orders'
demo saved for them, so this runs after it), and a past live of Leo's in which they sent
gifts, settled into one statement so that his earnings page has a history and a balance."""

from __future__ import annotations

import io
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.templatetags.static import static
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from accounts.models import User
from payments.money import MoneyError, parse_minor
from streams import services as streams_services
from streams.models import Stream

from . import services
from .errors import GiftNotFound, NotEnoughCoins
from .models import CoinPack, Gift, GiftSend
from .settlement import earnings_settle

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
# The past live with a gift history: its host, its title, and who sent what (sender, gift
# slug, quantity). Each send has a fixed idempotency key, so a rerun sends nothing twice;
# the shoppers keep most of their coins for trying the gift panel themselves.
GIFTED_LIVE = ("leo.makes", "Kiln opening: last week's glazes")
GIFT_HISTORY = [
    ("zoe", "confetti", 2),
    ("noah", "donut", 3),
    ("zoe", "heart", 20),
    ("noah", "sunglasses", 1),
    ("noah", "rose", 25),
]


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


def _seed_gift_history() -> Stream:
    """The past live, its gifts and their settlement, each step once. The live is scheduled,
    put on air, gifted and ended through the streams and gifting services, as a real one;
    a rerun finds it ended and only settles what may be left unsettled (a first run that
    stopped halfway)."""
    handle, title = GIFTED_LIVE
    host = User.objects.get(handle=handle)
    stream = Stream.objects.filter(host=host, title=title).first()
    if stream is None:
        stream, _key = streams_services.stream_schedule(
            host=host, title=title, scheduled_at=timezone.now() - timedelta(days=2)
        )
    if stream.status == Stream.Status.SCHEDULED:
        stream = streams_services.stream_go_live(
            stream=stream, actor=host, playback_url=static("streams/demo-loop.mp4")
        )
    if stream.status == Stream.Status.LIVE:
        gifts = dict(Gift.objects.filter(active=True).values_list("slug", "pk"))
        senders = {h: User.objects.get(handle=h) for h in {h for h, _, _ in GIFT_HISTORY}}
        for number, (sender, slug, quantity) in enumerate(GIFT_HISTORY):
            if slug not in gifts:
                continue  # staff retired it
            try:
                services.gift_send(
                    sender=senders[sender],
                    stream_id=stream.pk,
                    gift_id=gifts[slug],
                    quantity=quantity,
                    idempotency_key=f"demo:gift:{number}",
                )
            except (GiftNotFound, NotEnoughCoins):
                continue  # staff changed the catalog or the packs: fewer gifts, still a demo
        stream = streams_services.stream_end(stream=stream, actor=host, reason="demo")
    if GiftSend.objects.filter(creator=host, statement__isnull=True).exists():
        # Settles everything sent until now, like the scheduled task at a period's end.
        earnings_settle(until=timezone.now())
    return stream


def seed() -> list[str]:
    _seed_packs()
    _seed_gifts()
    for handle, coins in PURCHASES.items():
        user = User.objects.get(handle=handle)
        pack = CoinPack.objects.filter(coins=coins, active=True).first()
        pack = pack or CoinPack.objects.filter(active=True).order_by("position", "pk").first()
        if pack is not None:
            services.coins_buy(buyer=user, pack_id=pack.pk, checkout_key=f"demo:coins:{handle}")
    gifted = _seed_gift_history()
    return [
        f"coins      {CoinPack.objects.filter(active=True).count()} packs on sale, "
        f"{Gift.objects.count()} gifts; noah and zoe have coins: /wallet/",
        f"gifts      {gifted.host.handle} got gifts in /live/{gifted.pk}, settled: /earnings/",
    ]
