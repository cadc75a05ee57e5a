"""The audit log: written by every action, changed or deleted by none, by any path; and
the roles that decide who may act."""

import pytest
from django.db import DatabaseError, connection, transaction

from moderation import services
from moderation.errors import AuditLogImmutable
from moderation.models import AuditEntry
from tests.factories import UserFactory
from tests.moderation.conftest import admin_client, staff_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(live, moderator):
    return services.live_end_now(actor=moderator, stream_id=live.pk, reason="Counterfeits")


def test_an_entry_cannot_be_changed_or_deleted_in_code(entry):
    entry.reason = "something else"
    with pytest.raises(AuditLogImmutable):
        entry.save()
    with pytest.raises(AuditLogImmutable):
        entry.delete()
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.all().delete()
    entry.refresh_from_db()
    assert entry.reason == "Counterfeits"


@pytest.mark.postgres
def test_the_database_refuses_changes_to_the_log(entry):
    for sql in (
        "UPDATE moderation_auditentry SET reason = 'x'",
        "DELETE FROM moderation_auditentry",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEntry.objects.get().reason == "Counterfeits"


def test_admin_shows_the_log_but_cannot_change_or_delete_it(entry, moderator):
    superuser = UserFactory(handle="root", is_staff=True, is_superuser=True)
    for user in (moderator, superuser):
        client = admin_client(user)
        listing = client.get("/admin/moderation/auditentry/")
        assert listing.status_code == 200 and b"Counterfeits" in listing.content
        change = client.post(
            f"/admin/moderation/auditentry/{entry.pk}/change/", {"reason": "rewritten"}
        )
        assert change.status_code in (200, 403)
        assert client.post(f"/admin/moderation/auditentry/{entry.pk}/delete/").status_code == 403
        assert client.get("/admin/moderation/auditentry/add/").status_code == 403
    assert AuditEntry.objects.get().reason == "Counterfeits"


def test_the_roles_hold_what_their_jobs_need_and_no_more(moderator, finance):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    assert moderator.has_perm("moderation.end_live")
    assert moderator.has_perm("moderation.ban_user")
    assert not moderator.has_perm("moderation.decide_payout")
    assert not moderator.has_perm("moderation.refund_order")
    assert finance.has_perm("moderation.decide_payout")
    assert finance.has_perm("payments.view_ledgerentry")
    assert not finance.has_perm("moderation.ban_user")
    assert not finance.has_perm("moderation.end_live")
    assert not finance.has_perm("payments.change_ledgerentry")
    for perm in ("moderation.end_live", "moderation.decide_payout", "moderation.ban_user"):
        assert superuser.has_perm(perm)
    no_role = staff_member("plain", None)
    assert not no_role.has_perm("moderation.end_live")
