"""The staff roles as groups (moderation.roles), and the audit log append-only in the
database too: on PostgreSQL a trigger refuses any UPDATE or DELETE of it."""

from django.db import migrations

from moderation.roles import FINANCE, MODERATORS, roles_ensure

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION moderation_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER moderation_audit_append_only
  BEFORE UPDATE OR DELETE ON moderation_auditentry
  FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_append_only();
"""

DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS moderation_audit_append_only ON moderation_auditentry;
DROP FUNCTION IF EXISTS moderation_audit_append_only();
"""


def make_groups(apps, schema_editor):
    roles_ensure(apps)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL, params=None)


def remove_groups(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY_SQL, params=None)
    apps.get_model("auth", "Group").objects.filter(name__in=[MODERATORS, FINANCE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0003_user_live_suspended_until"),
        ("shops", "0002_search_index"),
        ("streams", "0001_lives"),
        ("payments", "0005_ledger_lighter_writes"),
        ("gifting", "0012_gift_totals_hot_updates"),
        ("orders", "0001_initial"),
    ]

    operations = [migrations.RunPython(make_groups, remove_groups)]
