"""Writes for lives: scheduling, going on air, the carousel, flash deals, chat and its
moderation. Every change that viewers see is announced with events.publish after commit."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.images import image_renditions
from accounts.models import User
from accounts.permissions import staff_can
from outbox.services import task_enqueue
from shops.models import Product, Shop

from . import events, snapshots
from .errors import (
    ChatRefused,
    DealRunning,
    HostSuspended,
    InvalidTransition,
    NotHost,
    ProductNotAllowed,
    StreamNotLive,
)
from .models import (
    STREAM_TRANSITIONS,
    CarouselEvent,
    CarouselItem,
    ChatMessage,
    ChatMute,
    Deal,
    Reminder,
    Stream,
    hash_stream_key,
)

CHAT_MAX_CHARS = 200
DEAL_GRACE_SECONDS = 5
CAROUSEL_MAX = 50


def _check_host(stream: Stream, actor: User | None, permission: str = "end_live") -> None:
    """The live's host, or staff whose role holds the permission (moderators)."""
    if actor is None or not (actor.pk == stream.host_id or staff_can(actor, permission)):
        raise NotHost()


def new_stream_key() -> str:
    return f"live_{secrets.token_urlsafe(24)}"


# --- lives ----------------------------------------------------------------------------------


def stream_schedule(
    *, host: User, title: str, scheduled_at: datetime, cover=None, playback_url: str = ""
) -> tuple[Stream, str]:
    """Schedule a live. Returns the stream and its secret stream key, which is shown to
    the host once and stored only as a hash."""
    cover_content = None
    if cover is not None:
        (rendition,) = image_renditions(
            upload=cover,
            widths=(720,),
            max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES,
            max_pixels=settings.PRODUCT_IMAGE_MAX_PIXELS,
        )
        cover_content = rendition.content
    key = new_stream_key()
    stream = Stream(
        host=host,
        title=title.strip(),
        scheduled_at=scheduled_at,
        playback_url=playback_url.strip(),
        stream_key_hash=hash_stream_key(key),
        stream_key_hint=key[-4:],
    )
    with transaction.atomic():
        if cover_content is not None:
            stream.cover.save(f"{host.pk}-{secrets.token_hex(4)}.webp", cover_content, save=False)
        stream.save()
    return stream, key


def stream_key_rotate(*, stream: Stream, actor: User) -> str:
    """A new secret key; the old one stops working at once (the next publish is refused)."""
    _check_host(stream, actor)
    key = new_stream_key()
    Stream.objects.filter(pk=stream.pk).update(
        stream_key_hash=hash_stream_key(key), stream_key_hint=key[-4:]
    )
    stream.stream_key_hash, stream.stream_key_hint = hash_stream_key(key), key[-4:]
    return key


def _transition(stream_id: int, to: str, **changes) -> Stream:
    sources = [s for s, targets in STREAM_TRANSITIONS.items() if to in targets]
    with transaction.atomic():
        if not Stream.objects.filter(pk=stream_id, status__in=sources).update(status=to, **changes):
            raise InvalidTransition()
        stream = Stream.objects.get(pk=stream_id)
        events.publish(stream, "stream.state", snapshots.stream_state(stream))
    return stream


def stream_go_live(*, stream: Stream, actor: User | None, playback_url: str = "") -> Stream:
    """On air: from the host's Go live button (with a playback URL) or the ingest hook
    (actor None). Going live twice is harmless: the second call changes nothing."""
    if actor is not None:
        _check_host(stream, actor)
    if stream.status == Stream.Status.LIVE:
        return stream
    # A host suspended by staff stays off air, whichever way they try (moderation).
    until = (
        User.objects.filter(pk=stream.host_id)
        .values_list("live_suspended_until", flat=True)
        .first()
    )
    if until is not None and until > timezone.now():
        raise HostSuspended(until)
    changes = {"started_at": timezone.now()}
    if playback_url:
        changes["playback_url"] = playback_url.strip()
    with transaction.atomic():
        stream = _transition(stream.pk, Stream.Status.LIVE, **changes)
        # Through the outbox: a broker that is down neither fails going live nor loses
        # the reminders.
        task_enqueue(task="streams.reminders_notify", kwargs={"stream_id": stream.pk})
    return stream


