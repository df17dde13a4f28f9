"""Bad input is reported with file and line, counted and skipped, or stops under --strict."""

from __future__ import annotations

import gzip

import pytest

from accord.hunt import query_hits
from accord.hunt.inputs import StrictStop

from .helpers import TS, TS2, indicator, write, zeek

FIELDS = "ts uid id.orig_h id.resp_h"
TYPES = "time string addr addr"


@pytest.fixture(autouse=True)
def ioc(hstore):
    hstore.put_objects([indicator("[ipv4-addr:value = '203.0.113.47']")])


def _reasons(summary) -> list[tuple[int | None, str]]:
    return [(p.line, p.reason) for p in summary.problems]


def test_truncated_gzip_keeps_the_readable_part(tmp_path, hunt, hstore):
    rows = [f"{TS} C{i} 10.0.0.{i % 250} 203.0.113.47" for i in range(3000)]
    data = gzip.compress(zeek("conn", FIELDS, TYPES, rows).encode())
    path = write(tmp_path / "conn.log.gz", data[: len(data) // 2])
    summary = hunt(path)
    problems = _reasons(summary)
    assert len(problems) == 1 and "truncated" in problems[0][1]
    cut = problems[0][0]
    hits = query_hits(hstore)
    assert hits and max(h.line for h in hits) < cut
    assert summary.files[0].status == "hunted"


def test_corrupt_gzip_header_is_a_failed_file_not_a_crash(tmp_path, hunt):
    path = write(tmp_path / "bad.gz", b"\x1f\x8b\x08\x00garbage-not-deflate" * 10)
    summary = hunt(path)
    assert summary.files[0].status in ("failed", "hunted")
    assert summary.problems and "corrupt" in str(summary.problems[0])


def test_non_json_line_and_non_utf8_bytes(tmp_path, hunt, hstore):
    path = write(
        tmp_path / "eve.json",
        b'{"timestamp": "2025-12-02T10:00:00Z", "event_type": "flow", "src_ip": "203.0.113.47"}\n'
        b"this is not json\n"
        b'{"timestamp": "2025-12-02T10:00:00Z", "event_type": "flow", "src_ip": "\xff\xfe"}\n'
        b'{"timestamp": "2025-12-02T10:00:01Z", "event_type": "flow", "dest_ip": "203.0.113.47"}\n',
    )
    summary = hunt(path, fmt="eve")
    reasons = dict(_reasons(summary))
    assert set(reasons) == {2, 3}
    assert "not a JSON object" in reasons[2] and "UTF-8" in reasons[3]
    assert summary.bad_lines == 2
    assert sorted(h.line for h in query_hits(hstore)) == [1, 4]


def test_zeek_fields_changing_midway(tmp_path, hunt, hstore):
    first = zeek("conn", FIELDS, TYPES, [f"{TS} C1 10.0.0.1 203.0.113.47"])
    second = zeek(
        "conn",
        "ts uid extra id.orig_h id.resp_h",
        "time string string addr addr",
        [f"{TS2} C2 x 203.0.113.47 10.0.0.1"],
    )
    summary = hunt(write(tmp_path / "conn.log", first + second))
    assert [(p.line, "#fields changes midway" in p.reason) for p in summary.problems] == [
        (17, True)
    ]
    assert sorted((h.line, h.field) for h in query_hits(hstore)) == [
        (9, "id.resp_h"),
        (19, "id.orig_h"),
    ]


def test_csv_wrong_column_count(tmp_path, hunt, hstore):
    path = write(
        tmp_path / "fw.csv",
        f"ts,ip\n{TS},203.0.113.47\n{TS},1.2.3.4,extra\n{TS}\n{TS},203.0.113.47\n",
    )
    summary = hunt(path, field_map={"ip": ["ip"], "time": ["ts"]})
    assert [line for line, _ in _reasons(summary)] == [3, 4]
    assert sorted(h.line for h in query_hits(hstore)) == [2, 5]


def test_implausible_timestamps_1970_and_2100(tmp_path, hunt, hstore):
    rows = [
        f"{TS} C1 10.0.0.1 203.0.113.47",
        "0.000000 C2 10.0.0.1 203.0.113.47",
        "4102444800.000000 C3 10.0.0.1 203.0.113.47",
        "not-a-time C4 10.0.0.1 203.0.113.47",
    ]
    summary = hunt(write(tmp_path / "conn.log", zeek("conn", FIELDS, TYPES, rows)))
    assert [line for line, _ in _reasons(summary)] == [10, 11, 12]
    assert all("timestamp" in r for _, r in _reasons(summary))
    assert [h.line for h in query_hits(hstore)] == [9]


def test_strict_stops_and_commits_nothing_of_the_bad_file(tmp_path, hunt, hstore):
    good = write(
        tmp_path / "a" / "conn.log", zeek("conn", FIELDS, TYPES, [f"{TS} C1 1.1.1.1 203.0.113.47"])
    )
    bad = write(
        tmp_path / "b" / "conn.log",
        zeek("conn", FIELDS, TYPES, [f"{TS} C1 10.0.0.1 203.0.113.47", "0.0 C2 1.1.1.1 1.1.1.1"]),
    )
    with pytest.raises(StrictStop, match=r"conn.log:10: timestamp"):
        hunt(good, bad, strict=True)
    assert [h.file for h in query_hits(hstore)] == [str(good.resolve())]


def test_unknown_content_is_reported(tmp_path, hunt):
    path = write(tmp_path / "notes.txt", "hello\nworld\n")
    summary = hunt(path)
    assert summary.files[0].status == "failed"
    assert "no field to hunt" in summary.problems[0].reason
