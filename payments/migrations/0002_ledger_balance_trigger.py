"""On PostgreSQL, a deferred constraint trigger refuses to commit a ledger transaction
whose entries do not sum to zero per unit (see payments.ledger)."""

from django.db import migrations

BALANCE_TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION payments_ledger_check_balanced() RETURNS trigger AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM payments_ledgerentry
    WHERE transaction_id = NEW.transaction_id
    GROUP BY unit HAVING SUM(amount) <> 0
  ) THEN
    RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS payments_ledger_balanced ON payments_ledgerentry;
CREATE CONSTRAINT TRIGGER payments_ledger_balanced
  AFTER INSERT OR UPDATE ON payments_ledgerentry
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION payments_ledger_check_balanced();
"""

DROP_BALANCE_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS payments_ledger_balanced ON payments_ledgerentry;
DROP FUNCTION IF EXISTS payments_ledger_check_balanced();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BALANCE_TRIGGER_SQL, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_BALANCE_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_ledger")]
    operations = [migrations.RunPython(create, drop)]
