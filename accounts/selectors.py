"""Reads for accounts."""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from .models import Follow, Notification, User


def profile_get(*, handle: str, viewer: User | None = None) -> User:
    """An active user by handle (any casing) with follower counts and, for a signed-in
    viewer, whether they follow them: one query. Raises Http404."""
    qs = User.objects.filter(is_active=True).annotate(
        followers_count=_follow_count("followee"),
        following_count=_follow_count("follower"),
    )
    if viewer is not None and viewer.is_authenticated:
        qs = qs.annotate(
            is_followed=Exists(Follow.objects.filter(follower=viewer, followee=OuterRef("pk")))
        )
    return get_object_or_404(qs, handle=handle.lower())


def _follow_count(side: str):
    # A correlated COUNT per side: joining both relations at once would multiply rows.
    counts = (
        Follow.objects.filter(**{side: OuterRef("pk")})
        .values(side)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


def followers_list(*, user: User) -> QuerySet[User]:
    return User.objects.filter(following_set__followee=user, is_active=True).order_by(
        "-following_set__created_at"
    )


def following_list(*, user: User) -> QuerySet[User]:
    return User.objects.filter(follower_set__follower=user, is_active=True).order_by(
        "-follower_set__created_at"
    )


def notifications_list(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")
