"""``accord import`` and ``accord export``: lossless round trips under TLP policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accord.model.tlp import TLP
from accord.store.home import NodeHome
from tests.cli.test_node import assert_error, run, squeeze
from tests.store.stix_helpers import (
    FIXTURES,
    TLP2,
    by_version,
    indicator,
    load_objects,
    malware,
    validation_errors,
    write_bundle_file,
)


def _import(home: NodeHome, *args: str) -> dict[str, Any]:
    result = run("import", "--home", str(home.path), "--json", *args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def _export(home: NodeHome, tmp_path: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    out = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.json"
    result = run("export", "--home", str(home.path), "-o", str(out), "--json", *args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    text = out.read_text("utf-8")
    assert validation_errors(text) == [], "the exported bundle must pass stix2-validator"
    return json.loads(text), json.loads(result.stdout)


def _without_node(home: NodeHome, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o["id"] != home.identity_id]


def test_fixtures_round_trip_exactly(node_home: NodeHome, tmp_path: Path) -> None:
    expected = load_objects("all_types.json") + load_objects("versions.json")
    report = _import(node_home, str(FIXTURES / "all_types.json"), str(FIXTURES / "versions.json"))
    assert report["failed"] == 0
    first, second = report["files"]
    assert first["format"] == "stix" and first["ok"]
    assert (first["received"], first["stored"], first["duplicates"]) == (60, 60, 0)
    assert (second["stored"], second["duplicates"]) == (4, 2)  # identity and marking again
    assert set(first) >= {"file", "format", "ok", "received", "by_type", "warninglist_hits"}

    bundle, summary = _export(node_home, tmp_path, "--all-versions", "--tlp-max", "red")
    exported = _without_node(node_home, bundle["objects"])
    assert len(exported) == len(by_version(exported)) == len(by_version(expected))
    assert by_version(exported) == by_version(expected)  # every version, byte-for-byte equal
    assert summary["output"].endswith(".json") and summary["tlp_max"] == "RED"
    assert summary["objects"] == len(bundle["objects"]) - summary["markings_added"]
    assert summary["withheld_above_tlp"] == 0
    assert set(summary) == {
        "output", "tlp_max", "objects", "markings_added", "withheld_above_tlp", "by_type",
    }  # fmt: skip

    again = _import(node_home, str(FIXTURES / "all_types.json"))
    assert again["files"][0]["stored"] == 0 and again["files"][0]["duplicates"] == 60


def test_default_export_is_the_node_policy(node_home: NodeHome, tmp_path: Path) -> None:
    _import(node_home, str(FIXTURES / "all_types.json"), str(FIXTURES / "versions.json"))
    objs = {o["id"]: o for o in load_objects("all_types.json")}
    bundle, summary = _export(node_home, tmp_path)
    assert summary["tlp_max"] == "AMBER"
    with node_home.open_store() as store:
        for obj in bundle["objects"]:
            assert store.get_row(obj["id"]).tlp <= TLP.AMBER  # type: ignore[union-attr]
    exported = {o["id"] for o in bundle["objects"]}
    red_or_strict = {
        i
        for i, o in objs.items()
        if {TLP2["red"], TLP2["amber+strict"]}
        & {
            *o.get("object_marking_refs", []),
            *(g["marking_ref"] for g in o.get("granular_markings", [])),
        }
    }
    assert len(red_or_strict) == 4  # incident, grouping, sighting, report (granular RED)
    assert not red_or_strict & exported
    assert summary["withheld_above_tlp"] == len(red_or_strict)
    assert (set(objs) - red_or_strict) <= exported
    # only the current version of the versioned actor, and it is the revoked one
    actor = [
        o for o in bundle["objects"] if o["type"] == "threat-actor" and o["name"] == "Copper Lynx"
    ]
    assert len(actor) == 1 and actor[0]["revoked"] is True
    # every marking referenced by an exported object is in the bundle
    referenced = {
        ref
        for o in bundle["objects"]
        for ref in [
            *o.get("object_marking_refs", []),
            *(g["marking_ref"] for g in o.get("granular_markings", [])),
        ]
    }
    assert referenced <= exported


def test_export_never_exceeds_tlp_max(node_home: NodeHome, tmp_path: Path) -> None:
    _import(node_home, str(FIXTURES / "all_types.json"))
    counts: dict[str, int] = {}
    for ceiling in ("green", "amber", "amber+strict", "red"):
        bundle, summary = _export(node_home, tmp_path, "--tlp-max", ceiling)
        with node_home.open_store() as store:
            rows = store.get_many([o["id"] for o in bundle["objects"]])
        assert all(r.tlp <= TLP.parse(ceiling) for r in rows.values()), ceiling
        counts[ceiling] = summary["objects"]
    assert counts["green"] < counts["amber"] < counts["amber+strict"] < counts["red"]


@pytest.mark.parametrize("ceiling", ["clear", "white"])
def test_tlp_max_clear_exports_only_clear(
    node_home: NodeHome, tmp_path: Path, ceiling: str
) -> None:
    white = malware(
        object_marking_refs=["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]
    )
    amber = malware(
        object_marking_refs=["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]
    )
    _import(node_home, str(write_bundle_file(tmp_path / "t.json", [white, amber])))
    bundle, summary = _export(node_home, tmp_path, "--tlp-max", ceiling)
    ids = {o["id"] for o in bundle["objects"]}
    assert white["id"] in ids
    assert summary["tlp_max"] == "CLEAR"
    assert amber["id"] not in ids


def test_import_tlp_option_never_alters_objects(node_home: NodeHome, tmp_path: Path) -> None:
    unmarked = malware()
    own = malware(object_marking_refs=[TLP2["green"]])
    path = write_bundle_file(tmp_path / "in.json", [unmarked, own])
    _import(node_home, "--tlp", "red", str(path))
    default, _ = _export(node_home, tmp_path)
    assert own["id"] in {o["id"] for o in default["objects"]}
    assert unmarked["id"] not in {o["id"] for o in default["objects"]}
    everything, _ = _export(node_home, tmp_path, "--tlp-max", "red")
    by_id = {o["id"]: o for o in everything["objects"]}
    assert by_id[unmarked["id"]] == unmarked and by_id[own["id"]] == own
    # RED is not a marking the bundle needs: no object carries it
    assert TLP2["red"] not in by_id


def test_export_type_and_since(node_home: NodeHome, tmp_path: Path) -> None:
    _import(node_home, str(FIXTURES / "all_types.json"))
    only, summary = _export(
        node_home, tmp_path, "--type", "indicator", "--type", "malware", "--tlp-max", "red"
    )
    types = {o["type"] for o in only["objects"]}
    assert types == {"indicator", "malware", "marking-definition"}
    assert summary["by_type"] == {"indicator": 3, "malware": 1}
    future, summary = _export(node_home, tmp_path, "--since", "2999-01-01", "--tlp-max", "red")
    assert future["objects"] == [] and summary["objects"] == 0
    past, _ = _export(node_home, tmp_path, "--since", "2000-01-01T00:00:00Z", "--tlp-max", "red")
    assert len(past["objects"]) > 60
    assert_error(
        run("export", "--home", str(node_home.path), "--since", "yesterday"), "--since: not a date"
    )
    assert_error(
        run("export", "--home", str(node_home.path), "--tlp-max", "purple"),
        "--tlp-max: unknown TLP",
    )


def test_export_to_stdout(node_home: NodeHome) -> None:
    result = run("export", "--home", str(node_home.path))
    assert result.exit_code == 0
    bundle = json.loads(result.stdout)
    assert bundle["type"] == "bundle" and bundle["id"].startswith("bundle--")
    assert [o["id"] for o in bundle["objects"]] == [node_home.identity_id]
    assert "exported 1 objects" in result.stderr


def test_oasis_samples_round_trip_through_the_cli(
    shared_dir: Path, node_home: NodeHome, tmp_path: Path
) -> None:
    samples = sorted((shared_dir / "samples" / "stix").glob("*.json"))
    assert samples
    expected: list[dict[str, Any]] = []
    for path in samples:
        data = json.loads(path.read_text("utf-8"))
        expected += data["objects"] if data.get("type") == "bundle" else [data]
    report = _import(node_home, *map(str, samples))
    assert report["failed"] == 0 and all(f["format"] == "stix" for f in report["files"])
    bundle, _ = _export(node_home, tmp_path, "--all-versions", "--tlp-max", "red")
    exported = _without_node(node_home, bundle["objects"])
    # the standard TLP 1.0 RED definition is added for the marked sample; nothing else
    added = [o for o in exported if o["type"] == "marking-definition"]
    assert [o["id"] for o in added] == ["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]
    assert by_version(o for o in exported if o["type"] != "marking-definition") == by_version(
        expected
    )


def test_one_bad_file_does_not_stop_the_others(node_home: NodeHome, tmp_path: Path) -> None:
    good = malware()
    bad = indicator("[ipv4-addr:value = '1.2.3.4'")
    good_path = write_bundle_file(tmp_path / "good.json", [good])
    bad_path = write_bundle_file(tmp_path / "bad.json", [malware(), bad])
    result = run("import", "--home", str(node_home.path), "--json", str(bad_path), str(good_path))
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["failed"] == 1
    refused, accepted = report["files"]
    assert refused == {
        "file": str(bad_path),
        "ok": False,
        "error": refused["error"],
    }
    assert refused["error"].startswith(f"{bad_path}: object 1 ({bad['id']}): invalid STIX pattern")
    assert accepted["ok"] and accepted["stored"] == 1
    with node_home.open_store() as store:
        assert store.get(good["id"]) == good
        assert store.count_versions() == 2  # the node identity and the good file's object


def test_refusal_message_on_stderr(node_home: NodeHome, tmp_path: Path) -> None:
    bad = malware(created="2025-13-01T00:00:00Z")
    path = write_bundle_file(tmp_path / "bad.json", [bad])
    result = run("import", "--home", str(node_home.path), str(path))
    assert_error(
        result,
        f"{path}: object 0 ({bad['id']}): property 'created': invalid date or time",
        prefix="refused ",
    )
    assert result.stdout == ""


def test_import_text_output(node_home: NodeHome, tmp_path: Path) -> None:
    path = write_bundle_file(tmp_path / "in.json", [malware(), malware()])
    result = run("import", "--home", str(node_home.path), str(path))
    assert result.exit_code == 0
    assert squeeze(f"imported {path} (stix): 2 stored, 0 already present") in squeeze(result.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tlp", "purple"], "--tlp: unknown TLP level 'purple'"),
        (["--format", "xml"], "unknown format 'xml'"),
    ],
)
def test_import_option_errors(
    node_home: NodeHome, tmp_path: Path, args: list[str], message: str
) -> None:
    path = write_bundle_file(tmp_path / "in.json", [malware()])
    result = run("import", "--home", str(node_home.path), *args, str(path))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert squeeze(message) in squeeze(result.stderr)


def test_missing_file(node_home: NodeHome, tmp_path: Path) -> None:
    result = run("import", "--home", str(node_home.path), str(tmp_path / "absent.json"))
    assert_error(result, f"{tmp_path / 'absent.json'}: no such file", prefix="refused ")


def test_empty_pattern_is_refused_cleanly(node_home: NodeHome, tmp_path: Path) -> None:
    path = write_bundle_file(tmp_path / "empty.json", [indicator("")])
    result = run("import", "--home", str(node_home.path), str(path))
    assert_error(result, f"{path}: object 0", prefix="refused ")


def test_default_export_is_never_red_even_if_configured(
    node_home: NodeHome, tmp_path: Path
) -> None:
    config = node_home.path / "config.toml"
    config.write_text(
        config.read_text("utf-8").replace('export_tlp_max = "amber"', 'export_tlp_max = "red"')
    )
    red = malware(object_marking_refs=[TLP2["red"]])
    _import(node_home, str(write_bundle_file(tmp_path / "red.json", [red])))
    result = run("export", "--home", str(node_home.path))
    assert result.exit_code == 0 or "red" in result.stderr.lower()
    if result.exit_code == 0:
        assert red["id"] not in {o["id"] for o in json.loads(result.stdout)["objects"]}


def test_export_to_an_unwritable_place(node_home: NodeHome, tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "out.json"
    assert_error(run("export", "--home", str(node_home.path), "-o", str(target)), str(target))
