"""The full-text index on PostgreSQL (SQLite searches by substring and needs none).

The indexed expression is exactly what selectors.SEARCH_VECTOR generates, so the planner
uses it."""

from django.db import migrations

INDEX = "shops_product_search_gin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON shops_product USING gin "
        "(to_tsvector('english'::regconfig, COALESCE(search_document, '')))"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("shops", "0001_catalog")]
    operations = [migrations.RunPython(create, drop)]
