"""Small database helpers the sharing tables need on both SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, SmallInteger, Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert


def now_us() -> int:
    """Wall-clock microseconds since the epoch (the unit every share table uses)."""
    return time.time_ns() // 1000


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, silently skipping those that collide with a unique key.

    Idempotent inserts let concurrent server processes record the same fact (a redaction
    lineage, a trusted key) without coordinating.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(table).on_conflict_do_nothing(), list(rows))
    else:
        conn.execute(insert(table).prefix_with("OR IGNORE"), list(rows))


def unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The same value as an expression no index can serve (``col + 0``, ``col || ''``).

    Listings must walk the ``date_added`` index in order; an equality on an indexed column
    tempts SQLite into that column's index and a sort of every match, which makes deep
    pages cost more than shallow ones. Wrapping the filtered column keeps the planner on
    the ordered index (PostgreSQL is unaffected either way).
    """
    if isinstance(column.type, Integer | SmallInteger):
        return column + 0
    return column.concat("")
