"""What every reader shares: options and results, the record-to-line map, the handling of
bad records (DuckDB's rejects, implausible timestamps) and the SQL macros.

Every format ends in the same long table, which (with the file's number) is all the match
definition sees::

    obs_file(ord BIGINT, ts_us BIGINT, log_type VARCHAR, field VARCHAR, kind VARCHAR, value VARCHAR)

``ord`` is the record's ordinal in the file; :class:`LineMap` turns the ordinals of the (few)
hits back into physical line numbers, from the header and blank lines found by block scans
and the lines DuckDB rejected. Bad records (wrong field count, invalid UTF-8, not JSON, an
implausible timestamp) are reported with file and line and left out.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb

from accord.hunt.inputs import Problem, head_has_cr, normalise_newlines
from accord.hunt.observations import ObsValue, lit, stage_observations
from accord.model.errors import AccordError

counter = itertools.count()  # unique suffixes for the names of staged tables
# Every temporary table a reader creates is named ``accord_…``: after a failed read, the
# runner drops those that no file still waiting for its match owns.
READ_TABLE_PREFIX = "accord_"
# Plausible log time: from 1995 to two days after now. 1970 (an unset clock) and 2100 (a
# corrupt field) are reported as bad lines rather than stretching first/last seen.
MIN_TS_US = 788_918_400_000_000
MAX_PROBLEMS_PER_FILE = 50

# ``accord_ts_us`` never raises on a value: every cast is a TRY_CAST, and a local time is
# shifted by ``timezone()`` only inside 1900..2200 (near the ends of the TIMESTAMP range the
# shift overflows, a ConversionException); NULL, an unreadable time, is reported as a bad line.
MACROS = r"""
CREATE OR REPLACE MACRO accord_ts_us(v, tz) AS (
  CASE
    WHEN v IS NULL OR trim(v) = '' THEN NULL
    WHEN try_cast(v AS DECIMAL(20, 6)) IS NOT NULL THEN
      CASE
        WHEN abs(try_cast(v AS DECIMAL(20, 6))) >= 100000000000000 THEN
          try_cast(try_cast(v AS DECIMAL(20, 6)) AS BIGINT)
        WHEN abs(try_cast(v AS DECIMAL(20, 6))) >= 100000000000 THEN
          try_cast(try_cast(v AS DECIMAL(20, 6)) * 1000 AS BIGINT)
        ELSE try_cast(try_cast(v AS DECIMAL(20, 6)) * 1000000 AS BIGINT)
      END
    WHEN regexp_matches(trim(v), '([Zz]|[+-][0-9][0-9]:?[0-9][0-9])$') THEN
      epoch_us(try_cast(trim(v) AS TIMESTAMPTZ))
    WHEN try_cast(trim(v) AS TIMESTAMP) BETWEEN TIMESTAMP '1900-01-01'
      AND TIMESTAMP '2200-01-01' THEN
      epoch_us(timezone(tz, try_cast(trim(v) AS TIMESTAMP)))
  END
);
CREATE OR REPLACE MACRO accord_ipname(v) AS (
  CASE WHEN contains(v, ':') OR regexp_full_match(v, '[0-9.]*') THEN 'ip' ELSE 'name' END
);
"""


class ReadError(AccordError):
    """A file that cannot be read at all (not the format, no header, corrupt Parquet)."""


@dataclass
class LineMap:
    """Record ordinal → physical line: per segment, its first ordinal, first line and the
    skipped (header, blank, rejected) lines inside it."""

    segments: list[tuple[int, int, list[int]]] = field(default_factory=list)
    rows_are_lines: bool = True

    def add(self, ord_base: int, first_line: int, skipped: Sequence[int]) -> None:
        self.segments.append((ord_base, first_line, sorted(s for s in skipped if s >= first_line)))

    def line(self, ordinal: int) -> int:
        index = bisect_right([s[0] for s in self.segments], ordinal) - 1
        base, first, skipped = self.segments[max(index, 0)]
        k = ordinal - base
        line = first + k
        while True:  # the smallest line with k data lines before it in the segment
            candidate = first + k + bisect_right(skipped, line)
            if candidate == line:
                return line
            line = candidate


@dataclass
class ReadOptions:
    timezone: str = "UTC"
    field_map: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ReadResult:
    log_type: str
    records: int
    bad: int
    problems: list[Problem]
    line_map: LineMap
    tables: list[str] = field(default_factory=list)


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MACROS)


def max_ts_us() -> int:
    import time

    return (int(time.time()) + 2 * 86_400) * 1_000_000


# --- shared steps -----------------------------------------------------------------------------

T = TypeVar("T")


def read_lf(plain: Path, workdir: Path, lone_cr: bytes, parse: Callable[[Path], T]) -> T:
    """``parse(plain)``, or ``parse`` of a copy with LF line ends when ``plain`` has
    carriage returns (:func:`accord.hunt.inputs.normalise_newlines`).

    DuckDB's strict CSV reader refuses a whole file over one ``\\r`` (with or without
    ``new_line = '\\r\\n'``), and without strict mode it takes ``\\r`` for a line end of
    its own, which shifts every line number after it. CRLF line ends (a log copied through
    a Windows tool) show in the first line: such a file is copied before parsing. The usual
    LF file takes no extra pass; a stray ``\\r`` further down surfaces as DuckDB's
    InvalidInputException, and only then is the file copied and parsed again. ``parse``
    must leave nothing behind when it fails.
    """
    error: duckdb.InvalidInputException | None = None
    if not head_has_cr(plain):
        try:
            return parse(plain)
        except duckdb.InvalidInputException as exc:
            error = exc
    lf = workdir / f"lf-{next(counter)}.log"
    try:
        if not normalise_newlines(plain, lf, lone_cr) and error is not None:
            raise error  # no carriage return: DuckDB failed for another reason
        return parse(lf)
    finally:
        lf.unlink(missing_ok=True)


def observe(
    con: duckdb.DuckDBPyConnection,
    table: str,
    values: list[ObsValue],
    log_type_expr: str,
    unset: Sequence[str],
    ord_expr: str = "ord",
) -> tuple[list[str], list[str]]:
    """Clean the staged table's values into narrow tables, then drop the staged table."""
    selects, created = stage_observations(con, table, values, log_type_expr, unset, ord_expr)
    drop(con, table)
    return selects, created


