"""Carriage returns, damaged streams and engine errors: exact lines, counted and skipped.

Complements the audit's cases (``test_fuzz_audit.py``) with the paths they do not reach: a
stray ``\\r`` far down an LF file (read again from an LF copy), CRLF in every line-oriented
format with the line numbers checked, a nameless ``#fields`` midway, padding after a gzip
member, and an engine error in one file among others.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from accord.hunt import query_hits, runner
from accord.hunt.inputs import StrictStop, normalise_newlines

from .helpers import TS, indicator, write, zeek

FIELDS = "ts uid id.orig_h id.resp_h"
TYPES = "time string addr addr"
HIT = f"{TS} C1 10.0.0.1 203.0.113.47"
MISS = f"{TS} C2 10.0.0.1 10.0.0.2"


@pytest.fixture(autouse=True)
def ioc(hstore):
    hstore.put_objects([indicator("[ipv4-addr:value = '203.0.113.47']")])


def _problems(summary) -> list[tuple[int | None, str]]:
    return [(p.line, p.reason) for p in summary.problems]


def _eve(ip: str, ts: str = "2025-12-02T10:00:00Z") -> str:
    return json.dumps({"timestamp": ts, "event_type": "flow", "src_ip": ip})


def test_crlf_zeek_keeps_exact_line_numbers(tmp_path, hunt, hstore):
    rows = [HIT, "nan C2 1.1.1.1 1.1.1.1", HIT + " extra", "", HIT]
    text = zeek("conn", FIELDS, TYPES, rows).replace("\n", "\r\n")
    summary = hunt(write(tmp_path / "conn.log", text))
    # header lines 1-8; 9 hit, 10 bad time, 11 too many fields, 12 empty, 13 hit
    assert sorted(line for line, _ in _problems(summary)) == [10, 11]
    assert [h.line for h in query_hits(hstore)] == [9, 13]
    assert summary.bad_lines == 2


def test_stray_carriage_return_beyond_the_first_block(tmp_path, hunt, hstore):
    """The first block shows no CR: DuckDB refuses the file, which is then read again from an
    LF copy; the raw CR becomes Zeek's escape and the line is still hunted."""
    rows = [MISS] * 40_000 + [HIT.replace("C1", "C\r1"), HIT]
    summary = hunt(write(tmp_path / "conn.log", zeek("conn", FIELDS, TYPES, rows)))
    assert summary.files[0].status == "hunted" and not summary.problems
    assert [h.line for h in query_hits(hstore)] == [40_009, 40_010]


@pytest.mark.parametrize("fmt", ["eve", "jsonl"])
def test_crlf_json_lines_keep_exact_line_numbers(tmp_path, hunt, hstore, fmt):
    """Without strict mode DuckDB took each CR for a line end of its own: every line number
    after the first line was doubled."""
    lines = [_eve("203.0.113.47"), "nope", "", _eve("203.0.113.47"), _eve("1.1.1.1", "x")]
    path = write(tmp_path / "log.json", "\r\n".join(lines) + "\r\n")
    options: dict[str, Any] = {"fmt": fmt}
    if fmt == "jsonl":
        options["field_map"] = {"ip": ["src_ip"], "time": ["timestamp"]}
    summary = hunt(path, **options)
    assert [line for line, _ in _problems(summary)] == [2, 5]
    assert [h.line for h in query_hits(hstore)] == [1, 4]


def test_crlf_csv_counts_its_empty_lines(tmp_path, hunt, hstore):
    text = f"ts,ip\r\n{TS},203.0.113.47\r\nbad,1.1.1.1\r\n\r\n{TS},203.0.113.47\r\n"
    summary = hunt(write(tmp_path / "fw.csv", text), field_map={"ip": ["ip"], "time": ["ts"]})
    assert [line for line, _ in _problems(summary)] == [3]
    assert [h.line for h in query_hits(hstore)] == [2, 5]


def test_stray_carriage_return_in_a_csv_line(tmp_path, hunt, hstore):
    text = f"ts,ip\n{TS},1.1.1.1\rjunk\n{TS},203.0.113.47\n"
    summary = hunt(write(tmp_path / "fw.csv", text), field_map={"ip": ["ip"], "time": ["ts"]})
    assert summary.files[0].status == "hunted"
    assert [h.line for h in query_hits(hstore)] == [3]


def test_normalise_newlines_keeps_the_line_count(tmp_path):
    data = b"a\r\nb\rc\r\n" + b"x" * ((8 << 20) - 9) + b"\r\nlast\r"
    src = write(tmp_path / "in.log", data)
    assert normalise_newlines(src, tmp_path / "out.log", b"\\x0d")
    out = (tmp_path / "out.log").read_bytes()
    assert b"\r" not in out and out.count(b"\n") == data.count(b"\n")
    assert out.startswith(b"a\nb\\x0dc\n") and out.endswith(b"\nlast\\x0d")
    assert not normalise_newlines(write(tmp_path / "lf.log", b"a\nb\n"), tmp_path / "o2", b" ")


