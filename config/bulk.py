"""Multi-row statements for the hot write paths (a batch of gift sends and their ledger
postings), in SQL that PostgreSQL and SQLite both run.

On PostgreSQL the rows travel as one array per column (unnest), so a statement's text is
the same for any number of rows: the driver prepares it once instead of splitting a text
with hundreds of placeholders for every batch, which costs more than the statement itself.
On SQLite (the embedded default, one process) they are plain VALUES.

On PostgreSQL they also bind their parameters on the server (execute): Django's cursors
write every value into the statement's text on the client, which for a batch's arrays
costs more Python time than the statement takes in the database. The cursor shares
Django's connection, so it runs in the current transaction.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

from django.db import connection, models


def execute(sql: str, params: Sequence, *, fetch: bool = False) -> list[tuple]:
    """Run one statement on Django's connection, its parameters bound on the server on
    PostgreSQL; the rows it returns when fetch."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        start = time.monotonic()
        # Errors come out as Django's (IntegrityError and the rest), as from its cursors.
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            rows = cursor.fetchall() if fetch else []
        if connection.queries_logged:
            # Counted and shown like the queries of Django's own cursors (DEBUG, tests).
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})
        return rows
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else []


def array(values: Sequence) -> list | str:
    """A PostgreSQL array parameter of these values. Integers and strings go as the
    array's text ('{1,2,3}', '{"a","b"}'), made in one join: the driver would otherwise dump
    a list element by element in Python, which for a batch's columns cost more than
    anything else it did. Other values (datetimes) go as a list."""
    values = list(values)
    if all(type(value) is int or value is None for value in values):
        return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"
    if all(type(value) is str or value is None for value in values):
        return "{" + ",".join("NULL" if value is None else _quoted(value) for value in values) + "}"
    return values


def _quoted(text: str) -> str:
    # An element of an array's text: in double quotes, a backslash before \ and ".
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def one_of(column: str, values: Sequence) -> tuple[str, list]:
    """SQL for "column is one of values" and its parameters: one array on PostgreSQL (the
    same text for any number of values), a list of placeholders on SQLite."""
    if connection.vendor == "postgresql":
        param = array(values)
        if isinstance(param, list):
            return f"{column} = ANY(%s)", [param]
        kind = "bigint" if all(type(value) is int for value in values) else "text"
        return f"{column} = ANY(%s::{kind}[])", [param]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def select(sql: str, params: Sequence) -> list[tuple]:
    """The rows of a read, on the same terms as execute."""
    return execute(sql, params, fetch=True)


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[tuple[str, str]]:
    """(quoted column, PostgreSQL type) of each field."""
    return _columns_of(model, tuple(fields), connection.vendor)


def column_list(model: type[models.Model], fields: Sequence[str]) -> str:
    """The fields' quoted columns, comma-separated: what an INSERT names."""
    return ", ".join(column for column, _ in _columns(model, fields))


@functools.cache
def _columns_of(model, fields: tuple[str, ...], vendor: str) -> list[tuple[str, str]]:
    found = []
    for name in fields:
        field = model._meta.get_field(name)
        found.append((connection.ops.quote_name(field.column), field.db_type(connection)))
    return found


def rows_source(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]
) -> tuple[str, list]:
    """A row source of these values for INSERT ... <source> or a join: "SELECT * FROM
    unnest(...)" with one array per column, or "VALUES (...), ...", and its parameters.
    Values are Python values the driver adapts (ints, strings, aware datetimes)."""
    columns = _columns(model, fields)
    if connection.vendor == "postgresql":
        arrays, params = [], []
        for values, (_, kind) in zip(zip(*rows, strict=True), columns, strict=True):
            if len(values) > 1 and values[0] is not None and values.count(values[0]) == len(values):
                # The same value in every row (a batch's time, its currency): sent once.
                arrays.append(f"array_fill(%s::{kind}, ARRAY[%s::integer])")
                params += [values[0], len(values)]
            else:
                arrays.append(f"%s::{kind}[]")
                params.append(array(values))
        if not rows:
            arrays = [f"%s::{kind}[]" for _, kind in columns]
            params = [[] for _ in columns]
        # The types come from the model.
        return f"SELECT * FROM unnest({', '.join(arrays)})", params  # noqa: S608
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    prepared = []
    for row in rows:
        for name, value in zip(fields, row, strict=True):
            prepared.append(model._meta.get_field(name).get_db_prep_save(value, connection))
    return "VALUES " + ", ".join([placeholder] * len(rows)), prepared


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence],
    *,
    conflict: str = "",
    conflict_params: Sequence = (),
    returning: Sequence[str] = (),
) -> list[tuple]:
    """INSERT these rows into the model's table in one statement. conflict is SQL that
    follows the rows (an ON CONFLICT clause; "excluded" and the table's quoted name work on
    both databases); returning names columns to return, one tuple per row. SQLite reads
    "INSERT ... SELECT ... ON CONFLICT" ambiguously, which is why it gets VALUES."""
    if not rows:
        return []
    table = connection.ops.quote_name(model._meta.db_table)
    names = column_list(model, fields)
    source, params = rows_source(model, fields, rows)
    sql = f"INSERT INTO {table} ({names}) {source}"  # noqa: S608 (names from the model)
    if conflict:
        sql += f" {conflict}"
        params = [*params, *conflict_params]
    if returning:
        sql += " RETURNING " + ", ".join(
            f"{table}.{connection.ops.quote_name(c)}" for c in returning
        )
    return execute(sql, params, fetch=bool(returning))


def lock_rows(model: type[models.Model], ids: Sequence[int]) -> None:
    """Lock these rows, in primary-key order, until the transaction ends, for an update of
    columns other than their key: FOR NO KEY UPDATE, the lock the UPDATE takes anyway,
    which does not stop other transactions from inserting rows that reference them
    (ledger entries of the same account). PostgreSQL only; on SQLite a writing
    transaction holds the whole database anyway."""
    if connection.vendor != "postgresql" or not ids:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    execute(
        f"SELECT id FROM {table} WHERE id = ANY(%s::bigint[]) ORDER BY id "  # noqa: S608
        "FOR NO KEY UPDATE",
        [array(sorted(ids))],
    )
