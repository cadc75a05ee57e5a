"""Staff powers beyond an owner's: each needs the staff role's permission (moderation
app's permissions, held by the Moderators and Finance groups; a superuser holds them all),
not merely a staff account. A finance user cannot end a live through the host API, nor a
moderator refund an order through the shop's."""

from __future__ import annotations


def staff_can(user, permission: str) -> bool:
    """Whether this active staff user holds moderation.<permission>."""
    return bool(
        user is not None
        and user.is_active
        and user.is_staff
        and user.has_perm(f"moderation.{permission}")
    )
