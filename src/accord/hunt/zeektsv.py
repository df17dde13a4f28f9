"""The Zeek TSV reader: DuckDB's parallel CSV reader, guided by the header scan.

The header block (``#fields``, ``#types``, separators, ``#path``) says how to parse; the scan
of the whole file (:func:`accord.hunt.inputs.scan_zeek`) finds header lines further down and
counts lines, for exact line numbers. The two run at once: the scan in a thread, DuckDB on the
cores. Values are cleaned while parsing, into the narrow table the match reads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from accord.hunt import fields as F
from accord.hunt.inputs import Opened, Problem, ZeekLayout, ZeekSegment, scan_zeek
from accord.hunt.observations import ObsValue, clean_columns, finish_observations, lit, publish
from accord.hunt.readbase import (
    MIN_TS_US,
    LineMap,
    ReadError,
    ReadOptions,
    ReadResult,
    collect_bad,
    counter,
    drop,
    max_ts_us,
    reject_tables,
    report_rejects,
)


def _zeek_values(
    spec: list[F.Field], col: dict[str, str], seg: ZeekSegment, resp: str | None
) -> list[ObsValue]:
    sep = lit(seg.set_separator)
    values: list[ObsValue] = []
    unset = lit(seg.unset)
    types = dict(zip(seg.fields, seg.types, strict=False))
    for f in spec:
        c = f"r.{col[f.name]}"
        trusted = types.get(f.name) in ("addr", "set[addr]", "vector[addr]")
        if f.host is not None:
            host = f"r.{col[f.host]}"
            fallback = f"r.{resp}" if resp else "NULL"
            host_expr = (
                f"CASE WHEN {host} IS NULL OR {host} = {unset} THEN {fallback} ELSE {host} END"
            )
            expr = f"CASE WHEN starts_with({c}, '/') THEN {host_expr} || {c} ELSE {c} END"
            values.append(ObsValue(f.name, "url", expr))
        elif f.cn:
            values.append(ObsValue(f.name + ".CN", f.kind, f"regexp_extract({c}, 'CN=([^,]+)', 1)"))
        elif f.vector:
            values.append(
                ObsValue(f.name, f.kind, f"string_split({c}, {sep})", True, c, sep, trusted=trusted)
            )
        else:
            values.append(ObsValue(f.name, f.kind, c, trusted=trusted))
    return values


@dataclass
class _ZeekStage:
    """One segment group parsed into a staged table (see :func:`_stage_zeek`)."""

    seg: ZeekSegment
    table: str
    rejects: tuple[str, str]
    values: list[ObsValue]
    ts_col: str | None


def _stage_zeek(
    con: duckdb.DuckDBPyConnection, source: Path, seg: ZeekSegment, log_type: str
) -> _ZeekStage:
    """Parse ``source`` with ``seg``'s header into a staged table of cleaned values."""
    spec = F.zeek_fields(seg.path or log_type, seg.fields, seg.types)
    col = {name: f"c{i}" for i, name in enumerate(seg.fields)}
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(seg.fields))) + "}"
    rej, rejscan = reject_tables()
    staged = f"accord_stage_{next(counter)}"
    ts_col = col.get("ts")
    values = _zeek_values(spec, col, seg, col.get("id.resp_h"))
    # Zeek writes epoch seconds as a float: one cast, no format guessing.
    ts_expr = (
        f"CAST(round(TRY_CAST({ts_col} AS DOUBLE) * 1000000) AS BIGINT)"
        if ts_col
        else "CAST(NULL AS BIGINT)"
    )
    bad_ts = f"({ts_expr} IS NULL OR {ts_expr} < {MIN_TS_US} OR {ts_expr} > {max_ts_us()})"
    # The values are cleaned while parsing (no second pass over the records); the raw
    # timestamp is kept only where it is bad, for the report.
    projection = ", ".join(
        [
            *([f"CASE WHEN {bad_ts} THEN {ts_col} END AS {ts_col}"] if ts_col else []),
            clean_columns(values, (seg.unset, seg.empty)),
        ]
    )
    con.execute(
        f"CREATE TEMP TABLE {staged} AS SELECT {projection}, {ts_expr} AS ts_us "
        "FROM read_csv(?, "
        f"columns = {columns}, delim = '\t', quote = '', escape = '', header = false, "
        "comment = '#', auto_detect = false, ignore_errors = true, store_rejects = true, "
        f"rejects_table = '{rej}', rejects_scan = '{rejscan}', new_line = '\\n', "
        "null_padding = false, strict_mode = true) r",
        [str(source)],
    )
    return _ZeekStage(seg, staged, (rej, rejscan), values, ts_col)


