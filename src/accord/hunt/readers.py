"""Readers: one log file → the ``obs`` table of observed values, set-based in DuckDB.

Every format ends in the same long table, which (with the file's number) is all the match
definition sees::

    obs_file(ord BIGINT, ts_us BIGINT, log_type VARCHAR, field VARCHAR, kind VARCHAR, value VARCHAR)

``ord`` is the record's ordinal in the file; :class:`LineMap` turns the ordinals of the (few)
hits back into physical line numbers, from the header and blank lines found by block scans
and the lines DuckDB rejected. Parsing is DuckDB's own (its CSV reader for Zeek TSV and CSV,
its JSON functions for the JSON formats, its Parquet reader): parallel, spilling, and with no
Python loop over records. Bad records (wrong field count, invalid UTF-8, not JSON, an
implausible timestamp) are reported with file and line and left out.
"""

from __future__ import annotations

import csv
import io
import itertools
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from accord.hunt import fields as F
from accord.hunt.inputs import Opened, Problem, ZeekLayout, ZeekSegment, scan_zeek
from accord.model.errors import AccordError

_counter = itertools.count()
# Plausible log time: from 1995 to two days after now. 1970 (an unset clock) and 2100 (a
# corrupt field) are reported as bad lines rather than stretching first/last seen.
MIN_TS_US = 788_918_400_000_000
MAX_PROBLEMS_PER_FILE = 50

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
    ELSE epoch_us(timezone(tz, try_cast(trim(v) AS TIMESTAMP)))
  END
);
CREATE OR REPLACE MACRO accord_ipname(v) AS (
  CASE WHEN v LIKE '%:%' OR translate(v, '0123456789.', '') = '' THEN 'ip' ELSE 'name' END
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


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _max_ts_us() -> int:
    import time

    return (int(time.time()) + 2 * 86_400) * 1_000_000


# --- shared steps -----------------------------------------------------------------------------


@dataclass
class _Value:
    """One output column of ``obs``: a SQL expression over the staged record table ``r``."""

    label: str
    kind: str
    expr: str
    vector: bool = False


def _unset_filter(tokens: Sequence[str]) -> str:
    listed = ", ".join(_lit(t) for t in ("", *tokens))
    return f"value IS NOT NULL AND value NOT IN ({listed})"


def _build_obs(
    con: duckdb.DuckDBPyConnection,
    table: str,
    values: list[_Value],
    log_type_expr: str,
    unset: Sequence[str],
    ord_expr: str = "ord",
) -> str:
    """The query unpivoting staged records into observations (one row per non-empty value)."""
    parts: list[str] = []
    for v in values:
        value = f"unnest({v.expr})" if v.vector else v.expr
        parts.append(
            f"SELECT {ord_expr} AS ord, ts_us, {log_type_expr} AS log_type, "
            f"{_lit(v.label)} AS field, "
            f"{_lit(v.kind)} AS kind, {value} AS value FROM {table} r"
        )
    body = (
        " UNION ALL ".join(parts)
        if parts
        else (
            "SELECT NULL::BIGINT AS ord, NULL::BIGINT AS ts_us, NULL AS log_type, NULL AS field, "
            "NULL AS kind, NULL AS value WHERE false"
        )
    )
    select = (
        "SELECT ord, ts_us, CAST(log_type AS VARCHAR) AS log_type, field, "
        "CASE WHEN kind = 'ipname' THEN accord_ipname(trim(value)) ELSE kind END AS kind, "
        f"trim(value) AS value FROM ({body}) WHERE {_unset_filter(unset)}"
    )
    return select


def _publish(con: duckdb.DuckDBPyConnection, selects: list[str]) -> None:
    """``obs_file`` as a view over the staged tables: the engine materialises it once."""
    con.execute("CREATE OR REPLACE TEMP VIEW obs_file AS " + " UNION ALL ".join(selects))


def release(con: duckdb.DuckDBPyConnection, read: ReadResult) -> None:
    """Drop what a read staged, once the engine has consumed ``obs_file``."""
    con.execute("DROP VIEW IF EXISTS obs_file")
    _drop(con, *read.tables)


def _time_checks(
    con: duckdb.DuckDBPyConnection, table: str, raw_ts: str | None, tz: str, required: bool
) -> str:
    """Add ``ts_us`` to ``table``; returns the SQL condition that marks a bad timestamp."""
    if raw_ts is None:
        con.execute(f"ALTER TABLE {table} ADD COLUMN ts_us BIGINT")
        return "false"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT *, "
        f"accord_ts_us(CAST({raw_ts} AS VARCHAR), {_lit(tz)}) AS ts_us FROM {table}"
    )
    missing = f"({raw_ts} IS NOT NULL AND ts_us IS NULL)"
    if required:
        missing = "ts_us IS NULL"
    return f"({missing} OR ts_us < {MIN_TS_US} OR ts_us > {_max_ts_us()})"