def stream_end(*, stream: Stream, actor: User | None, reason: str = "") -> Stream:
    """Off air (End button, publish_done hook, or staff). Ends its deal and unpins."""
    if actor is not None:
        _check_host(stream, actor)
    with transaction.atomic():
        stream = _transition(
            stream.pk, Stream.Status.ENDED, ended_at=timezone.now(), ended_reason=reason[:200]
        )
        active = Deal.objects.filter(stream=stream, status=Deal.Status.ACTIVE).first()
        if active is not None:
            deal_end(deal_id=active.pk, reason="live_ended")
    return stream


def stream_cancel(*, stream: Stream, actor: User) -> Stream:
    _check_host(stream, actor)
    return _transition(stream.pk, Stream.Status.CANCELLED, ended_at=timezone.now())


def stream_by_key(key: str) -> Stream | None:
    if not key or len(key) > 200:
        return None
    return (
        Stream.objects.select_related("host").filter(stream_key_hash=hash_stream_key(key)).first()
    )


def hook_publish(*, key: str) -> Stream | None:
    """The media server reports a publish with this key: put the live on air. Unknown,
    rotated or banned keys (and lives that ended) return None: the caller refuses."""
    stream = stream_by_key(key)
    if stream is None or not stream.host.is_active:
        return None
    if stream.status == Stream.Status.LIVE:
        return stream
    if stream.status != Stream.Status.SCHEDULED:
        return None
    playback = stream.playback_url or _hls_url(stream)
    return stream_go_live(stream=stream, actor=None, playback_url=playback)


def hook_publish_done(*, key: str) -> Stream | None:
    stream = stream_by_key(key)
    if stream is None or stream.status != Stream.Status.LIVE:
        return stream
    return stream_end(stream=stream, actor=None, reason="publisher stopped")


def _hls_url(stream: Stream) -> str:
    base = settings.HLS_PLAYBACK_BASE_URL
    return f"{base.rstrip('/')}/{stream.pk}.m3u8" if base else ""


# --- carousel -------------------------------------------------------------------------------


def products_allowed_q(host: User) -> Q:
    """What a host may put in the carousel: their own shop's active products, and active
    products of approved shops offered for affiliate commission."""
    return Q(status=Product.Status.ACTIVE, shop__status=Shop.Status.APPROVED) & (
        Q(shop__owner=host) | Q(affiliate_rate_bp__gt=0)
    )


def _publish_carousel(stream: Stream) -> None:
    events.publish(stream, "carousel.updated", {"items": snapshots.carousel(stream.pk)})


def carousel_set(*, stream: Stream, actor: User, product_ids: list[int]) -> list[CarouselItem]:
    """Make the carousel exactly these products in this order (add, remove, reorder in
    one call). The pinned product stays pinned if it is still there."""
    _check_host(stream, actor)
    if len(product_ids) != len(set(product_ids)):
        raise ProductNotAllowed("A product can be in the carousel once.")
    if len(product_ids) > CAROUSEL_MAX:
        raise ProductNotAllowed(f"The carousel holds at most {CAROUSEL_MAX} products.")
    allowed = set(
        Product.objects.filter(products_allowed_q(stream.host), pk__in=product_ids).values_list(
            "pk", flat=True
        )
    )
    refused = [pk for pk in product_ids if pk not in allowed]
    if refused:
        raise ProductNotAllowed(fields={"products": [f"Not allowed: {refused}"]})
    with transaction.atomic():
        # Lock the live's row: two tabs of the console editing at once apply one after the
        # other instead of interleaving their deletes and inserts.
        Stream.objects.select_for_update().filter(pk=stream.pk).first()
        current = {item.product_id: item for item in CarouselItem.objects.filter(stream=stream)}
        removed = set(current) - set(product_ids)
        CarouselItem.objects.filter(stream=stream, product_id__in=removed).delete()
        for position, pk in enumerate(product_ids):
            if pk in current:
                CarouselItem.objects.filter(pk=current[pk].pk).update(position=position)
            else:
                CarouselItem.objects.create(stream=stream, product_id=pk, position=position)
        CarouselEvent.objects.bulk_create(
            [CarouselEvent(stream=stream, product_id=pk, kind="removed") for pk in removed]
            + [
                CarouselEvent(stream=stream, product_id=pk, kind="added")
                for pk in product_ids
                if pk not in current
            ]
        )
        _publish_carousel(stream)
    return list(CarouselItem.objects.filter(stream=stream))


