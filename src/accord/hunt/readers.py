"""Readers: one log file → the ``obs`` table of observed values, set-based in DuckDB.

Parsing is DuckDB's own (its CSV reader for Zeek TSV and CSV, its JSON functions for the JSON
formats, its Parquet reader): parallel, spilling, and with no Python loop over records. The
Zeek TSV reader lives in :mod:`accord.hunt.zeektsv`, what all readers share (results, line
map, bad records) in :mod:`accord.hunt.readbase`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import duckdb

from accord.hunt import fields as F
from accord.hunt.inputs import Opened, Problem
from accord.hunt.observations import ObsValue, lit, publish
from accord.hunt.readbase import (
    MAX_PROBLEMS_PER_FILE,
    LineMap,
    ReadError,
    ReadOptions,
    ReadResult,
    collect_bad,
    counter,
    drop,
    observe,
    read_lf,
    reject_tables,
    report_rejects,
    time_checks,
)
from accord.hunt.zeektsv import read_zeek_tsv


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# --- line-oriented JSON (Zeek JSON, EVE, OCSF, JSON Lines) --------------------------------------


def _load_lines(
    con: duckdb.DuckDBPyConnection, opened: Opened, problems: list[Problem], workdir: Path
) -> tuple[str, LineMap, int]:
    """Stage every physical line as one text column; ``ord`` is the 0-based line index among
    the lines DuckDB could decode (rejected ones are reported and mapped around).

    Strict mode, so that a carriage return is refused rather than taken for a line end of
    its own: the file is then read from an LF copy (:func:`read_lf`; a lone ``\\r``
    becomes a space, which is JSON whitespace), and line numbers stay exact.
    """
    path = str(opened.original)
    rej, rejscan = reject_tables()
    table = f"accord_lines_{next(counter)}"

    def parse(plain: Path) -> None:
        sql = (
            f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv(?, "
            "columns = {'text': 'VARCHAR'}, delim = '\\0', quote = '', escape = '', "
            "header = false, auto_detect = false, ignore_errors = true, store_rejects = true, "
            f"rejects_table = '{rej}', rejects_scan = '{rejscan}', new_line = '\\n', "
            # plain already (open_plain): a '.gz' in the name is no hint
            "strict_mode = true, compression = 'none')"
        )
        try:
            con.execute(sql, [str(plain)])
        except Exception:
            drop(con, table, rej, rejscan)
            raise

    read_lf(opened.plain, workdir, b" ", parse)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT rowid AS ord, text FROM {table}")
    rejected = report_rejects(con, rej, path, 0, problems)
    drop(con, rej, rejscan)
    line_map = LineMap()
    line_map.add(0, 1, rejected)
    return table, line_map, len(rejected)


def _json_values(specs: Sequence[F.JsonField], scalar_paths: list[str]) -> list[ObsValue]:
    values: list[ObsValue] = []
    for spec in specs:
        if spec.vector:
            guard = scalar_paths.index(spec.guard) + 1 if spec.guard else None
            expr = f"json_extract_string(r.text, {lit(spec.path)})"
            if guard:
                expr = f"CASE WHEN r.s[{guard}] IS NOT NULL THEN {expr} END"
            values.append(ObsValue(spec.label, spec.kind, expr, vector=True))
            continue
        i = scalar_paths.index(spec.path) + 1
        if spec.host_path:
            h = scalar_paths.index(spec.host_path) + 1
            expr = (
                f"CASE WHEN r.s[{h}] IS NOT NULL AND starts_with(r.s[{i}], '/') "
                f"THEN r.s[{h}] || r.s[{i}] ELSE r.s[{i}] END"
            )
            values.append(ObsValue(spec.label, "url", expr))
        else:
            values.append(ObsValue(spec.label, spec.kind, f"r.s[{i}]"))
    return values


def _read_json_lines(
    con: duckdb.DuckDBPyConnection,
    opened: Opened,
    options: ReadOptions,
    workdir: Path,
    specs: Sequence[F.JsonField],
    time_path: str | None,
    type_expr: str,
    default_type: str,
    extra_paths: Sequence[str] = (),
) -> ReadResult:
    path = str(opened.original)
    problems = list(opened.problems)
    lines, line_map, rejected = _load_lines(con, opened, problems, workdir)
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
    staged = f"accord_stage_{next(counter)}"
    path_list = "[" + ", ".join(lit(p) for p in scalar_paths) + "]"
    con.execute(
        f"CREATE TEMP TABLE {staged} AS SELECT ord, text, "
        f"json_extract_string(text, {path_list}) AS s FROM {lines} "
        f"WHERE text IS NOT NULL AND trim(text) <> '' AND {good}"
    )
    drop(con, lines)
    raw_ts = f"s[{scalar_paths.index(time_path) + 1}]" if time_path else None
    condition = time_checks(con, staged, raw_ts, options.timezone, time_path is not None)
    bad += collect_bad(con, staged, condition, raw_ts, path, line_map, problems)
    values = _json_values(specs, scalar_paths)
    log_type = type_expr.format(*(f"r.s[{scalar_paths.index(p) + 1}]" for p in extra_paths))
    log_expr = f"coalesce({log_type}, {lit(default_type)})"
    selects, created = observe(con, staged, values, log_expr, ("-",))
    publish(con, selects)
    return ReadResult(default_type, records, bad, problems, line_map, created)


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


def _mapped_values(mapping: dict[str, list[str]], ref: dict[str, str]) -> list[ObsValue]:
    values: list[ObsValue] = []
    for key, cols in mapping.items():
        if key == "time":
            continue
        kind = F.MAP_KINDS[key]
        for c in cols:
            values.append(ObsValue(c, kind, f"CAST(r.{ref[c]} AS VARCHAR)"))
    return values


def _sniff_csv(plain: Path) -> tuple[str, list[str]]:
    """Delimiter and header names from the first line. ``utf-8-sig``: a byte order mark
    (Excel writes one) is not part of the first name; DuckDB skips it when reading."""
    with plain.open("rb") as handle:
        head = handle.read(1 << 16).decode("utf-8-sig", "replace")
    first = head.splitlines()[0] if head else ""
    delimiter = max((",", ";", "\t", "|"), key=first.count)
    header = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    return delimiter, [h.strip() for h in header]


def _read_csv(
    con: duckdb.DuckDBPyConnection, opened: Opened, options: ReadOptions, workdir: Path
) -> ReadResult:
    path = str(opened.original)
    problems = list(opened.problems)
    delimiter, header = _sniff_csv(opened.plain)
    if not header or not any(header):
        raise ReadError(f"{path}: empty CSV (no header line)")
    mapping = _mapping(options, header, path)
    ref = {name: f"c{i}" for i, name in enumerate(header)}
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
    rej, rejscan = reject_tables()
    staged = f"accord_stage_{next(counter)}"

    def parse(plain: Path) -> list[int]:
        """Stage the records; the empty lines (DuckDB skips them silently) of the same copy."""
        sql = (
            f"CREATE TEMP TABLE {staged} AS SELECT * FROM read_csv(?, columns = {columns}, "
            f"delim = {lit(delimiter)}, quote = '\"', escape = '\"', header = false, "
            "skip = 1, auto_detect = false, ignore_errors = true, store_rejects = true, "
            f"rejects_table = '{rej}', rejects_scan = '{rejscan}', null_padding = false, "
            "strict_mode = true, compression = 'none')"  # plain already (open_plain)
        )
        try:
            con.execute(sql, [str(plain)])
        except Exception:
            drop(con, staged, rej, rejscan)
            raise
        return _blank_lines(plain)

    # A carriage return outside CRLF line ends stops DuckDB's strict reader, and CRLF ones
    # hide empty lines from _blank_lines: read_lf parses an LF copy (a lone one a space).
    layout_blank = read_lf(opened.plain, workdir, b" ", parse)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT rowid AS ord, * FROM {staged}")
    rejected = report_rejects(con, rej, path, 0, problems)
    drop(con, rej, rejscan)
    line_map = LineMap()
    line_map.add(0, 2, [*layout_blank, *rejected])
    row = con.execute(f"SELECT count(*) FROM {staged}").fetchone()
    records = int(row[0]) if row else 0
    time_col = mapping.get("time", [None])[0]
    raw_ts = ref[time_col] if time_col else None
    condition = time_checks(con, staged, raw_ts, options.timezone, raw_ts is not None)
    bad = len(rejected) + collect_bad(con, staged, condition, raw_ts, path, line_map, problems)
    selects, created = observe(con, staged, _mapped_values(mapping, ref), "'csv'", ("-",))
    publish(con, selects)
    return ReadResult("csv", records, bad, problems, line_map, created)


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


def _read_jsonl(
    con: duckdb.DuckDBPyConnection, opened: Opened, options: ReadOptions, workdir: Path
) -> ReadResult:
    path = str(opened.original)
    mapping = _mapping(options, [], path)
    specs = [
        F.JsonField(c, F.json_path(c), F.MAP_KINDS[key])
        for key, cols in mapping.items()
        if key != "time"
        for c in cols
    ]
    time_path = F.json_path(mapping["time"][0]) if "time" in mapping else None
    return _read_json_lines(con, opened, options, workdir, specs, time_path, "NULL", "jsonl")


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
    staged = f"accord_stage_{next(counter)}"
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
    condition = time_checks(con, staged, raw_ts, options.timezone, raw_ts is not None)
    bad = collect_bad(con, staged, condition, raw_ts, path, line_map, problems)
    selects, created = observe(con, staged, _mapped_values(mapping, ref), "'parquet'", ())
    publish(con, selects)
    return ReadResult("parquet", records, bad, problems, line_map, created)


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
        return read_zeek_tsv(con, opened, options, workdir)
    if fmt == "zeek-json":
        stem = opened.original.name.split(".")[0]
        return _read_json_lines(
            con,
            opened,
            options,
            workdir,
            _zeek_json_specs(),
            "$.ts",
            "{0}",
            stem,
            extra_paths=("$._path",),
        )
    if fmt == "eve":
        return _read_json_lines(
            con,
            opened,
            options,
            workdir,
            F.EVE_FIELDS,
            F.EVE_TIME,
            "{0}",
            "eve",
            extra_paths=(F.EVE_TYPE,),
        )
    if fmt == "ocsf":
        return _read_json_lines(
            con,
            opened,
            options,
            workdir,
            F.OCSF_FIELDS,
            F.OCSF_TIME,
            "lower(replace(coalesce({0}, CASE {1} "
            + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in F.OCSF_CLASSES.items())
            + " END), ' ', '_'))",
            "ocsf",
            extra_paths=(F.OCSF_TYPE, "$.class_uid"),
        )
    if fmt == "csv":
        return _read_csv(con, opened, options, workdir)
    if fmt == "jsonl":
        return _read_jsonl(con, opened, options, workdir)
    if fmt == "parquet":
        return _read_parquet(con, opened, options)
    raise ReadError(f"unknown format {fmt!r}")