def _collect_bad(
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


def _rejects(
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


def _reject_tables() -> tuple[str, str]:
    n = next(_counter)
    return f"accord_rej_{n}", f"accord_rejscan_{n}"


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for t in tables:
        con.execute(f"DROP TABLE IF EXISTS {t}")


# --- Zeek TSV ---------------------------------------------------------------------------------


def _zeek_values(
    spec: list[F.Field], col: dict[str, str], seg: ZeekSegment, resp: str | None
) -> list[_Value]:
    sep = _lit(seg.set_separator)
    values: list[_Value] = []
    unset = _lit(seg.unset)
    for f in spec:
        c = f"r.{col[f.name]}"
        if f.host is not None:
            host = f"r.{col[f.host]}"
            fallback = f"r.{resp}" if resp else "NULL"
            host_expr = (
                f"CASE WHEN {host} IS NULL OR {host} = {unset} THEN {fallback} ELSE {host} END"
            )
            expr = f"CASE WHEN starts_with({c}, '/') THEN {host_expr} || {c} ELSE {c} END"
            values.append(_Value(f.name, "url", expr))
        elif f.cn:
            values.append(_Value(f.name + ".CN", f.kind, f"regexp_extract({c}, 'CN=([^,]+)', 1)"))
        elif f.vector:
            values.append(_Value(f.name, f.kind, f"string_split({c}, {sep})", vector=True))
        else:
            values.append(_Value(f.name, f.kind, c))
    return values


def _read_zeek_tsv(
    con: duckdb.DuckDBPyConnection, opened: Opened, options: ReadOptions, workdir: Path
) -> ReadResult:
    path = str(opened.original)
    layout = scan_zeek(opened.plain)
    problems = [*opened.problems, *layout.problems]
    if not layout.segments:
        raise ReadError(f"{path}: no #fields header: not a Zeek TSV log")
    same = all(s.fields == layout.segments[0].fields for s in layout.segments)
    groups = [layout.segments] if same else [[s] for s in layout.segments]
    line_map = LineMap()
    records = bad = 0
    log_type = layout.segments[0].path or opened.original.name.split(".")[0]
    selects: list[str] = []
    staged_tables: list[str] = []
    blanks_scanned = False
    for index, group in enumerate(groups):
        seg = group[0]
        ord_base = index << 40
        if same:
            source, line_offset = opened.plain, 0
            span_lines = layout.total_lines - seg.first_line + 1
        else:
            source = workdir / f"segment-{next(_counter)}.log"
            with opened.plain.open("rb") as handle, source.open("wb") as out:
                handle.seek(seg.start)
                data = handle.read(seg.end - seg.start)
                out.write(data)
            line_offset = seg.first_line - 1
            span_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        seg_type = seg.path or log_type
        spec = F.zeek_fields(seg_type, seg.fields, seg.types)
        col = {name: f"c{i}" for i, name in enumerate(seg.fields)}
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(seg.fields))) + "}"
        needed = sorted(
            {col[f.name] for f in spec}
            | {col[f.host] for f in spec if f.host}
            | ({col["ts"]} if "ts" in col else set())
            | ({col["id.resp_h"]} if "id.resp_h" in col else set())
        )
        rej, rejscan = _reject_tables()
        staged = f"accord_stage_{next(_counter)}"
        projection = ", ".join(needed) if needed else "1 AS dummy"
        ts_col = col.get("ts")
        # Zeek writes epoch seconds as a float: one cast, no format guessing.
        ts_expr = (
            f"CAST(round(TRY_CAST({ts_col} AS DOUBLE) * 1000000) AS BIGINT)"
            if ts_col
            else "CAST(NULL AS BIGINT)"
        )
        con.execute(
            f"CREATE TEMP TABLE {staged} AS SELECT {projection}, {ts_expr} AS ts_us "
            "FROM read_csv(?, "
            f"columns = {columns}, delim = '\t', quote = '', escape = '', header = false, "
            "comment = '#', auto_detect = false, ignore_errors = true, store_rejects = true, "
            f"rejects_table = '{rej}', rejects_scan = '{rejscan}', new_line = '\\n', "
            "null_padding = false, strict_mode = true)",
            [str(source)],
        )
        ord_expr = f"rowid + {ord_base}"  # rows are stored in file order; deletes keep rowids
        rejected = _rejects(con, rej, path, line_offset, problems)
        _drop(con, rej, rejscan)
        rows = int(con.execute(f"SELECT count(*) FROM {staged}").fetchone()[0])  # type: ignore[index]
        skipped = _segment_skips(layout, seg, same, span_lines)
        if rows != span_lines - len(rejected) - len(skipped) and not blanks_scanned:
            layout = scan_zeek(opened.plain, blanks=True)  # an empty line was skipped
            blanks_scanned = True
            seg = layout.segments[index] if not same else layout.segments[0]
            skipped = _segment_skips(layout, seg, same, span_lines)
        expected_rows = span_lines - len(rejected) - len(skipped)
        if rows != expected_rows:
            problems.append(
                Problem(
                    path,
                    seg.first_line,
                    f"line numbers may be approximate: {rows} records read where "
                    f"{expected_rows} were expected",
                )
            )
        line_map.add(ord_base, seg.first_line, [*skipped, *rejected])
        bad += len(rejected)
        condition = (
            f"(ts_us IS NULL OR ts_us < {MIN_TS_US} OR ts_us > {_max_ts_us()})"
            if ts_col
            else "false"
        )
        bad += _collect_bad(
            con, staged, condition, ts_col, path, line_map, problems, ord_expr=ord_expr
        )
        records += rows
        values = _zeek_values(spec, col, seg, col.get("id.resp_h"))
        selects.append(
            _build_obs(con, staged, values, _lit(seg_type), (seg.unset, seg.empty), ord_expr)
        )
        staged_tables.append(staged)
    _publish(con, selects)
    return ReadResult(log_type, records, bad, problems, line_map, staged_tables)


