"""Staged records → the ``obs_file`` view of observed values, cleaned once.

Every reader describes the values it extracts from a record (one :class:`ObsValue` per
field). They are cleaned (trimmed, unset markers dropped, answers classified as address or
name) **once**, into narrow tables: the Zeek TSV reader computes :func:`clean_columns` while
DuckDB parses the file; the other readers stage records first (:func:`stage_observations`).

* one table with a column per scalar field (``v0``, ``v1``, …, ``NULL`` where unset);
* one long table per vector field (Zeek sets and vectors, JSON arrays), already unnested;
  a Zeek set holding a single value (the usual case) is a scalar, never split.

``obs_file`` is then a ``UNION ALL`` of plain column selects with a constant ``field`` and
(almost always) a constant ``kind``. The match definition reads ``obs`` several times, one
kind at a time; with constant kinds, a branch of another kind costs nothing, and no per-row
expression is evaluated again on each read.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

_counter = itertools.count()


@dataclass(frozen=True, slots=True)
class ObsValue:
    """One output field of ``obs``: a SQL expression over the staged record table ``r``.

    ``kind`` ``ipname`` (a DNS answer) is classified per value as ``ip`` or ``name``.
    """

    label: str
    kind: str
    expr: str
    vector: bool = False
    # A vector held as separated text (Zeek sets): ``raw`` column and separator literal.
    # Most hold one value; those are taken as a scalar, only the others are split.
    raw: str | None = None
    sep: str | None = None
    # Written by the log's own formatter (a Zeek ``addr``): never padded, so not trimmed.
    trusted: bool = False


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _kept(value: str, unset: Sequence[str]) -> str:
    """The condition that keeps a (trimmed) value: present and not an unset marker."""
    listed = ", ".join(lit(t) for t in ("", *unset))
    return f"{value} IS NOT NULL AND {value} NOT IN ({listed})"


def _unset_to_null(value: str, unset: Sequence[str]) -> str:
    for token in ("", *unset):
        value = f"nullif({value}, {lit(token)})"
    return value


def _cleaned(expr: str, unset: Sequence[str], trusted: bool = False) -> str:
    """``expr`` trimmed, ``NULL`` when empty or an unset marker.

    Trimming copies the string and values seldom have spaces around them: only those that
    do are trimmed (DuckDB evaluates the repeated ``expr`` once), and trusted ones never.
    """
    text = f"CAST({expr} AS VARCHAR)"
    if trusted:
        return _unset_to_null(text, unset)
    return (
        f"CASE WHEN starts_with({text}, ' ') OR ends_with({text}, ' ') "
        f"THEN {_unset_to_null(f'trim({text})', unset)} ELSE {_unset_to_null(text, unset)} END"
    )


def clean_columns(values: Sequence[ObsValue], unset: Sequence[str]) -> str:
    """The select list (over the record alias ``r``) of the cleaned values: ``v<i>`` per
    scalar value (and ``k<i>``, its kind, for an answer), ``x<i>`` (a list) per vector."""
    items: list[str] = []
    for i, v in enumerate(values):
        scalar = v.expr
        if v.vector and v.raw is not None and v.sep is not None:
            several = f"contains({v.raw}, {v.sep})"
            items.append(f"CASE WHEN {several} THEN string_split({v.raw}, {v.sep}) END AS x{i}")
            scalar = f"CASE WHEN NOT {several} THEN {v.raw} END"
        elif v.vector:
            items.append(f"{v.expr} AS x{i}")
            continue
        cleaned = _cleaned(scalar, unset, v.trusted)
        items.append(f"{cleaned} AS v{i}")
        if v.kind == "ipname":
            items.append(f"accord_ipname({cleaned}) AS k{i}")
    return ", ".join(items) if items else "NULL AS v_none"


def _select(log_type: str, label: str, kind: str, value: str, ord_expr: str, table: str) -> str:
    return (
        f"SELECT {ord_expr} AS ord, ts_us, {log_type} AS log_type, {lit(label)} AS field, "
        f"{kind} AS kind, {value} AS value FROM {table} WHERE {value} IS NOT NULL"
    )


def finish_observations(
    con: duckdb.DuckDBPyConnection,
    table: str,
    values: Sequence[ObsValue],
    log_type: str,
    unset: Sequence[str],
    ord_expr: str,
) -> tuple[list[str], list[str]]:
    """From a table holding :func:`clean_columns` (and ``ts_us``; ``log_type`` unless it is a
    literal): unnest the vectors into long tables and return the ``SELECT`` statements whose
    union is this table's part of ``obs_file``, with the tables created."""
    n = next(_counter)
    type_ref = log_type if log_type.startswith("'") else "log_type"
    type_col = "" if log_type.startswith("'") else ", log_type"
    selects: list[str] = []
    created: list[str] = []
    for i, v in enumerate(values):
        if not v.vector or v.raw is not None:
            kind = f"k{i}" if v.kind == "ipname" else lit(v.kind)
            selects.append(_select(type_ref, v.label, kind, f"v{i}", ord_expr, table))
        if not v.vector:
            continue
        vec = f"accord_obsv_{n}_{i}"
        kind = "accord_ipname(value)" if v.kind == "ipname" else lit(v.kind)
        con.execute(
            f"CREATE TEMP TABLE {vec} AS SELECT ord, ts_us{type_col}, {kind} AS kind, value "
            f"FROM (SELECT ord, ts_us{type_col}, trim(CAST(unnest(x{i}) AS VARCHAR)) AS value "
            f"FROM (SELECT {ord_expr} AS ord, ts_us{type_col}, x{i} FROM {table} "
            f"WHERE x{i} IS NOT NULL)) WHERE {_kept('value', unset)}"
        )
        created.append(vec)
        selects.append(_select(type_ref, v.label, "kind", "value", "ord", vec))
    return selects, created


def stage_observations(
    con: duckdb.DuckDBPyConnection,
    table: str,
    values: Sequence[ObsValue],
    log_type_expr: str,
    unset: Sequence[str],
    ord_expr: str = "ord",
) -> tuple[list[str], list[str]]:
    """Clean the values of staged record ``table`` into a narrow table (the readers that
    cannot compute them while parsing); see :func:`finish_observations`.

    ``log_type_expr`` is a literal or a per-record expression over ``r``.
    """
    clean = f"accord_obs_{next(_counter)}"
    type_col = (
        "" if log_type_expr.startswith("'") else f", CAST({log_type_expr} AS VARCHAR) AS log_type"
    )
    con.execute(
        f"CREATE TEMP TABLE {clean} AS SELECT {ord_expr} AS ord, ts_us{type_col}, "
        f"{clean_columns(values, unset)} FROM {table} r"
    )
    selects, created = finish_observations(con, clean, values, log_type_expr, unset, "ord")
    return selects, [clean, *created]


EMPTY_OBS = (
    "SELECT NULL::BIGINT AS ord, NULL::BIGINT AS ts_us, NULL::VARCHAR AS log_type, "
    "NULL::VARCHAR AS field, NULL::VARCHAR AS kind, NULL::VARCHAR AS value WHERE false"
)


def publish(con: duckdb.DuckDBPyConnection, selects: list[str]) -> None:
    """``obs_file`` as a view over the cleaned tables."""
    body = " UNION ALL ".join(selects) if selects else EMPTY_OBS
    con.execute("CREATE OR REPLACE TEMP VIEW obs_file AS " + body)
