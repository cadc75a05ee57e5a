"""Writes for accounts: profiles, follows, the business-account switch."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from .errors import CannotFollowSelf
from .images import image_renditions
from .models import Follow, User
from .signals import business_account_leaving

AVATAR_SIZE = 320


def user_follow(*, follower: User, followee: User) -> bool:
    """Follow followee. Returns True when a new follow was made, False when it existed
    already (a double tap is harmless). The caller holds no locks."""
    if follower.pk == followee.pk:
        raise CannotFollowSelf()
    try:
        with transaction.atomic():
            _, created = Follow.objects.get_or_create(follower=follower, followee=followee)
    except IntegrityError:
        # Two requests raced past get_or_create's read; the unique constraint kept one row.
        return False
    return created


def user_unfollow(*, follower: User, followee: User) -> bool:
    """Stop following. Returns True when a follow was removed."""
    deleted, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
    return bool(deleted)


def profile_update(
    *, user: User, display_name: str | None = None, bio: str | None = None, avatar=None
) -> User:
    """Change the public profile. An avatar upload is validated and re-encoded (square,
    320 px WebP, no metadata) before anything is saved; a bad image changes nothing."""
    rendition = None
    if avatar is not None:
        (rendition,) = image_renditions(
            upload=avatar,
            widths=(AVATAR_SIZE,),
            max_bytes=settings.AVATAR_MAX_BYTES,
            max_pixels=40_000_000,
            square=True,
        )
    fields = []
    if display_name is not None:
        user.display_name = display_name.strip()
        fields.append("display_name")
    if bio is not None:
        user.bio = bio.strip()
        fields.append("bio")
    with transaction.atomic():
        if rendition is not None:
            old = user.avatar.name if user.avatar else None
            user.avatar.save(f"{user.pk}.webp", rendition.content, save=False)
            fields.append("avatar")
            if old:
                transaction.on_commit(lambda: user.avatar.storage.delete(old))
        if fields:
            user.save(update_fields=fields)
    return user


def account_set_business(*, user: User, is_business: bool) -> User:
    """Switch between a personal and a business account. Idempotent. Leaving business is
    refused (by a receiver of business_account_leaving) while the account runs a shop."""
    if user.is_business and not is_business:
        business_account_leaving.send(sender=User, user=user)
    User.objects.filter(pk=user.pk).update(is_business=is_business)
    user.is_business = is_business
    return user


def notify(*, users: list[User], text: str, url: str = "") -> int:
    """In-app notices for several users at once (one INSERT)."""
    from .models import Notification

    created = Notification.objects.bulk_create(
        [Notification(user=user, text=text[:200], url=url[:300]) for user in users]
    )
    return len(created)


def notifications_mark_read(*, user: User) -> int:
    from django.utils import timezone

    from .models import Notification

    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def user_mute_until(*, user_id: int, until) -> None:
    """Keep the user out of every live's chat until then (None lifts it)."""
    User.objects.filter(pk=user_id).update(chat_muted_until=until)


def user_live_suspend_until(*, user_id: int, until) -> None:
    """Keep the user from going live until then (None lifts it): checked when a live of
    theirs goes on air, from the console or the encoder."""
    User.objects.filter(pk=user_id).update(live_suspended_until=until)


def user_deactivate(*, user_id: int) -> bool:
    """Ban: the account can no longer sign in, its sessions stop authenticating at their
    next request (Django refuses inactive users) and its API tokens are deleted. False if
    it was inactive already. The caller ends its lives and closes its sockets."""
    from rest_framework.authtoken.models import Token

    with transaction.atomic():
        changed = User.objects.filter(pk=user_id, is_active=True).update(is_active=False)
        Token.objects.filter(user_id=user_id).delete()
    return bool(changed)