def carousel_pin(*, stream: Stream, actor: User, product_id: int | None) -> None:
    """Pin one product of the carousel (highlighted and first for viewers), or unpin with
    None. Pinning a product that is not in the carousel adds it first."""
    _check_host(stream, actor)
    with transaction.atomic():
        Stream.objects.select_for_update().filter(pk=stream.pk).first()
        previous = CarouselItem.objects.filter(stream=stream, pinned=True).first()
        if previous is not None and previous.product_id == product_id:
            return
        if previous is not None:
            CarouselItem.objects.filter(pk=previous.pk).update(pinned=False)
            CarouselEvent.objects.create(
                stream=stream, product_id=previous.product_id, kind="unpinned"
            )
        if product_id is not None:
            item = CarouselItem.objects.filter(stream=stream, product_id=product_id).first()
            if item is None:
                if not Product.objects.filter(
                    products_allowed_q(stream.host), pk=product_id
                ).exists():
                    raise ProductNotAllowed(fields={"product": ["Not allowed in this live."]})
                last = CarouselItem.objects.filter(stream=stream).count()
                item = CarouselItem.objects.create(
                    stream=stream, product_id=product_id, position=last
                )
                CarouselEvent.objects.create(stream=stream, product_id=product_id, kind="added")
            CarouselItem.objects.filter(pk=item.pk).update(pinned=True)
            CarouselEvent.objects.create(stream=stream, product_id=product_id, kind="pinned")
        _publish_carousel(stream)


def products_withdraw(*, product_ids: list[int], reason: str) -> list[int]:
    """Take products out of every carousel of a live on air or scheduled (a product taken
    down, a shop suspended): their running deals end, and each live's viewers get the
    carousel without them. Returns the lives changed."""
    product_ids = list(product_ids)
    if not product_ids:
        return []
    for deal_id in Deal.objects.filter(
        product_id__in=product_ids, status=Deal.Status.ACTIVE
    ).values_list("pk", flat=True):
        deal_end(deal_id=deal_id, reason=reason)
    lives = sorted(
        set(
            CarouselItem.objects.filter(
                product_id__in=product_ids,
                stream__status__in=[Stream.Status.LIVE, Stream.Status.SCHEDULED],
            ).values_list("stream_id", flat=True)
        )
    )
    for stream_id in lives:
        with transaction.atomic():
            # The live's lock, as the host's own carousel edits take it.
            stream = Stream.objects.select_for_update().filter(pk=stream_id).first()
            removed = list(
                CarouselItem.objects.filter(
                    stream_id=stream_id, product_id__in=product_ids
                ).values_list("product_id", flat=True)
            )
            if stream is None or not removed:
                continue
            CarouselItem.objects.filter(stream_id=stream_id, product_id__in=removed).delete()
            CarouselEvent.objects.bulk_create(
                [CarouselEvent(stream=stream, product_id=pk, kind="removed") for pk in removed]
            )
            _publish_carousel(stream)
    return lives


# --- flash deals ----------------------------------------------------------------------------


