"""The audit log of staff actions, and the permissions that make up the staff roles."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .errors import AuditLogImmutable

# What a staff role may do, as permissions of the audit log's model (one place to read the
# roles from). The groups of migration 0002 hold them: moderators and finance. A superuser
# has them all.
MODERATOR_PERMISSIONS = [
    ("decide_shop", "Can approve, reject and suspend shops"),
    ("take_down_product", "Can take down and restore products"),
    ("end_live", "Can end a live now and suspend its host from going live"),
    ("moderate_chat", "Can hide and restore chat messages"),
    ("mute_user", "Can mute a user site-wide"),
    ("ban_user", "Can ban a user"),
    ("resolve_report", "Can resolve and dismiss reports"),
]
FINANCE_PERMISSIONS = [
    ("refund_order", "Can refund an order"),
    ("decide_payout", "Can approve and reject payouts"),
]


class AuditQuerySet(models.QuerySet):
    """Rows are only ever added: a bulk update or delete raises, whoever asks."""

    def update(self, **kwargs):
        raise AuditLogImmutable("the audit log cannot be changed")

    def delete(self):
        raise AuditLogImmutable("the audit log cannot be deleted from")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogImmutable("the audit log cannot be changed")


class AuditEntry(models.Model):
    """One staff action: who did what to which object, why, when, and what changed (the
    fields it changed, before and after). Written by the moderation services in the same
    transaction as the action; never changed or deleted (here, in admin, and on PostgreSQL
    by a trigger)."""

    class Action(models.TextChoices):
        SHOP_APPROVE = "shop.approve", "Approve a shop"
        SHOP_REJECT = "shop.reject", "Reject a shop"
        SHOP_SUSPEND = "shop.suspend", "Suspend a shop"
        SHOP_REINSTATE = "shop.reinstate", "Reinstate a shop"
        LIVE_END = "live.end", "End a live"
        CHAT_HIDE = "chat.hide", "Hide a chat message"
        CHAT_RESTORE = "chat.restore", "Restore a chat message"
        USER_MUTE = "user.mute", "Mute a user"
        USER_BAN = "user.ban", "Ban a user"
        PAYOUT_APPROVE = "payout.approve", "Approve a payout"
        PAYOUT_REJECT = "payout.reject", "Reject a payout"
        PRODUCT_TAKE_DOWN = "product.take_down", "Take down a product"
        PRODUCT_RESTORE = "product.restore", "Restore a product"
        ORDER_REFUND = "order.refund", "Refund an order"
        REPORT_RESOLVE = "report.resolve", "Resolve reports"
        REPORT_DISMISS = "report.dismiss", "Dismiss reports"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_actions"
    )
    action = models.CharField(max_length=40, choices=Action.choices)
    # The target as "app_label.model" and its primary key: any model, without a foreign key
    # that would stop it from ever being deleted or tie the log to one table.
    target_type = models.CharField(max_length=60)
    target_id = models.BigIntegerField()
    target_repr = models.CharField(max_length=200)
    # The user the action was about (the host of a live, the author of a message): the
    # per-user moderation history reads it.
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="moderation_history",
    )
    reason = models.TextField(max_length=1000)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        ordering = ["-created_at", "-pk"]
        default_permissions = ["view"]
        permissions = MODERATOR_PERMISSIONS + FINANCE_PERMISSIONS
        indexes = [
            models.Index(fields=["-created_at"], name="audit_created_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["subject", "-created_at"], name="audit_subject_idx"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogImmutable("the audit log cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogImmutable("the audit log cannot be deleted from")


class Report(models.Model):
    """A user's report of a live, a chat message, a product, a shop or another user. One
    open report per reporter and target (a constraint); staff resolve (acting on the
    target) or dismiss all open reports of a target at once."""

    class Target(models.TextChoices):
        LIVE = "live", "Live"
        CHAT_MESSAGE = "chat_message", "Chat message"
        PRODUCT = "product", "Product"
        SHOP = "shop", "Shop"
        USER = "user", "User"

    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or misleading"
        SCAM = "scam", "Scam or fraud"
        COUNTERFEIT = "counterfeit", "Counterfeit or not as described"
        PROHIBITED = "prohibited", "Prohibited or dangerous item"
        HARASSMENT = "harassment", "Harassment or hate"
        SEXUAL = "sexual", "Nudity or sexual content"
        VIOLENCE = "violence", "Violence or self-harm"
        MINOR_SAFETY = "minor_safety", "Child safety"
        INTELLECTUAL_PROPERTY = "ip", "Intellectual property"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made"
    )
    # The target as a kind and a primary key (as in the audit log), and the user it
    # belongs to (the host, the author, the owner, the user): the history of reports against.
    target_type = models.CharField(max_length=20, choices=Target.choices)
    target_id = models.BigIntegerField()
    target_repr = models.CharField(max_length=200)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports_against",
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    text = models.TextField(max_length=1000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision = models.ForeignKey(
        AuditEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "target_type", "target_id"],
                condition=Q(status="open"),
                name="report_one_open_per_reporter",
            )
        ]
        indexes = [
            # The queue: open reports grouped by target.
            models.Index(
                fields=["target_type", "target_id"],
                condition=Q(status="open"),
                name="report_open_target_idx",
            ),
            # Admin: search by target id, filter by status newest first.
            models.Index(fields=["target_id", "target_type"], name="report_target_idx"),
            models.Index(fields=["status", "-id"], name="report_status_idx"),
            models.Index(fields=["target_user", "-created_at"], name="report_against_idx"),
            models.Index(fields=["reporter", "-created_at"], name="report_reporter_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_target_type_display()} {self.target_repr}: {self.get_reason_display()}"
