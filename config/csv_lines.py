"""CSV text one line at a time, for streaming responses and files: a large export is
written as it is read, never held whole in memory."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator


class _Echo:
    """A file-like object whose write returns what it is given (csv.writer to strings)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """Each row as one line of CSV text."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)
