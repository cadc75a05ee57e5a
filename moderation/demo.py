"""Demo moderation for seed_demo: one staff user per role (to try what each may do), and
a few open reports in the queue: a spammer's chat line in Mia's live reported twice, a
product once."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.demo import DEMO_PASSWORD, _ensure_user
from accounts.models import User
from shops.models import Product
from streams import services as streams_services
from streams.models import ChatMessage, Stream

from .models import Report
from .reports import report_create
from .roles import FINANCE, MODERATORS, roles_ensure

STAFF = [("mona", "Mona (moderator)", MODERATORS), ("finn", "Finn (finance)", FINANCE)]
SPAM = "free followers at followers.example, dm me"


@transaction.atomic
def seed() -> list[str]:
    roles_ensure()
    for handle, name, role in STAFF:
        user, _ = _ensure_user(
            handle, f"{handle}@demo.tapbuy.local", DEMO_PASSWORD, display_name=name, is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
    noah, zoe = (User.objects.get(handle=h) for h in ("noah", "zoe"))
    spammer, _ = _ensure_user(
        "cheap.followers",
        "cheapfollowers@demo.tapbuy.local",
        DEMO_PASSWORD,
        display_name="Cheap Followers",
    )
    live = Stream.objects.filter(host__handle="mia", status=Stream.Status.LIVE).first()
    if live is not None:
        line = ChatMessage.objects.filter(stream=live, user=spammer, text=SPAM).first()
        if line is None:
            line = streams_services.chat_send(user=spammer, stream_id=live.pk, text=SPAM)
        _report(noah, "chat_message", line.pk, "spam", "Link spam in the chat")
        _report(zoe, "chat_message", line.pk, "scam", "")
    product = Product.objects.filter(shop__owner__handle="leo.makes", status="active").first()
    if product is not None:
        _report(zoe, "product", product.pk, "counterfeit", "The glaze looks printed, not fired")
    open_reports = Report.objects.filter(status=Report.Status.OPEN).count()
    return [
        f"moderator mona / finance finn ({DEMO_PASSWORD}) in /admin/: "
        f"{open_reports} open reports in the queue",
    ]


def _report(reporter: User, kind: str, target_id: int, reason: str, text: str) -> None:
    if Report.objects.filter(reporter=reporter, target_type=kind, target_id=target_id).exists():
        return  # seeded before (and maybe decided since): not again
    report_create(
        reporter=reporter, target_type=kind, target_id=target_id, reason=reason, text=text
    )