def test_nameless_fields_midway_skips_its_lines_only(tmp_path, hunt, hstore):
    text = zeek("conn", FIELDS, TYPES, [HIT]) + "#fields ts uid\n" + "\t".join(HIT.split()) + "\n"
    text += "#fields\t" + "\t".join(FIELDS.split()) + "\n" + "\t".join(HIT.split()) + "\n"
    summary = hunt(write(tmp_path / "conn.log", text))
    assert summary.files[0].status == "hunted"
    assert [(line, "#fields names no field" in r) for line, r in _problems(summary)] == [(11, True)]
    assert summary.bad_lines == 1
    assert [h.line for h in query_hits(hstore)] == [9, 14]


def test_zero_padding_after_a_gzip_member_is_not_damage(tmp_path, hunt, hstore):
    data = gzip.compress(zeek("conn", FIELDS, TYPES, [HIT]).encode()) + b"\0" * 4096
    summary = hunt(write(tmp_path / "conn.log.gz", data))
    assert not summary.problems and [h.line for h in query_hits(hstore)] == [9]


def test_garbage_after_a_gzip_member_is_reported_where_it_starts(tmp_path, hunt, hstore):
    data = gzip.compress(zeek("conn", FIELDS, TYPES, [HIT, HIT]).encode()) + b"garbage"
    summary = hunt(write(tmp_path / "conn.log.gz", data))
    [(line, reason)] = _problems(summary)
    assert line == 12 and "corrupt" in reason  # 11 lines, all kept
    assert [h.line for h in query_hits(hstore)] == [9, 10]


def test_local_time_at_the_end_of_the_timestamp_range_is_a_bad_line(tmp_path, hunt, hstore):
    """timezone() overflowed on the earliest TIMESTAMP (a ConversionException)."""
    text = "ts,ip\n290309-12-22 (BC) 00:00:00,203.0.113.47\n2025-12-02 10:00:00,203.0.113.47\n"
    summary = hunt(
        write(tmp_path / "fw.csv", text),
        field_map={"ip": ["ip"], "time": ["ts"]},
        timezone="Asia/Tokyo",
    )
    assert [line for line, _ in _problems(summary)] == [2]
    assert [h.line for h in query_hits(hstore)] == [3]


def _failing_reader(monkeypatch, bad: Path, seen: list[list[str]]) -> None:
    """``read_file`` that stages a table for ``bad`` and then fails as DuckDB would."""
    real = runner.read_file

    def read_file(con, opened, fmt, options, workdir):
        seen.append(
            [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE temporary "
                    "AND starts_with(table_name, 'accord_')"
                ).fetchall()
            ]
        )
        if opened.original == bad:
            con.execute("CREATE TEMP TABLE accord_stage_failed AS SELECT 1 AS x")
            raise duckdb.ConversionException("Conversion Error: something odd\nmore detail")
        return real(con, opened, fmt, options, workdir)

    monkeypatch.setattr(runner, "read_file", read_file)


def test_engine_error_fails_one_file_and_the_others_are_hunted(tmp_path, hunt, hstore, monkeypatch):
    bad = write(tmp_path / "a" / "conn.log", zeek("conn", FIELDS, TYPES, [HIT]))
    good = write(tmp_path / "b" / "conn.log", zeek("conn", FIELDS, TYPES, [HIT]))
    seen: list[list[str]] = []
    _failing_reader(monkeypatch, bad, seen)
    summary = hunt(bad, good)
    assert [f.status for f in summary.files] == ["failed", "hunted"]
    [problem] = summary.problems
    assert problem.path == str(bad) and "something odd" in problem.reason
    assert "more detail" not in problem.reason
    assert "accord_stage_failed" not in seen[1]  # what the failed read staged is gone
    assert {h.file for h in query_hits(hstore)} == {str(good.resolve())}


def test_engine_error_stops_a_strict_hunt(tmp_path, hunt, hstore, monkeypatch):
    bad = write(tmp_path / "a" / "conn.log", zeek("conn", FIELDS, TYPES, [HIT]))
    good = write(tmp_path / "b" / "conn.log", zeek("conn", FIELDS, TYPES, [HIT]))
    _failing_reader(monkeypatch, bad, [])
    with pytest.raises(StrictStop, match="something odd"):
        hunt(bad, good, strict=True)
    assert not query_hits(hstore)
