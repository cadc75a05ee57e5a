"""Gift totals are updated in place (HOT): no index on the columns every batch of sends
changes, and half of each page kept free for the new versions (PostgreSQL's fillfactor;
SQLite has none). See GiftTotal's Meta."""

from django.db import migrations

FILLFACTOR = 50


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE gifting_gifttotal SET (fillfactor = {FILLFACTOR})")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE gifting_gifttotal RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("gifting", "0011_gift_sends_lighter_writes")]

    operations = [
        migrations.RemoveIndex(model_name="gifttotal", name="gift_total_live_idx"),
        migrations.RemoveIndex(model_name="gifttotal", name="gift_total_host_idx"),
        migrations.RunPython(forwards, backwards),
    ]