def drop_tables(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """Drop what a read staged (:attr:`ReadResult.tables`), once the engine is done with it."""
    drop(con, *tables)


def time_checks(
    con: duckdb.DuckDBPyConnection, table: str, raw_ts: str | None, tz: str, required: bool
) -> str:
    """Add ``ts_us`` to ``table``; returns the SQL condition that marks a bad timestamp."""
    if raw_ts is None:
        con.execute(f"ALTER TABLE {table} ADD COLUMN ts_us BIGINT")
        return "false"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT *, "
        f"accord_ts_us(CAST({raw_ts} AS VARCHAR), {lit(tz)}) AS ts_us FROM {table}"
    )
    missing = f"({raw_ts} IS NOT NULL AND ts_us IS NULL)"
    if required:
        missing = "ts_us IS NULL"
    return f"({missing} OR ts_us < {MIN_TS_US} OR ts_us > {max_ts_us()})"


def collect_bad(
    con: duckdb.DuckDBPyConnection,
    table: str,
    condition: str,
    raw_ts: str | None,
    path: str,
    line_map: LineMap,
    problems: list[Problem],
    ord_expr: str = "ord",
) -> int:
    """Report and delete the records whose timestamp is missing or implausible."""
    shown = f"CAST({raw_ts} AS VARCHAR)" if raw_ts else "NULL"
    bad = con.execute(
        f"SELECT {ord_expr}, {shown} FROM {table} WHERE {condition} ORDER BY 1 LIMIT "
        f"{MAX_PROBLEMS_PER_FILE}"
    ).fetchall()
    count = con.execute(f"SELECT count(*) FROM {table} WHERE {condition}").fetchone()
    total = int(count[0]) if count else 0
    for ordinal, raw in bad:
        reason = (
            "timestamp missing"
            if raw is None
            else f"timestamp {raw!r} is not a plausible log time (1995 to now)"
        )
        problems.append(Problem(path, line_map.line(int(ordinal)), reason))
    if total:
        con.execute(f"DELETE FROM {table} WHERE {condition}")
    return total


def report_rejects(
    con: duckdb.DuckDBPyConnection, table: str, path: str, line_offset: int, problems: list[Problem]
) -> list[int]:
    rows = con.execute(
        f"SELECT DISTINCT line, error_type, csv_line FROM {table} ORDER BY line"
    ).fetchall()
    lines: list[int] = []
    for line, error_type, text in rows:
        physical = int(line) + line_offset
        lines.append(physical)
        if len(problems) < MAX_PROBLEMS_PER_FILE:
            kind = str(error_type).upper()
            if "ENCODING" in kind:
                reason = "not valid UTF-8; line skipped"
            elif "COLUMNS" in kind:
                reason = f"wrong number of fields ({kind.lower()}); line skipped"
            else:
                reason = f"unreadable line ({kind.lower()}); line skipped"
            snippet = (text or "").strip()[:60]
            problems.append(Problem(path, physical, f"{reason}: {snippet!r}"))
    return lines


def reject_tables() -> tuple[str, str]:
    n = next(counter)
    return f"accord_rej_{n}", f"accord_rejscan_{n}"


def drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for t in tables:
        con.execute(f"DROP TABLE IF EXISTS {t}")
