"""Bulk inserts below SQLAlchemy's per-row parameter handling.

An import writes several index rows per object; building SQLAlchemy parameter sets for
each row costs more than the database's own work. Inside the writer's transaction we hand
plain tuples to the driver: ``executemany`` on SQLite and ``COPY … FROM STDIN`` on
PostgreSQL, which is the fastest way into PostgreSQL and avoids a round trip per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert


def bulk_insert(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any] | Sequence[Any]]
) -> None:
    """Insert ``rows`` into ``table``: dicts keyed by column name (missing keys are NULL), or
    sequences holding every column in the table's column order."""
    if not rows:
        return
    columns = [column.name for column in table.columns]
    if isinstance(rows[0], Mapping):
        rows = [tuple(row.get(name) for name in columns) for row in rows]  # type: ignore[union-attr]
    names = ", ".join(f'"{name}"' for name in columns)
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    if dialect == "sqlite":
        marks = ", ".join("?" * len(columns))
        raw.executemany(  # type: ignore[union-attr]
            f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',
            rows,
        )
    elif dialect == "postgresql":
        statement = f'COPY "{table.name}" ({names}) FROM STDIN'
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
