"""Admin lists over tables that grow to millions of rows count them without reading them.

Django's changelist counts the list it shows (`SELECT COUNT(*)`) on every page, which on
PostgreSQL reads the whole table (or a whole index). For an unfiltered list of a large
table this paginator takes PostgreSQL's own estimate of the table's rows instead
(pg_class.reltuples, kept by autovacuum's ANALYZE): the page numbers are then approximate
at the far end, which nobody pages to. A filtered list, a small table and SQLite are
counted exactly."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

# Below this many rows (as estimated), counting exactly is cheap and exact.
ESTIMATE_ABOVE = 100_000


class LargeTablePaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        [queryset.model._meta.db_table],
                    )
                    row = cursor.fetchone()
                if row is not None and row[0] > ESTIMATE_ABOVE:
                    return row[0]
        return super().count
