"""The balance check of ledger transactions runs once per statement instead of once per
entry at commit.

Every writer inserts all the entries of a transaction in one statement (ledger_post, and
ledger_post_many for a whole batch of gifts), so "balanced after each statement that
writes entries" holds for every correct posting and refuses the same bad ones, a little
earlier. The per-row deferred trigger ran one query per entry at commit: for a batch of
gifts, a hundred and more, which was most of its commit's time.

The statement triggers read only what the statement wrote (transition tables), without
looking up the rest of the ledger: every transaction balanced before the statement, so it
balances after if what the statement added (new entries; for an UPDATE, the new values
less the old) sums to zero per transaction and unit."""

from django.db import migrations


STATEMENT_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS payments_ledger_balanced ON payments_ledgerentry;
DROP FUNCTION IF EXISTS payments_ledger_check_balanced();
CREATE OR REPLACE FUNCTION payments_ledger_check_insert() RETURNS trigger AS $$
DECLARE
  unbalanced bigint;
BEGIN
  SELECT transaction_id INTO unbalanced FROM written
  GROUP BY transaction_id, unit HAVING SUM(amount) <> 0 LIMIT 1;
  IF unbalanced IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % does not balance', unbalanced
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION payments_ledger_check_update() RETURNS trigger AS $$
DECLARE
  unbalanced bigint;
BEGIN
  SELECT transaction_id INTO unbalanced FROM (
    SELECT transaction_id, unit, amount FROM written
    UNION ALL
    SELECT transaction_id, unit, -amount FROM previous
  ) AS changed
  GROUP BY transaction_id, unit HAVING SUM(amount) <> 0 LIMIT 1;
  IF unbalanced IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % does not balance', unbalanced
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER payments_ledger_balanced_insert
  AFTER INSERT ON payments_ledgerentry
  REFERENCING NEW TABLE AS written
  FOR EACH STATEMENT EXECUTE FUNCTION payments_ledger_check_insert();
CREATE TRIGGER payments_ledger_balanced_update
  AFTER UPDATE ON payments_ledgerentry
  REFERENCING OLD TABLE AS previous NEW TABLE AS written
  FOR EACH STATEMENT EXECUTE FUNCTION payments_ledger_check_update();
"""

ROW_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS payments_ledger_balanced_insert ON payments_ledgerentry;
DROP TRIGGER IF EXISTS payments_ledger_balanced_update ON payments_ledgerentry;
DROP FUNCTION IF EXISTS payments_ledger_check_insert();
DROP FUNCTION IF EXISTS payments_ledger_check_update();
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
CREATE CONSTRAINT TRIGGER payments_ledger_balanced
  AFTER INSERT OR UPDATE ON payments_ledgerentry
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION payments_ledger_check_balanced();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(STATEMENT_TRIGGER_SQL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ROW_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_payment_providers")]
    operations = [migrations.RunPython(forwards, backwards)]