def _same_header(a: ZeekSegment, b: ZeekSegment) -> bool:
    return (a.fields, a.types, a.path, a.set_separator, a.unset, a.empty, a.first_line) == (
        b.fields,
        b.types,
        b.path,
        b.set_separator,
        b.unset,
        b.empty,
        b.first_line,
    )


def _scan_while_parsing(
    con: duckdb.DuckDBPyConnection, opened: Opened, log_type: str
) -> tuple[ZeekLayout, _ZeekStage | None]:
    """The file's layout, and (usually) the whole file already parsed with its first header.

    The layout scan (a pass over the bytes in Python) runs in a thread while DuckDB parses
    the file (it releases the GIL): most files have one header block, which the first
    megabyte shows. When the full layout says otherwise, the early parse is dropped.
    """
    head = scan_zeek(opened.plain, head_only=True)
    if not head.segments:
        return scan_zeek(opened.plain), None
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(scan_zeek, opened.plain)
        try:
            early = _stage_zeek(con, opened.plain, head.segments[0], log_type)
        except BaseException:
            scanning.result()
            raise
        try:
            layout = scanning.result()
        except BaseException:
            drop(con, early.table, *early.rejects)
            raise
    first = layout.segments[0] if layout.segments else None
    if (
        first is None
        or not _same_header(first, early.seg)
        or any(s.fields != first.fields for s in layout.segments)
    ):
        drop(con, early.table, *early.rejects)
        return layout, None
    early.seg = first
    return layout, early


def read_zeek_tsv(
    con: duckdb.DuckDBPyConnection, opened: Opened, options: ReadOptions, workdir: Path
) -> ReadResult:
    path = str(opened.original)
    log_type = opened.original.name.split(".")[0]
    layout, early = _scan_while_parsing(con, opened, log_type)
    problems = [*opened.problems, *layout.problems]
    if not layout.segments:
        raise ReadError(f"{path}: no #fields header: not a Zeek TSV log")
    same = all(s.fields == layout.segments[0].fields for s in layout.segments)
    groups = [layout.segments] if same else [[s] for s in layout.segments]
    line_map = LineMap()
    records = bad = 0
    log_type = layout.segments[0].path or log_type
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
            source = workdir / f"segment-{next(counter)}.log"
            with opened.plain.open("rb") as handle, source.open("wb") as out:
                handle.seek(seg.start)
                data = handle.read(seg.end - seg.start)
                out.write(data)
            line_offset = seg.first_line - 1
            span_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        stage = early if (early is not None and index == 0) else None
        stage = stage or _stage_zeek(con, source, seg, log_type)
        staged, values, ts_col = stage.table, stage.values, stage.ts_col
        ord_expr = f"rowid + {ord_base}"  # rows are stored in file order; deletes keep rowids
        rejected = report_rejects(con, stage.rejects[0], path, line_offset, problems)
        drop(con, *stage.rejects)
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
            f"(ts_us IS NULL OR ts_us < {MIN_TS_US} OR ts_us > {max_ts_us()})"
            if ts_col
            else "false"
        )
        bad += collect_bad(
            con, staged, condition, ts_col, path, line_map, problems, ord_expr=ord_expr
        )
        records += rows
        parts, created = finish_observations(
            con, staged, values, lit(seg.path or log_type), (seg.unset, seg.empty), ord_expr
        )
        selects.extend(parts)
        staged_tables.extend([staged, *created])
    publish(con, selects)
    return ReadResult(log_type, records, bad, problems, line_map, staged_tables)


def _segment_skips(layout: ZeekLayout, seg: ZeekSegment, same: bool, span: int) -> list[int]:
    """Header and empty lines inside a segment's span (physical line numbers)."""
    if same:
        return [s for s in layout.skipped_lines if s >= seg.first_line]
    return [s for s in layout.skipped_lines if seg.first_line <= s < seg.first_line + span]
