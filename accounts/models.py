from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from .validators import HANDLE_MAX_LENGTH, handle_validator


class UserManager(DjangoUserManager):
    """Users are known by their handle (stored lowercase) instead of a username."""

    use_in_migrations = True

    def _create_user(self, handle, email, password, **extra_fields):
        if not handle:
            raise ValueError("A handle is required.")
        user = self.model(
            handle=handle.strip().lower(),
            email=self.normalize_email(email).lower(),
            **extra_fields,
        )
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, handle, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(handle, email or "", password, **extra_fields)

    def create_superuser(self, handle, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(handle, email or "", password, **extra_fields)

    def get_by_natural_key(self, handle):
        return self.get(handle=handle.lower())


class User(AbstractUser):
    username = None
    first_name = None
    last_name = None

    handle = models.CharField(
        max_length=HANDLE_MAX_LENGTH,
        unique=True,
        validators=[handle_validator],
        help_text="Your address on Tapbuy: /@handle.",
        error_messages={"unique": "That handle is taken."},
    )
    email = models.EmailField("email address", blank=True)
    display_name = models.CharField(max_length=50, blank=True)
    bio = models.CharField(max_length=280, blank=True)
    avatar = models.ImageField(upload_to="avatars/%Y/%m/", blank=True)
    is_business = models.BooleanField(
        default=False, help_text="Business accounts can open a shop and sell."
    )
    # Set by staff when they end a live (moderation.services.live_end_now): until then the
    # user cannot go live, from the console or from the encoder.
    live_suspended_until = models.DateTimeField(null=True, blank=True)
    # Set by staff (moderation.services.user_mute): until then the user cannot chat in any
    # live.
    chat_muted_until = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "handle"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            # One account per address, whatever its casing; blank is allowed for accounts
            # created by staff tools without one.
            models.UniqueConstraint(
                Lower("email"), name="user_email_ci_unique", condition=~models.Q(email="")
            ),
        ]

    def __str__(self) -> str:
        return f"@{self.handle}"

    @property
    def name(self) -> str:
        return self.display_name or self.handle

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile", kwargs={"handle": self.handle})


class Follow(models.Model):
    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_set")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follower_set")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The last guard against a double follow from two tabs at once.
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_unique"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("followee")), name="follow_not_self"
            ),
        ]
        indexes = [models.Index(fields=["followee", "-created_at"], name="follow_followee_idx")]

    def __str__(self) -> str:
        return f"{self.follower_id} → {self.followee_id}"


class Notification(models.Model):
    """An in-app notice ("Mia is live now"). Apps create them through
    accounts.services.notify; the bell in the nav shows the unread ones."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    text = models.CharField(max_length=200)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_idx")]

    def __str__(self) -> str:
        return self.text