def deal_start(
    *, stream: Stream, actor: User, product_id: int, price_minor: int, quantity: int, seconds: int
) -> Deal:
    """Start a flash deal: the product at price_minor for `quantity` units and `seconds`.
    It ends by itself at zero time (the live's tick or the sweep) or zero stock."""
    _check_host(stream, actor)
    if stream.status != Stream.Status.LIVE:
        raise StreamNotLive()
    product = Product.objects.filter(products_allowed_q(stream.host), pk=product_id).first()
    if product is None:
        raise ProductNotAllowed(fields={"product": ["Not allowed in this live."]})
    errors = {}
    if not 0 <= price_minor < product.price_minor or price_minor > 10**12:
        errors["price"] = ["A deal price is at least 0 and below the product's price."]
    if not 1 <= quantity <= 100_000:
        errors["quantity"] = ["Between 1 and 100,000 units."]
    if not 10 <= seconds <= 3600:
        errors["seconds"] = ["Between 10 seconds and one hour."]
    if errors:
        raise ProductNotAllowed("The deal is not valid.", fields=errors)
    now = timezone.now()
    try:
        with transaction.atomic():
            deal = Deal.objects.create(
                stream=stream,
                product=product,
                price_minor=price_minor,
                quantity=quantity,
                starts_at=now,
                ends_at=now + timedelta(seconds=seconds),
            )
            events.publish(stream, "deal.started", snapshots.deal(deal))
    except IntegrityError:
        raise DealRunning() from None
    from .tasks import deal_expire

    # The live's tick (in the web process, where viewers are) ends the deal on time; this
    # timer, a little later, covers lives nobody watches.
    transaction.on_commit(
        lambda: deal_expire.apply_async((deal.pk,), countdown=seconds + DEAL_GRACE_SECONDS),
        robust=True,
    )
    return deal


def deal_end(*, deal_id: int, reason: str, actor: User | None = None) -> bool:
    """End a running deal (time up, sold out, ended by the host). Compare-and-set: only
    the first caller ends it and announces it; returns whether this call did."""
    deal = Deal.objects.select_related("stream").filter(pk=deal_id).first()
    if deal is None:
        return False
    if actor is not None:
        _check_host(deal.stream, actor)
    with transaction.atomic():
        if not Deal.objects.filter(pk=deal_id, status=Deal.Status.ACTIVE).update(
            status=Deal.Status.ENDED,
            ended_reason=reason[:20],
            ends_at=min(deal.ends_at, timezone.now()),
        ):
            return False
        deal.refresh_from_db()
        events.publish(deal.stream_id, "deal.ended", snapshots.deal(deal))
    return True


def deals_expire_due(*, grace_seconds: int = 0) -> int:
    """End every running deal whose time is up (grace_seconds ago). Called by each live's
    tick every second, and with a grace by the periodic sweep: the tick, running where the
    viewers' sockets are, should be the one that ends and announces a watched deal."""
    ended = 0
    due = timezone.now() - timedelta(seconds=grace_seconds)
    for pk in Deal.objects.filter(status=Deal.Status.ACTIVE, ends_at__lte=due).values_list(
        "pk", flat=True
    ):
        ended += deal_end(deal_id=pk, reason="time")
    return ended


