"""Bulk writing of warninglist entries: the database-specific fast paths of the loader.

Both run inside the loader's transaction: a failure anywhere rolls everything back,
dropped indexes included (DDL is transactional on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson
from sqlalchemy import Connection, insert

from accord.model.observables import network_bounds
from accord.store import schema as s

_COLUMNS = "list_id, kind, value, lo, hi"
_NET_KINDS = frozenset({"ipv4-net", "ipv6-net"})


@contextmanager
def bulk_mode(conn: Connection, enabled: bool, on_rebuild: Callable[[], None]) -> Iterator[None]:
    """Without indexes (and on PostgreSQL without the foreign key) while rows go in.

    Building a B-tree once from all rows is faster than growing it row by row. PostgreSQL
    checks a foreign key with a trigger per inserted row, which made that check alone cost
    more than the rest of the load; re-adding the constraint validates all rows in one
    join instead. Readers of the table wait on PostgreSQL (the dropped index holds an
    exclusive lock) and read the previous lists on SQLite until the load commits.
    """
    if not enabled:
        yield
        return
    constraints: list[tuple[str, str]] = []
    if conn.dialect.name == "postgresql":
        constraints = [
            (r[0], r[1])
            for r in conn.exec_driver_sql(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'warninglist_entries'::regclass AND contype = 'f'"
            )
        ]
        for name, _ in constraints:
            conn.exec_driver_sql(f'ALTER TABLE warninglist_entries DROP CONSTRAINT "{name}"')
    for index in s.warninglist_entries.indexes:
        index.drop(conn)
    yield
    on_rebuild()
    for index in s.warninglist_entries.indexes:
        index.create(conn)
    for name, definition in constraints:
        conn.exec_driver_sql(
            f'ALTER TABLE warninglist_entries ADD CONSTRAINT "{name}" {definition}'
        )


def insert_entries(conn: Connection, list_id: int, entries: list[tuple[str, str]]) -> None:
    """Insert ``(kind, value)`` entries of one list through the driver's bulk path.

    PostgreSQL takes ``COPY``. SQLite takes each kind's plain values as one JSON array that
    ``json_each`` unpacks in C, about four times faster than binding millions of parameter
    tuples from Python; networks (tens of thousands, with bounds) go through
    ``executemany``.
    """
    rows = [
        (list_id, kind, value, *(network_bounds(value) if kind in _NET_KINDS else (None, None)))
        for kind, value in entries
    ]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        raw = conn.connection.driver_connection
        statement = f"COPY warninglist_entries ({_COLUMNS}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    elif dialect == "sqlite":
        plain: dict[str, list[str]] = {}
        bounded = []
        for row in rows:
            if row[3] is None:
                plain.setdefault(row[1], []).append(row[2])
            else:
                bounded.append(row)
        for kind, values in plain.items():
            conn.exec_driver_sql(
                "INSERT INTO warninglist_entries (list_id, kind, value) "
                "SELECT ?, ?, value FROM json_each(?)",
                (list_id, kind, orjson.dumps(values).decode()),
            )
        if bounded:
            conn.exec_driver_sql(
                f"INSERT INTO warninglist_entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)", bounded
            )
    else:
        keys = ("list_id", "kind", "value", "lo", "hi")
        conn.execute(insert(s.warninglist_entries), [dict(zip(keys, r, strict=True)) for r in rows])