def _segment_skips(layout: ZeekLayout, seg: ZeekSegment, same: bool, span: int) -> list[int]:
    """Header and empty lines inside a segment's span (physical line numbers)."""
    if same:
        return [s for s in layout.skipped_lines if s >= seg.first_line]
    return [s for s in layout.skipped_lines if seg.first_line <= s < seg.first_line + span]


# --- line-oriented JSON (Zeek JSON, EVE, OCSF, JSON Lines) --------------------------------------


def _load_lines(
    con: duckdb.DuckDBPyConnection, opened: Opened, problems: list[Problem]
) -> tuple[str, LineMap, int]:
    """Stage every physical line as one text column; ``ord`` is the 0-based line index among
    the lines DuckDB could decode (rejected ones are reported and mapped around)."""
    path = str(opened.original)
    rej, rejscan = _reject_tables()
    table = f"accord_lines_{next(_counter)}"
    con.execute(
        f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv(?, columns = {{'text': 'VARCHAR'}}, "
        "delim = '\\0', quote = '', escape = '', header = false, auto_detect = false, "
        f"ignore_errors = true, store_rejects = true, rejects_table = '{rej}', "
        f"rejects_scan = '{rejscan}', new_line = '\\n', strict_mode = false)",
        [str(opened.plain)],
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT rowid AS ord, text FROM {table}")
    rejected = _rejects(con, rej, path, 0, problems)
    _drop(con, rej, rejscan)
    line_map = LineMap()
    line_map.add(0, 1, rejected)
    return table, line_map, len(rejected)


def _json_values(specs: Sequence[F.JsonField], scalar_paths: list[str]) -> list[_Value]:
    values: list[_Value] = []
    for spec in specs:
        if spec.vector:
            guard = scalar_paths.index(spec.guard) + 1 if spec.guard else None
            expr = f"json_extract_string(r.text, {_lit(spec.path)})"
            if guard:
                expr = f"CASE WHEN r.s[{guard}] IS NOT NULL THEN {expr} END"
            values.append(_Value(spec.label, spec.kind, expr, vector=True))
            continue
        i = scalar_paths.index(spec.path) + 1
        if spec.host_path:
            h = scalar_paths.index(spec.host_path) + 1
            expr = (
                f"CASE WHEN r.s[{h}] IS NOT NULL AND starts_with(r.s[{i}], '/') "
                f"THEN r.s[{h}] || r.s[{i}] ELSE r.s[{i}] END"
            )
            values.append(_Value(spec.label, "url", expr))
        else:
            values.append(_Value(spec.label, spec.kind, f"r.s[{i}]"))
    return values


def _read_json_lines(
    con: duckdb.DuckDBPyConnection,
    opened: Opened,
    options: ReadOptions,
    specs: Sequence[F.JsonField],
    time_path: str | None,
    type_expr: str,
    default_type: str,
    extra_paths: Sequence[str] = (),
) -> ReadResult:
    path = str(opened.original)
    problems = list(opened.problems)
    lines, line_map, rejected = _load_lines(con, opened, problems)
    scalar_paths: list[str] = []
    for spec in specs:
        for p in (spec.path if not spec.vector else None, spec.host_path, spec.guard):
            if p and p not in scalar_paths:
                scalar_paths.append(p)
    for p in (time_path, *extra_paths):
        if p and p not in scalar_paths:
            scalar_paths.append(p)
    records_row = con.execute(
        f"SELECT count(*) FROM {lines} WHERE text IS NOT NULL AND trim(text) <> ''"
    ).fetchone()
    records = int(records_row[0]) if records_row else 0
    good = "json_valid(text) AND starts_with(ltrim(text), '{')"
    not_json = f"NOT ({good})"
    bad_rows = con.execute(
        f"SELECT ord, text FROM {lines} WHERE text IS NOT NULL AND trim(text) <> '' "
        f"AND {not_json} ORDER BY ord LIMIT {MAX_PROBLEMS_PER_FILE}"
    ).fetchall()
    for ordinal, text in bad_rows:
        problems.append(
            Problem(path, line_map.line(int(ordinal)), f"not a JSON object: {text.strip()[:60]!r}")
        )
    bad_count = con.execute(
        f"SELECT count(*) FROM {lines} WHERE text IS NOT NULL AND trim(text) <> '' AND {not_json}"
    ).fetchone()
    bad = rejected + (int(bad_count[0]) if bad_count else 0)
    staged = f"accord_stage_{next(_counter)}"
    path_list = "[" + ", ".join(_lit(p) for p in scalar_paths) + "]"
    con.execute(
        f"CREATE TEMP TABLE {staged} AS SELECT ord, text, "
        f"json_extract_string(text, {path_list}) AS s FROM {lines} "
        f"WHERE text IS NOT NULL AND trim(text) <> '' AND {good}"
    )
    _drop(con, lines)
    raw_ts = f"s[{scalar_paths.index(time_path) + 1}]" if time_path else None
    condition = _time_checks(con, staged, raw_ts, options.timezone, time_path is not None)
    bad += _collect_bad(con, staged, condition, raw_ts, path, line_map, problems)
    values = _json_values(specs, scalar_paths)
    log_type = type_expr.format(*(f"r.s[{scalar_paths.index(p) + 1}]" for p in extra_paths))
    log_expr = f"coalesce({log_type}, {_lit(default_type)})"
    _publish(con, [_build_obs(con, staged, values, log_expr, ("-",))])
    return ReadResult(default_type, records, bad, problems, line_map, [staged])


def _zeek_json_specs() -> list[F.JsonField]:
    specs: list[F.JsonField] = []
    for f in F.zeek_json_fields():
        path = F.quoted_key(f.name)
        if f.host:
            specs.append(F.JsonField(f.name, path, "url", host_path=F.quoted_key(f.host)))
        elif f.cn:
            specs.append(F.JsonField(f.name, path, f.kind))
        elif f.vector:
            specs.append(F.JsonField(f.name, path + "[*]", f.kind, True, guard=path))
        else:
            specs.append(F.JsonField(f.name, path, f.kind))
    return specs


# --- generic CSV, JSON Lines and Parquet with a field mapping ---------------------------------


def _mapping(options: ReadOptions, columns: list[str], path: str) -> dict[str, list[str]]:
    mapping = options.field_map or F.auto_map(columns)
    if not any(k != "time" for k in mapping):
        raise ReadError(
            f"{path}: no field to hunt in; give a mapping such as --map ip=src,dst "
            "--map domain=host --map time=ts"
        )
    missing = [c for cols in mapping.values() for c in cols if columns and c not in columns]
    if missing:
        raise ReadError(f"{path}: mapped field(s) not found: {', '.join(missing)}")
    return mapping


def _mapped_values(mapping: dict[str, list[str]], ref: dict[str, str]) -> list[_Value]:
    values: list[_Value] = []
    for key, cols in mapping.items():
        if key == "time":
            continue
        kind = F.MAP_KINDS[key]
        for c in cols:
            values.append(_Value(c, kind, f"CAST(r.{ref[c]} AS VARCHAR)"))
    return values


def _sniff_csv(plain: Path) -> tuple[str, list[str]]:
    with plain.open("rb") as handle:
        head = handle.read(1 << 16).decode("utf-8", "replace")
    first = head.splitlines()[0] if head else ""
    delimiter = max((",", ";", "\t", "|"), key=first.count)
    header = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    return delimiter, [h.strip() for h in header]


def _read_csv(con: duckdb.DuckDBPyConnection, opened: Opened, options: ReadOptions) -> ReadResult:
    path = str(opened.original)
    problems = list(opened.problems)
    delimiter, header = _sniff_csv(opened.plain)
    if not header or not any(header):
        raise ReadError(f"{path}: empty CSV (no header line)")
    mapping = _mapping(options, header, path)
    ref = {name: f"c{i}" for i, name in enumerate(header)}
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
    rej, rejscan = _reject_tables()
    staged = f"accord_stage_{next(_counter)}"
    con.execute(
        f"CREATE TEMP TABLE {staged} AS SELECT * FROM read_csv(?, columns = {columns}, "
        f"delim = {_lit(delimiter)}, quote = '\"', escape = '\"', header = false, skip = 1, "
        "auto_detect = false, ignore_errors = true, store_rejects = true, "
        f"rejects_table = '{rej}', rejects_scan = '{rejscan}', null_padding = false, "
        "strict_mode = true)",
        [str(opened.plain)],
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT rowid AS ord, * FROM {staged}")
    rejected = _rejects(con, rej, path, 0, problems)
    _drop(con, rej, rejscan)
    layout_blank = _blank_lines(opened.plain)
    line_map = LineMap()
    line_map.add(0, 2, [*layout_blank, *rejected])
    row = con.execute(f"SELECT count(*) FROM {staged}").fetchone()
    records = int(row[0]) if row else 0
    time_col = mapping.get("time", [None])[0]
    raw_ts = ref[time_col] if time_col else None
    condition = _time_checks(con, staged, raw_ts, options.timezone, raw_ts is not None)
    bad = len(rejected) + _collect_bad(con, staged, condition, raw_ts, path, line_map, problems)
    _publish(con, [_build_obs(con, staged, _mapped_values(mapping, ref), "'csv'", ("-",))])
    return ReadResult("csv", records, bad, problems, line_map, [staged])


def _blank_lines(plain: Path) -> list[int]:
    """Physical numbers of empty lines (DuckDB's CSV reader skips them silently)."""
    found: list[int] = []
    lines_before = 0
    with plain.open("rb") as handle:
        carry = b""
        while True:
            block = handle.read(8 << 20)
            data = carry + block
            if not data:
                break
            cut = data.rfind(b"\n") + 1 if block else len(data)
            chunk, carry = data[:cut], data[cut:]
            pos = 0
            if lines_before == 0 and chunk.startswith(b"\n"):
                found.append(1)
            while True:
                at = chunk.find(b"\n\n", pos)
                if at < 0:
                    break
                found.append(lines_before + chunk.count(b"\n", 0, at + 1) + 1)
                pos = at + 1
            lines_before += chunk.count(b"\n")
            if not block:
                break
    return found


def _read_jsonl(con: duckdb.DuckDBPyConnection, opened: Opened, options: ReadOptions) -> ReadResult:
    path = str(opened.original)
    mapping = _mapping(options, [], path)
    specs = [
        F.JsonField(c, F.json_path(c), F.MAP_KINDS[key])
        for key, cols in mapping.items()
        if key != "time"
        for c in cols
    ]
    time_path = F.json_path(mapping["time"][0]) if "time" in mapping else None
    return _read_json_lines(con, opened, options, specs, time_path, "NULL", "jsonl")


def _read_parquet(
    con: duckdb.DuckDBPyConnection, opened: Opened, options: ReadOptions
) -> ReadResult:
    path = str(opened.original)
    try:
        described = con.execute(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?))", [str(opened.plain)]
        ).fetchall()
    except duckdb.Error as exc:
        raise ReadError(f"{path}: not a readable Parquet file ({exc})") from None
    columns = [r[0] for r in described]
    mapping = _mapping(options, columns, path)
    ref = {name: _q(name) for name in columns}
    staged = f"accord_stage_{next(_counter)}"
    wanted = sorted({c for cols in mapping.values() for c in cols})
    projection = ", ".join(_q(c) for c in wanted)
    try:
        con.execute(
            f"CREATE TEMP TABLE {staged} AS SELECT file_row_number AS ord, {projection} "
            "FROM read_parquet(?, file_row_number = true)",
            [str(opened.plain)],
        )
    except duckdb.Error as exc:
        raise ReadError(f"{path}: not a readable Parquet file ({exc})") from None
    line_map = LineMap(rows_are_lines=False)
    line_map.add(0, 1, [])
    problems = list(opened.problems)
    row = con.execute(f"SELECT count(*) FROM {staged}").fetchone()
    records = int(row[0]) if row else 0
    time_col = mapping.get("time", [None])[0]
    raw_ts = ref[time_col] if time_col else None
    condition = _time_checks(con, staged, raw_ts, options.timezone, raw_ts is not None)
    bad = _collect_bad(con, staged, condition, raw_ts, path, line_map, problems)
    _publish(con, [_build_obs(con, staged, _mapped_values(mapping, ref), "'parquet'", ())])
    return ReadResult("parquet", records, bad, problems, line_map, [staged])


# --- entry point ------------------------------------------------------------------------------


def read_file(
    con: duckdb.DuckDBPyConnection,
    opened: Opened,
    fmt: str,
    options: ReadOptions,
    workdir: Path,
) -> ReadResult:
    """Fill the ``obs_file`` temp table from one (decompressed) file of format ``fmt``."""
    if fmt == "zeek":
        return _read_zeek_tsv(con, opened, options, workdir)
    if fmt == "zeek-json":
        stem = opened.original.name.split(".")[0]
        return _read_json_lines(
            con,
            opened,
            options,
            _zeek_json_specs(),
            "$.ts",
            "{0}",
            stem,
            extra_paths=("$._path",),
        )
    if fmt == "eve":
        return _read_json_lines(
            con, opened, options, F.EVE_FIELDS, F.EVE_TIME, "{0}", "eve", extra_paths=(F.EVE_TYPE,)
        )
    if fmt == "ocsf":
        return _read_json_lines(
            con,
            opened,
            options,
            F.OCSF_FIELDS,
            F.OCSF_TIME,
            "lower(replace(coalesce({0}, CASE {1} "
            + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in F.OCSF_CLASSES.items())
            + " END), ' ', '_'))",
            "ocsf",
            extra_paths=(F.OCSF_TYPE, "$.class_uid"),
        )
    if fmt == "csv":
        return _read_csv(con, opened, options)
    if fmt == "jsonl":
        return _read_jsonl(con, opened, options)
    if fmt == "parquet":
        return _read_parquet(con, opened, options)
    raise ReadError(f"unknown format {fmt!r}")
