"""Hits and sightings as evidence: versioned sightings, resume, --new, timeline, examples."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from accord import examples
from accord.hunt import build_timeline, query_hits, run_hunt, write_example_logs
from accord.hunt import tables as t
from accord.hunt.sightings import sighting_id
from accord.model.tlp import TLP, TLP2_IDS
from accord.store.home import NodeHome

from .helpers import NODE, TS, TS2, indicator, write, zeek

FIELDS = "ts uid id.orig_h id.resp_h"
TYPES = "time string addr addr"


def _conn(path: Path, rows: list[str]) -> Path:
    return write(path, zeek("conn", FIELDS, TYPES, rows))


def _hit_rows(store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.hunt_hits)).scalar_one())


def test_sighting_per_indicator_and_source_versioned_only_on_change(tmp_path, hstore, hunt):
    green = indicator("[ipv4-addr:value = '203.0.113.47']", tlp=TLP.GREEN)
    red = indicator("[ipv4-addr:value = '198.51.100.9']", tlp=TLP.RED)
    hstore.put_objects([green, red])
    log = _conn(
        tmp_path / "logs" / "conn.log",
        [f"{TS} C1 10.0.0.1 203.0.113.47", f"{TS2} C2 198.51.100.9 203.0.113.47"],
    )
    first = hunt(log)
    assert first.sightings_written == 2
    sid = sighting_id(NODE, green["id"], "adhoc")
    sighting = hstore.get(sid)
    assert sighting is not None
    assert sighting["sighting_of_ref"] == green["id"]
    assert sighting["count"] == 2
    assert sighting["first_seen"] == "2025-12-02T10:00:00.000000Z"
    assert sighting["last_seen"] == "2025-12-06T05:46:40.500000Z"
    assert sighting["where_sighted_refs"] == [NODE] and sighting["created_by_ref"] == NODE
    # most restrictive of the indicator's TLP and the node default (AMBER)
    assert sighting["object_marking_refs"] == [TLP2_IDS[TLP.AMBER]]
    red_sighting = hstore.get(sighting_id(NODE, red["id"], "adhoc"))
    assert red_sighting["object_marking_refs"] == [TLP2_IDS[TLP.RED]]

    again = hunt(log, use_warninglists=False)  # other settings: re-hunted, same evidence
    assert again.files[0].status == "hunted"
    assert again.sightings_written == 0 and again.sightings_unchanged == 2
    assert len(hstore.versions(sid)) == 1 and _hit_rows(hstore) == 3

    _conn(log, [f"{TS} C1 10.0.0.1 203.0.113.47"])  # the log changed: fewer hits
    changed = hunt(log, use_warninglists=False)
    assert changed.sightings_written == 1  # the RED one has no hit left: left as it was
    versions = hstore.versions(sid)
    assert len(versions) == 2 and versions[-1].obj["count"] == 1
    assert versions[-1].obj["created"] == versions[0].obj["created"]
    assert versions[-1].modified_us > versions[0].modified_us


def test_rerun_skips_hunted_files_and_resumes_without_duplicates(tmp_path, hstore, hunt):
    hstore.put_objects([indicator("[ipv4-addr:value = '203.0.113.47']")])
    logs = tmp_path / "logs"
    for i in range(3):
        _conn(logs / f"conn{i}.log", [f"{TS} C{i} 10.0.0.{i} 203.0.113.47"])
    # an interrupted hunt: only the first file was committed
    hunt(logs / "conn0.log")
    resumed = hunt(logs)
    assert [f.status for f in resumed.files] == ["unchanged", "hunted", "hunted"]
    assert _hit_rows(hstore) == 3
    assert [f.status for f in hunt(logs).files] == ["unchanged"] * 3
    assert _hit_rows(hstore) == 3


def test_new_matches_only_new_indicators_against_history(tmp_path, hstore, hunt):
    old = indicator("[ipv4-addr:value = '203.0.113.47']")
    hstore.put_objects([old])
    log = _conn(
        tmp_path / "conn.log",
        [f"{TS} C1 10.0.0.1 203.0.113.47", f"{TS2} C2 10.0.0.1 198.51.100.66"],
    )
    hunt(log)
    late = indicator("[ipv4-addr:value = '198.51.100.66']")
    hstore.put_objects([late])
    summary = hunt(log, new=True)
    assert summary.mode == "new" and summary.indicators_hunted == 2
    assert set(summary.hits_per_indicator) == {late["id"]}
    assert _hit_rows(hstore) == 2
    [note] = summary.retro
    assert note["indicator"] == late["id"] and note["first_seen"].startswith("2025-12-06")
    assert note["days_before_received"] > 300
    assert "first seen in your logs on 2025-12-06" in note["text"]
    assert [f.status for f in hunt(log, new=True).files] == ["unchanged"]


def test_registered_source_hunt_and_hits_filters(tmp_path, hstore):
    from accord.hunt import add_source, list_sources

    ioc = indicator("[ipv4-addr:value = '203.0.113.47']")
    hstore.put_objects([ioc])
    logs = tmp_path / "zeek"
    _conn(logs / "a" / "conn.log", [f"{TS} C1 10.0.0.1 203.0.113.47"])
    _conn(logs / "b" / "conn.log", [f"{TS2} C2 10.0.0.1 203.0.113.47"])
    add_source(hstore, "dmz", str(logs / "*" / "conn.log"), "zeek")
    summary = run_hunt(hstore, [], identity_id=NODE)
    assert len(summary.files) == 2
    assert list_sources(hstore)[0].last_hunt_us is not None
    assert [h.source for h in query_hits(hstore)] == ["dmz", "dmz"]
    assert len(query_hits(hstore, since_us=1764700000 * 1_000_000)) == 1
    assert len(query_hits(hstore, indicator_id="indicator--nope")) == 0


def test_example_case_timeline_shows_december_first_trace_and_dwell(tmp_path):
    logs = write_example_logs(tmp_path / "logs")
    assert [p.name for p in logs] == ["dns.log", "conn.log", "ssl.log"]
    assert sum(p.stat().st_size for p in logs) < 400_000
    again = write_example_logs(tmp_path / "again")
    assert [p.read_bytes() for p in logs] == [p.read_bytes() for p in again]
    home = NodeHome.init(tmp_path / "csro", "CSRO", identity_id=examples.CSRO_IDENTITY_ID)
    with home.open_store() as store:
        for bundle in (examples.CSRO_BUNDLE, examples.PARTNER_BUNDLE):
            store.put_objects(json.loads(bundle.read_text())["objects"], "file", bundle.name)
    summary = run_hunt(home, [tmp_path / "logs"])
    assert summary.hits > 0
    with home.open_store() as store:
        timeline = build_timeline(store, examples.INCIDENT_ID, identity_id=home.identity_id)
    data = timeline.as_dict()
    assert data["first_trace"].startswith("2025-12-02")
    assert data["detected"].startswith("2026-04-14")
    assert data["records_affected"] == 4_000_000
    assert 120 <= data["dwell_time_days"] <= 140
    assert data["first_trace_indicator"]["values"] == [examples.C2_DOMAIN]
    text = "\n".join(timeline.render_text())
    assert "Dwell time:" in text and "2025-12-02" in text
