"""The double-entry ledger: every movement of coins, earnings or cash is one transaction
whose entries sum to zero per unit. A balance is the sum of an account's entries."""

from django.conf import settings
from django.db import models
from django.db.models import Q

__all__ = ["LedgerAccount", "LedgerTransaction", "LedgerEntry", "IdempotencyKey"]


class LedgerAccount(models.Model):
    class Kind(models.TextChoices):
        WALLET = "wallet", "User wallet (coins)"
        EARNINGS = "earnings", "Creator earnings"
        MERCHANT = "merchant", "Merchant payable"
        PLATFORM = "platform", "Platform"
        EXTERNAL = "external", "Outside world (payment provider, payouts)"

    code = models.CharField(max_length=120, unique=True, help_text="e.g. wallet:coins:user:12")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    unit = models.CharField(max_length=8, help_text="A currency code, or COIN.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    # The outside world and the platform's clearing accounts go negative by design (money
    # that came in from a card is a debit there); a user's wallet never does.
    allow_negative = models.BooleanField(default=False)
    # A cached balance is kept in step with the entries for accounts whose balance guards
    # a debit (a wallet). Hot accounts credited by everyone (platform revenue, a popular
    # creator's earnings) keep none: their balance is summed on read, so posting to them
    # never waits for a row lock.
    track_balance = models.BooleanField(default=True)
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(allow_negative=True) | Q(balance__gte=0),
                name="ledger_account_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class LedgerTransaction(models.Model):
    kind = models.CharField(max_length=40)
    # What this posting is for, unique (ledger_transaction_key_once): the same order paid
    # twice posts once.
    key = models.CharField(max_length=150)
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A constraint rather than unique=True, which on PostgreSQL also builds a second
            # index for LIKE 'prefix%' that no query here uses: one write less per posting.
            models.UniqueConstraint(fields=["key"], name="ledger_transaction_key_once"),
        ]
        indexes = [models.Index(fields=["kind", "-created_at"], name="ledger_txn_kind_idx")]

    def __str__(self) -> str:
        return self.key


class LedgerEntry(models.Model):
    # Entries are the ledger's busiest rows: five per gift. Their references are checked by
    # PostgreSQL once per statement that writes entries (migration 0005, with the balance
    # check), not by a foreign key, whose check runs per entry at commit and takes a share
    # lock on the referenced row: on a hot host's earnings account, every gift of every
    # batch. Accounts and transactions with entries cannot be deleted (PROTECT here, and
    # the same trigger in the database); ledger_problems also reports a missing one.
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )
    # Its index is ledger_entry_account_idx, which starts with it.
    account = models.ForeignKey(
        LedgerAccount,
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
        db_constraint=False,
    )
    unit = models.CharField(max_length=8)
    amount = models.BigIntegerField(help_text="Positive credits, negative debits.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero")]
        indexes = [models.Index(fields=["account", "-created_at"], name="ledger_entry_account_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount:+d} {self.unit}"


class IdempotencyKey(models.Model):
    """One row per (user, scope, key): the request's fingerprint and, once done, the answer.
    A retry gets the stored answer; the same key with another request is a conflict."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=60)
    key = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_key_once"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
