"""Demo accounts for seed_demo. Later apps add their own demo data beside this."""

from __future__ import annotations

import io

from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont

from . import services
from .models import User

STAFF = ("admin", "admin@tapbuy.local", "tapbuy-admin-2026")
DEMO_PASSWORD = "tapbuy-demo-2026"  # noqa: S105 (public demo data, refused with DEBUG=0)
PEOPLE = [
    # handle, display name, bio, business, colours
    (
        "mia",
        "Mia Chen",
        "Linen, light and loose. Lives every Friday.",
        True,
        ("#ff2d55", "#7a5cff"),
    ),
    ("leo.makes", "Leo Park", "Ceramics from my studio, fired live.", True, ("#f5a623", "#ff2d55")),
    ("ava", "Ava Rossi", "Skincare that does what it says.", True, ("#25f4ee", "#2e86de")),
    ("noah", "Noah Smith", "Just here for the deals.", False, ("#2ecc71", "#16a085")),
    ("zoe", "Zoe Martin", "Gifts for my favourite hosts.", False, ("#9b59b6", "#e84393")),
]


def _avatar(initial: str, colours: tuple[str, str]) -> SimpleUploadedFile:
    size = 320
    top, bottom = (Image.new("RGB", (1, 1), c).getpixel((0, 0)) for c in colours)
    img = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(img)
    for y in range(size):
        t = y / (size - 1)
        draw.line(
            [(0, y), (size, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    draw.ellipse((60, 60, 260, 260), outline="white", width=10)
    draw.text(
        (160, 160),
        initial.upper(),
        fill="white",
        anchor="mm",
        font=ImageFont.load_default(size=120),
    )
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return SimpleUploadedFile("avatar.png", buffer.getvalue(), content_type="image/png")


def _ensure_user(handle: str, email: str, password: str, **fields) -> tuple[User, bool]:
    user = User.objects.filter(handle=handle).first()
    if user is not None:
        return user, False
    user = User.objects.create_user(handle, email, password, **fields)
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user, True


@transaction.atomic
def seed_accounts() -> list[tuple[str, str, str]]:
    """Create the staff user and demo people once; returns (role, login, password) rows."""
    handle, email, password = STAFF
    _ensure_user(
        handle, email, password, is_staff=True, is_superuser=True, display_name="Tapbuy staff"
    )
    rows = [("staff", handle, password)]
    users = {}
    for handle, name, bio, business, colours in PEOPLE:
        user, created = _ensure_user(
            handle,
            f"{handle.replace('.', '')}@demo.tapbuy.local",
            DEMO_PASSWORD,
            display_name=name,
            bio=bio,
            is_business=business,
        )
        if created:
            services.profile_update(user=user, avatar=_avatar(name[0], colours))
        users[handle] = user
        rows.append(("business" if business else "shopper", handle, DEMO_PASSWORD))
    for follower in ("noah", "zoe", "ava"):
        for followee in ("mia", "leo.makes"):
            services.user_follow(follower=users[follower], followee=users[followee])
    return rows
