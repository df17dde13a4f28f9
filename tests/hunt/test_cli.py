"""The command line: source add/list, hunt --json, hits, timeline, --help everywhere."""

from __future__ import annotations

import json

import orjson
import pytest
from typer.testing import CliRunner

from accord import examples
from accord.cli.main import app
from accord.hunt import write_example_logs
from accord.store.home import NodeHome

runner = CliRunner()


@pytest.fixture
def csro(tmp_path):
    home = NodeHome.init(tmp_path / "csro", "CSRO", identity_id=examples.CSRO_IDENTITY_ID)
    with home.open_store() as store:
        for bundle in (examples.CSRO_BUNDLE, examples.PARTNER_BUNDLE):
            store.put_objects(json.loads(bundle.read_text())["objects"], "file", bundle.name)
    write_example_logs(tmp_path / "logs")
    return home


def _run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_help_of_every_command():
    for command in (["hunt"], ["hits"], ["timeline"], ["source", "add"], ["source", "list"]):
        assert "--json" in _run(*command, "--help").output


def test_source_hunt_hits_timeline(csro, tmp_path):
    home = str(csro.path)
    added = orjson.loads(
        _run(
            "source",
            "add",
            "csro-zeek",
            str(tmp_path / "logs"),
            "--format",
            "zeek",
            "--home",
            home,
            "--json",
        ).output
    )
    assert added["name"] == "csro-zeek" and added["format"] == "zeek"
    listed = orjson.loads(_run("source", "list", "--home", home, "--json").output)
    assert [x["name"] for x in listed] == ["csro-zeek"]
    summary = orjson.loads(_run("hunt", "--home", home, "--json").output)
    assert summary["files"] == 3 and summary["bad_lines"] == 0
    assert summary["sightings_written"] == 3
    assert {"bytes", "lines", "hits_per_indicator", "suppressed_indicators"} <= set(summary)
    # where the time went: every phase ran, and together they fit in the hunt's time
    phases = summary["phase_seconds"]
    assert set(phases) == {"indicators", "reading", "matching", "recording"}
    assert all(v > 0 for v in phases.values())
    assert sum(phases.values()) <= summary["seconds"] + 0.01
    hits = orjson.loads(_run("hits", "--home", home, "--json", "--since", "2026-04-01").output)
    assert hits and all(h["timestamp"] >= "2026-04-01" for h in hits)
    text = _run("timeline", examples.INCIDENT_ID, "--home", home).output
    assert "Dwell time:" in text
    data = orjson.loads(_run("timeline", examples.INCIDENT_ID, "--home", home, "--json").output)
    assert data["first_trace"].startswith("2025-12-02")


def test_errors_are_one_line_messages(csro, tmp_path):
    result = runner.invoke(app, ["hunt", str(tmp_path / "missing.log"), "--home", str(csro.path)])
    assert result.exit_code == 2 and "no such log file" in result.output
    result = runner.invoke(
        app, ["hunt", str(tmp_path / "logs"), "--map", "bogus=x", "--home", str(csro.path)]
    )
    assert result.exit_code == 2 and "--map" in result.output
    result = runner.invoke(app, ["timeline", "incident--nope", "--home", str(csro.path)])
    assert result.exit_code == 2