# --- chat -----------------------------------------------------------------------------------


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _chat_rate_wait(user_id: int) -> float:
    """Seconds the user must wait before another chat line under LIVE_CHAT_RATE (0: none).
    Counted in the cache by fixed window, so that every socket of the user in every worker
    shares one count: a socket's own burst limit alone is beaten by opening more sockets."""
    count, _, period = settings.LIVE_CHAT_RATE.partition("/")
    seconds = _PERIODS[period[:1]]
    now = time.time()
    window = int(now // seconds)
    key = f"chat-rate:{user_id}:{window}"
    cache.add(key, 0, timeout=seconds + 1)
    try:
        hits = cache.incr(key)
    except ValueError:  # the window's key expired between add and incr
        cache.set(key, 1, timeout=seconds + 1)
        hits = 1
    return 0.0 if hits <= int(count) else max(0.1, round((window + 1) * seconds - now, 1))


def chat_send(*, user: User, stream_id: int, text: str) -> ChatMessage:
    """Post a chat line. Refused (ChatRefused with a code) when the live is not on air,
    the text is empty or too long, the user is muted, sends faster than LIVE_CHAT_RATE,
    slow mode says wait, or the text has a blocked word."""
    text = " ".join((text or "").split())
    if not text:
        raise ChatRefused("empty", "Write something first.")
    if len(text) > CHAT_MAX_CHARS:
        raise ChatRefused("too_long", f"Chat lines are at most {CHAT_MAX_CHARS} characters.")
    stream = Stream.objects.filter(pk=stream_id).first()
    if stream is None or stream.status != Stream.Status.LIVE:
        raise ChatRefused("not_live", "This live is not on air.")
    is_moderator = user.pk == stream.host_id or user.is_staff
    # Read now, not from the socket's user (a ban or a staff mute applies to a viewer
    # already in the live), with the host's mute in this live: one query for all three.
    active, muted_until, muted_here = User.objects.filter(pk=user.pk).annotate(
        muted_here=Exists(ChatMute.objects.filter(stream=stream, user=OuterRef("pk")))
    ).values_list("is_active", "chat_muted_until", "muted_here").first() or (False, None, False)
    if not active:
        raise ChatRefused("muted", "This account cannot chat.")
    # A staff mute holds in every live, the muted host's own too.
    if muted_until is not None and muted_until > timezone.now() and not user.is_staff:
        raise ChatRefused("muted", f"Staff muted you until {muted_until:%Y-%m-%d %H:%M} UTC.")
    if not is_moderator:
        if muted_here:
            raise ChatRefused("muted", "The host muted you in this live.")
        wait = _chat_rate_wait(user.pk)
        if wait:
            raise ChatRefused("rate_limited", "You are sending messages too fast.", wait)
        lowered = text.lower()
        if any(word in lowered for word in stream.blocked_word_list):
            raise ChatRefused("blocked_word", "Your message has a word the host blocked.")
        if stream.slow_mode_seconds:
            last = (
                ChatMessage.objects.filter(stream=stream, user=user)
                .order_by("-created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if last is not None:
                wait = stream.slow_mode_seconds - (timezone.now() - last).total_seconds()
                if wait > 0:
                    raise ChatRefused(
                        "slow_mode", f"Slow mode: wait {int(wait) + 1} s.", retry_after=wait
                    )
    with transaction.atomic():
        message = ChatMessage.objects.create(stream=stream, user=user, text=text)
        Stream.objects.filter(pk=stream.pk).update(chat_count=F("chat_count") + 1)
        events.publish(stream, "chat.message", snapshots.chat_line(message, user))
    return message


def chat_delete(*, actor: User, message_id: int) -> None:
    """Hide a chat line for everyone at once (host or staff)."""
    message = ChatMessage.objects.select_related("stream").filter(pk=message_id).first()
    if message is None:
        raise NotHost()
    _check_host(message.stream, actor, "moderate_chat")
    with transaction.atomic():
        if ChatMessage.objects.filter(pk=message_id, hidden=False).update(
            hidden=True, hidden_by=actor
        ):
            events.publish(message.stream_id, "chat.deleted", {"id": message_id})


def chat_restore(*, actor: User, message_id: int) -> None:
    """Show a hidden chat line again (staff): it is back in the chat history of every
    snapshot from now on; viewers already in the live are not sent it again."""
    if not staff_can(actor, "moderate_chat"):
        raise NotHost()
    ChatMessage.objects.filter(pk=message_id, hidden=True).update(hidden=False, hidden_by=None)


def chat_mute(*, stream: Stream, actor: User, user: User, muted: bool = True) -> None:
    _check_host(stream, actor)
    if muted:
        ChatMute.objects.get_or_create(stream=stream, user=user, defaults={"muted_by": actor})
    else:
        ChatMute.objects.filter(stream=stream, user=user).delete()


def chat_settings(
    *,
    stream: Stream,
    actor: User,
    slow_mode_seconds: int | None = None,
    blocked_words: str | None = None,
) -> Stream:
    _check_host(stream, actor)
    changes = {}
    if slow_mode_seconds is not None:
        if not 0 <= slow_mode_seconds <= 600:
            raise ChatRefused("invalid", "Slow mode is between 0 and 600 seconds.")
        changes["slow_mode_seconds"] = slow_mode_seconds
    if blocked_words is not None:
        words = "\n".join(w.strip()[:60] for w in blocked_words.splitlines() if w.strip())[:4000]
        changes["blocked_words"] = words
    if changes:
        Stream.objects.filter(pk=stream.pk).update(**changes)
        for key, value in changes.items():
            setattr(stream, key, value)
    return stream


# --- reminders ------------------------------------------------------------------------------


def reminder_set(*, user: User, stream: Stream, on: bool) -> bool:
    if on:
        if stream.status != Stream.Status.SCHEDULED:
            raise InvalidTransition("Only upcoming lives can be reminded.")
        Reminder.objects.get_or_create(stream=stream, user=user)
        return True
    Reminder.objects.filter(stream=stream, user=user).delete()
    return False
