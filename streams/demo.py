"""Demo lives for seed_demo: one on air with a looping video, a carousel with a pinned
product and a running flash deal; one coming up; one replay with its carousel history."""

from __future__ import annotations

from datetime import timedelta

from django.templatetags.static import static
from django.utils import timezone

from accounts.models import User
from shops.models import Product

from . import services
from .models import Deal, Stream


def _stream(host: User, title: str, **kwargs) -> tuple[Stream, bool]:
    existing = Stream.objects.filter(host=host, title=title).first()
    if existing is not None:
        return existing, False
    stream, _key = services.stream_schedule(host=host, title=title, **kwargs)
    return stream, True


def seed() -> list[str]:
    mia, leo, ava = (User.objects.get(handle=h) for h in ("mia", "leo.makes", "ava"))
    video = static("streams/demo-loop.mp4")

    live, created = _stream(mia, "Friday linen drop: new colours", scheduled_at=timezone.now())
    products = list(Product.objects.filter(shop__owner=mia, status="active").order_by("pk")[:6])
    partner = Product.objects.filter(shop__owner=leo, affiliate_rate_bp__gt=0).first()
    if created:
        services.stream_go_live(stream=live, actor=mia, playback_url=video)
        ids = [p.pk for p in products] + ([partner.pk] if partner else [])
        services.carousel_set(stream=live, actor=mia, product_ids=ids)
        services.carousel_pin(stream=live, actor=mia, product_id=products[0].pk)
        services.chat_settings(stream=live, actor=mia, blocked_words="scam\nfake")
    live.refresh_from_db()
    if (
        live.status == Stream.Status.LIVE
        and not Deal.objects.filter(stream=live, status=Deal.Status.ACTIVE).exists()
    ):
        deal_product = products[1]
        services.deal_start(
            stream=live,
            actor=mia,
            product_id=deal_product.pk,
            price_minor=deal_product.price_minor * 7 // 10,
            quantity=25,
            seconds=3600,
        )

    _stream(leo, "Glazing day: throw along", scheduled_at=timezone.now() + timedelta(days=1))

    replay, created = _stream(
        ava, "Morning routine in 10 minutes", scheduled_at=timezone.now() - timedelta(days=1)
    )
    if created:
        services.stream_go_live(stream=replay, actor=ava, playback_url=video)
        for product in Product.objects.filter(shop__owner=ava, status="active").order_by("pk")[:3]:
            services.carousel_pin(stream=replay, actor=ava, product_id=product.pk)
        services.stream_end(stream=replay, actor=ava, reason="demo")
        Stream.objects.filter(pk=replay.pk).update(replay_url=video)
    return [
        f"live      /live/{live.pk} (python manage.py simulate_live {live.pk} brings viewers)",
        f"replay    /live/{replay.pk}",
    ]
