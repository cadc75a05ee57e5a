"""Lighter writes of ledger postings: entries lose their foreign-key constraints, whose
checks PostgreSQL now makes once per statement in the balance trigger; the account's
single-column index (ledger_entry_account_idx starts with it) and the LIKE index beside
the transactions' unique key go.

A foreign key is checked per entry at commit, with a share lock on the referenced row:
for a batch of gifts, a hundred and more checks, and the lock is taken on the hottest rows
there are (a live host's earnings account, the platform's). The statement trigger reads
what the statement wrote (the transition table) against the accounts and transactions
tables, without locking them. Deleting an account or a transaction that has entries is
refused by an AFTER DELETE trigger. Nothing deletes ledger rows (Django's PROTECT refuses
it too); unlike a foreign key, these checks do not stop a delete racing an insert of
entries referencing the row, which ledger_problems would report."""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

# Each reference is probed in its table's primary key, one row of what was written at a
# time (LATERAL ... LIMIT 1): as a plain NOT EXISTS, the plan PL/pgSQL keeps for the
# function may read the whole table (a hash anti-join), which grows with the ledger.
REFERENCES_CHECK = """
  SELECT w.transaction_id INTO missing FROM written AS w
  LEFT JOIN LATERAL (
    SELECT t.id FROM payments_ledgertransaction AS t WHERE t.id = w.transaction_id LIMIT 1
  ) AS found ON true
  WHERE found.id IS NULL LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  SELECT w.account_id INTO missing FROM written AS w
  LEFT JOIN LATERAL (
    SELECT a.id FROM payments_ledgeraccount AS a WHERE a.id = w.account_id LIMIT 1
  ) AS found ON true
  WHERE found.id IS NULL LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'ledger account % does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
"""

TRIGGERS_SQL = f"""
CREATE OR REPLACE FUNCTION payments_ledger_check_insert() RETURNS trigger AS $$
DECLARE
  unbalanced bigint;
  missing bigint;
BEGIN
  SELECT transaction_id INTO unbalanced FROM written
  GROUP BY transaction_id, unit HAVING SUM(amount) <> 0 LIMIT 1;
  IF unbalanced IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % does not balance', unbalanced
      USING ERRCODE = 'check_violation';
  END IF;
{REFERENCES_CHECK}
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION payments_ledger_check_update() RETURNS trigger AS $$
DECLARE
  unbalanced bigint;
  missing bigint;
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
{REFERENCES_CHECK}
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION payments_ledger_account_kept() RETURNS trigger AS $$
DECLARE
  used bigint;
BEGIN
  SELECT g.id INTO used FROM gone AS g
  WHERE EXISTS (SELECT 1 FROM payments_ledgerentry AS e WHERE e.account_id = g.id) LIMIT 1;
  IF used IS NOT NULL THEN
    RAISE EXCEPTION 'ledger account % has entries', used
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION payments_ledger_transaction_kept() RETURNS trigger AS $$
DECLARE
  used bigint;
BEGIN
  SELECT g.id INTO used FROM gone AS g
  WHERE EXISTS (SELECT 1 FROM payments_ledgerentry AS e WHERE e.transaction_id = g.id) LIMIT 1;
  IF used IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % has entries', used
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER payments_ledger_account_kept
  AFTER DELETE ON payments_ledgeraccount
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION payments_ledger_account_kept();
CREATE TRIGGER payments_ledger_transaction_kept
  AFTER DELETE ON payments_ledgertransaction
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION payments_ledger_transaction_kept();
"""

DROP_KEPT_SQL = """
DROP TRIGGER IF EXISTS payments_ledger_account_kept ON payments_ledgeraccount;
DROP TRIGGER IF EXISTS payments_ledger_transaction_kept ON payments_ledgertransaction;
DROP FUNCTION IF EXISTS payments_ledger_account_kept();
DROP FUNCTION IF EXISTS payments_ledger_transaction_kept();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS_SQL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_KEPT_SQL, params=None)
        previous = import_module("payments.migrations.0004_ledger_balance_per_statement")
        schema_editor.execute(previous.STATEMENT_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0004_ledger_balance_per_statement")]

    operations = [
        migrations.AlterField(
            model_name="ledgerentry",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="payments.ledgeraccount",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="transaction",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="payments.ledgertransaction",
            ),
        ),
        migrations.AlterField(
            model_name="ledgertransaction",
            name="key",
            field=models.CharField(max_length=150),
        ),
        migrations.AddConstraint(
            model_name="ledgertransaction",
            constraint=models.UniqueConstraint(fields=("key",), name="ledger_transaction_key_once"),
        ),
        migrations.RunPython(forwards, backwards),
    ]
