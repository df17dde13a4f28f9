"""The Zeek TSV reader: DuckDB's parallel CSV reader, guided by the header scan.

The header block (``#fields``, ``#types``, separators, ``#path``) says how to parse; the scan
of the whole file (:func:`accord.hunt.inputs.scan_zeek`) finds header lines further down and
counts lines, for exact line numbers. The two run at once: the scan in a thread, DuckDB on the
cores. Values are cleaned while parsing, into the narrow table the match reads.
"""

from __future__ import annotations

import dataclasses
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
    read_lf,
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
    # Zeek writes epoch seconds as a float: one cast, no format guessing. TRY_CAST twice:
    # nan, inf or 1e300 (a corrupt field) is NULL, a bad timestamp, not a conversion error.
    ts_expr = (
        f"TRY_CAST(round(TRY_CAST({ts_col} AS DOUBLE) * 1000000) AS BIGINT)"
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
    sql = (
        f"CREATE TEMP TABLE {staged} AS SELECT {projection}, {ts_expr} AS ts_us "
        "FROM read_csv(?, "
        f"columns = {columns}, delim = '\t', quote = '', escape = '', header = false, "
        "comment = '#', auto_detect = false, ignore_errors = true, store_rejects = true, "
        f"rejects_table = '{rej}', rejects_scan = '{rejscan}', new_line = '\\n', "
        # The file is plain already (open_plain): no guessing from a '.gz' in its name.
        "null_padding = false, strict_mode = true, compression = 'none') r"
    )
    try:
        con.execute(sql, [str(source)])
    except Exception:
        drop(con, staged, rej, rejscan)  # whatever the failed statement left behind
        raise
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


def _skip_nameless(layout: ZeekLayout, path: str, problems: list[Problem]) -> tuple[list[int], int]:
    """Indexes of the segments that can be read, and the number of lines skipped.

    A ``#fields`` line with no tab-separated name (``#fields`` alone, or names separated by
    spaces) leaves nothing to parse its lines with, and DuckDB no column to read: those
    lines are reported and skipped. When no segment is left, the file is not readable.
    """
    readable: list[int] = []
    skipped = 0
    for index, seg in enumerate(layout.segments):
        if seg.fields:
            readable.append(index)
            continue
        following = layout.segments[index + 1 :]
        last = following[0].fields_line - 1 if following else layout.total_lines
        headers = sum(1 for n in layout.skipped_lines if seg.first_line <= n <= last)
        lines = max(last - seg.first_line + 1 - headers, 0)
        skipped += lines
        problems.append(
            Problem(
                path,
                seg.fields_line,
                "#fields names no field (Zeek separates the names with tabs); "
                f"the {lines} line(s) under it were skipped",
            )
        )
    if not readable:
        first = layout.segments[0].fields_line
        raise ReadError(
            f"{path}: line {first}: #fields names no field (Zeek separates the names with tabs)"
        )
    return readable, skipped


def _scan_while_parsing(
    con: duckdb.DuckDBPyConnection, opened: Opened, log_type: str
) -> tuple[ZeekLayout, _ZeekStage | None]:
    """The file's layout, and (usually) the whole file already parsed with its first header.

    The layout scan (a pass over the bytes in Python) runs in a thread while DuckDB parses
    the file (it releases the GIL): most files have one header block, which the first
    megabyte shows. When the full layout says otherwise, the early parse is dropped.
    """
    head = scan_zeek(opened.plain, head_only=True)
    if not head.segments or not head.segments[0].fields:
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
    """Read a Zeek TSV log (from an LF copy when it has carriage returns: see
    :func:`accord.hunt.readbase.read_lf`; a lone ``\\r``, which Zeek never writes raw,
    becomes Zeek's own escape ``\\x0d``)."""

    def parse(plain: Path) -> ReadResult:
        return _read_zeek(con, dataclasses.replace(opened, plain=plain), workdir)

    return read_lf(opened.plain, workdir, b"\\x0d", parse)


def _read_zeek(con: duckdb.DuckDBPyConnection, opened: Opened, workdir: Path) -> ReadResult:
    """Read ``opened.plain``; on any failure, drop what it staged."""
    made: list[str] = []
    try:
        return _read_zeek_staged(con, opened, workdir, made)
    except Exception:
        drop(con, *made)
        raise


def _read_zeek_staged(
    con: duckdb.DuckDBPyConnection,
    opened: Opened,
    workdir: Path,
    made: list[str],
) -> ReadResult:
    """The reader proper; every table it creates is listed in ``made`` as it goes."""
    path = str(opened.original)
    log_type = opened.original.name.split(".")[0]
    layout, early = _scan_while_parsing(con, opened, log_type)
    if early is not None:
        made.extend([early.table, *early.rejects])
    problems = [*opened.problems, *layout.problems]
    if not layout.segments:
        raise ReadError(f"{path}: no #fields header: not a Zeek TSV log")
    readable, bad = _skip_nameless(layout, path, problems)
    first = layout.segments[readable[0]]
    # One parse of the whole file when every segment has the same fields; otherwise (or
    # when some segment is skipped) a parse per segment, each from a copy of its bytes.
    same = len(readable) == len(layout.segments) and all(
        s.fields == first.fields for s in layout.segments
    )
    groups = [(0, layout.segments)] if same else [(i, [layout.segments[i]]) for i in readable]
    line_map = LineMap()
    records = 0
    log_type = first.path or log_type
    selects: list[str] = []
    staged_tables: list[str] = []
    blanks_scanned = False
    for index, group in groups:
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
        if stage is None:
            stage = _stage_zeek(con, source, seg, log_type)
            made.extend([stage.table, *stage.rejects])
        if source != opened.plain:
            source.unlink(missing_ok=True)  # parsed: the copy of the segment is not needed
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
        made.extend(created)
        selects.extend(parts)
        staged_tables.extend([staged, *created])
    publish(con, selects)
    return ReadResult(log_type, records, bad, problems, line_map, staged_tables)


def _segment_skips(layout: ZeekLayout, seg: ZeekSegment, same: bool, span: int) -> list[int]:
    """Header and empty lines inside a segment's span (physical line numbers)."""
    if same:
        return [s for s in layout.skipped_lines if s >= seg.first_line]
    return [s for s in layout.skipped_lines if seg.first_line <= s < seg.first_line + span]
