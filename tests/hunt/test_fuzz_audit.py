"""Adversarial inputs for the importers and the hunt readers (audit findings).

Every test here states the project's bar for bad input: a clear ``InputError`` (or, for a
hunt, a reported problem or a failed file) naming the place and the reason, never another
exception, and a refused import leaves the store exactly as it was.
"""

from __future__ import annotations

import gzip
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from accord.hunt import HuntSummary, query_hits, run_hunt
from accord.model.tlp import TLP
from accord.store import Store
from tests.hunt.helpers import NODE, TS, write, zeek
from tests.hunt.helpers import indicator as hunt_indicator

# Few examples and no shrinking: each example opens a store or runs a hunt, and a failing
# example here is already minimal enough to read.
FAST = settings(
    max_examples=8,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _quiet_pymisp() -> Iterator[None]:
    """pymisp logs every attribute it rejects; the assertions say what matters."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


# --- hunt readers -------------------------------------------------------------------------

FIELDS = "ts uid id.orig_h id.resp_h"
TYPES = "time string addr addr"
ROW = f"{TS} C1 10.0.0.1 203.0.113.47"


@pytest.fixture
def hstore(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'hunt.db'}", TLP.AMBER) as st_:
        st_.put_objects([hunt_indicator("[ipv4-addr:value = '203.0.113.47']")])
        yield st_


def _hunt(store: Store, path: Path, **options: Any) -> HuntSummary:
    """A hunt may refuse (AccordError) or report; any other exception is a defect."""
    return run_hunt(store, [str(path)], identity_id=NODE, **options)


def _reported_or_hit(store: Store, summary: HuntSummary) -> bool:
    return bool(summary.problems) or bool(query_hits(store))


def test_zeek_log_with_crlf_line_ends(hstore: Store, tmp_path: Path) -> None:
    """DuckDB's strict CSV reader raised InvalidInputException on '\\r\\n' (uncaught)."""
    text = zeek("conn", FIELDS, TYPES, [ROW]).replace("\n", "\r\n")
    summary = _hunt(hstore, write(tmp_path / "conn.log", text))
    assert _reported_or_hit(hstore, summary)


@pytest.mark.parametrize("fields_line", ["#fields", "#fields ts uid"])
def test_zeek_fields_header_without_tab_separated_names(
    hstore: Store, tmp_path: Path, fields_line: str
) -> None:
    """No column names: read_csv(columns = {}) raised a DuckDB BinderException."""
    text = f"#separator \\x09\n{fields_line}\n{TS}\tC1\t10.0.0.1\t203.0.113.47\n"
    summary = _hunt(hstore, write(tmp_path / "conn.log", text))
    assert summary.files[0].status == "failed" and summary.problems


@settings(FAST, max_examples=4)
@given(
    ts=st.sampled_from(["nan", "inf", "-inf", "NaN", "Infinity"])
    | st.floats(min_value=1e13, max_value=1e300).map(repr)
)
def test_zeek_timestamp_out_of_int64_is_a_bad_line(ts: str) -> None:
    """CAST(round(TRY_CAST(ts AS DOUBLE) * 1e6) AS BIGINT) overflows: ConversionException."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(f"sqlite:///{tmp}/h.db", TLP.AMBER) as store,
    ):
        store.put_objects([hunt_indicator("[ipv4-addr:value = '203.0.113.47']")])
        rows = [ROW, f"{ts} C2 10.0.0.1 203.0.113.47"]
        summary = _hunt(store, write(Path(tmp) / "conn.log", zeek("conn", FIELDS, TYPES, rows)))
        assert summary.bad_lines == 1
        assert [h.line for h in query_hits(store)] == [9]


@pytest.mark.parametrize("name", ["conn.log.gz", "conn.log.zst", "eve.json.gz"])
def test_plain_file_with_a_compression_suffix(hstore: Store, tmp_path: Path, name: str) -> None:
    """open_plain sniffs magic bytes and passes the plain file on, but DuckDB's readers
    guess compression from the '.gz'/'.zst' suffix: IOException 'not a GZIP stream'."""
    if name.startswith("eve"):
        text = json.dumps({"timestamp": "2025-12-02T10:00:00Z", "event_type": "flow"})
        text = text[:-1] + ', "src_ip": "203.0.113.47"}\n'
    else:
        text = zeek("conn", FIELDS, TYPES, [ROW])
    _hunt(hstore, write(tmp_path / name, text))
    assert len(query_hits(hstore)) == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data + b"\x00" * 512,  # padding after the member (tape, preallocation)
        lambda data: data + b"garbage",
    ],
    ids=["zero-padding", "trailing-garbage"],
)
def test_damage_after_a_whole_gzip_member_keeps_the_lines_before_it(
    hstore: Store, tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    """A zlib error discards everything decompressed from the current 1 MiB input block
    (``produced`` is never written): all 50 lines were lost, and the file was reported as
    'empty CSV (no header line)' instead of as a damaged stream."""
    rows = [f"{TS} C{i} 10.0.0.1 203.0.113.47" for i in range(50)]
    data = gzip.compress(zeek("conn", FIELDS, TYPES, rows).encode())
    _hunt(hstore, write(tmp_path / "conn.log.gz", damage(data)))
    assert len(query_hits(hstore)) == 50


def _bad_crc(data: bytes) -> bytes:
    return data[:-8] + b"\x00\x00\x00\x00" + data[-4:]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("conn.log.gz", gzip.compress(b"#fields\tts\n")[:10]),
        ("conn.log.zst", b"\x28\xb5\x2f\xfd" + b"\xff" * 64),
        ("conn.log.gz", _bad_crc(gzip.compress(zeek("conn", FIELDS, TYPES, [ROW]).encode()))),
    ],
    ids=["gzip-cut-in-header", "zstd-garbage", "gzip-bad-crc"],
)
def test_damaged_stream_is_named_when_nothing_is_readable(
    hstore: Store, tmp_path: Path, name: str, data: bytes
) -> None:
    """The decompression problem is dropped when the reader then fails: the only problem
    reported was 'empty CSV (no header line)', which names the wrong cause."""
    summary = _hunt(hstore, write(tmp_path / name, data))
    reasons = " ".join(p.reason for p in summary.problems)
    assert "truncated" in reasons or "corrupt" in reasons, reasons


def test_jsonl_mapping_with_a_quote_in_the_key(hstore: Store, tmp_path: Path) -> None:
    """json_path() quotes each part without escaping: DuckDB BinderException."""
    path = write(tmp_path / "x.jsonl", json.dumps({'a"b': "203.0.113.47"}) + "\n")
    summary = _hunt(hstore, path, fmt="jsonl", field_map={"ip": ['a"b']})
    assert [f.status for f in summary.files] == ["hunted"]
    assert [(h.field, h.observed) for h in query_hits(hstore)] == [('a"b', "203.0.113.47")]


def test_csv_log_with_a_byte_order_mark(hstore: Store, tmp_path: Path) -> None:
    """_sniff_csv decodes as 'utf-8', so the first header is '\\ufeffts': the mapping
    failed with 'mapped field(s) not found: ts' although the column is there."""
    path = write(tmp_path / "fw.csv", f"\ufeffts,ip\n{TS},203.0.113.47\n")
    _hunt(hstore, path, field_map={"ip": ["ip"], "time": ["ts"]})
    assert len(query_hits(hstore)) == 1


def test_eve_log_with_a_byte_order_mark_is_detected(hstore: Store, tmp_path: Path) -> None:
    """detect_format does not skip a BOM: EVE JSON was taken for CSV ('no field to hunt')."""
    line = {"timestamp": "2025-12-02T10:00:00Z", "event_type": "flow", "src_ip": "203.0.113.47"}
    summary = _hunt(hstore, write(tmp_path / "eve.json", "\ufeff" + json.dumps(line) + "\n"))
    assert summary.files[0].format == "eve"
    assert len(query_hits(hstore)) == 1


def test_one_unreadable_log_does_not_abort_the_others(hstore: Store, tmp_path: Path) -> None:
    """A DuckDB error in one file propagated out of run_hunt: files after it were never
    hunted (only ReadError and OSError are caught per file)."""
    bad = write(
        tmp_path / "a" / "conn.log", zeek("conn", FIELDS, TYPES, [ROW]).replace("\n", "\r\n")
    )
    good = write(tmp_path / "b" / "conn.log", zeek("conn", FIELDS, TYPES, [ROW]))
    run_hunt(hstore, [str(bad), str(good)], identity_id=NODE)
    assert str(good.resolve()) in {h.file for h in query_hits(hstore)}
