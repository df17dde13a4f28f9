"""``accord attribute``, ``accord claim`` and ``accord assess`` through the real CLI app."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from accord.store import schema as s
from accord.store.home import NodeHome
from tests.attribute.conftest import (
    OTHER_PARTNER,
    RESPONDER,
    TECH,
    incident,
    knowledge_base,
    link,
    observed_indicator,
    partner_intel,
    responder_identity,
    sid,
)

runner = CliRunner()
ACH_CELLS = {"CC", "C", "N", "I", "II"}


@pytest.fixture
def node(tmp_path: Path) -> NodeHome:
    home = NodeHome.init(tmp_path / "node", "Test CERT")
    with home.open_store() as store:
        store.put_objects([*knowledge_base(), *partner_intel()], "kb", "test kb")
        store.put_objects(
            [responder_identity(), responder_identity(OTHER_PARTNER, "B")], "user", "ids"
        )
    return home


def _run(node: NodeHome, *args: str) -> str:
    result = runner.invoke(app, [*args, "--home", str(node.path)])
    assert result.exit_code == 0, result.output
    return result.stdout


def _store_incident(node: NodeHome) -> dict:
    inc = incident()
    loader = observed_indicator("loader", "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']")
    objects = [inc, loader, link(inc, loader), link(inc, TECH["T9001"]), link(inc, TECH["T9004"])]
    with node.open_store() as store:
        store.put_objects(objects, "file", "incident.json")
    return inc


def _snapshot(node: NodeHome) -> tuple:
    with node.open_store() as store, store.engine.connect() as conn:
        meta = sorted(tuple(r) for r in conn.execute(s.meta.select()))
        return store.count_versions(), store.count_by_type(), meta


@pytest.mark.parametrize(
    "command", [["attribute"], ["claim", "add"], ["claim", "list"], ["assess"]]
)
def test_every_command_has_help_with_json(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "--json" in result.output


def test_attribute_json_has_the_contracted_fields(node: NodeHome) -> None:
    inc = _store_incident(node)
    data = json.loads(_run(node, "attribute", inc["id"], "--json", "--top", "3"))
    assert data["incident"] == inc["id"]
    assert data["kb"]["actors"] == 104 and isinstance(data["kb"]["version"], str)
    assert data["verdict"] in ("attributed", "not-attributed")
    assert isinstance(data["summary"], str) and data["summary"]
    hyps = data["hypotheses"]
    assert hyps[0]["name"] == "HERON"
    unknown = [h for h in hyps if h["name"] == "UNKNOWN"]
    assert len(unknown) == 1 and unknown[0]["actor_id"] is None
    assert data["unknown_probability"] == unknown[0]["probability"]
    for h in hyps:
        assert set(h) >= {
            "actor_id",
            "name",
            "aliases",
            "probability",
            "estimative",
            "confidence",
            "evidence_for",
            "evidence_against",
        }
        assert h["confidence"] in ("low", "moderate", "high")
        for w in h["evidence_for"] + h["evidence_against"]:
            assert set(w) >= {"ref", "weight"}
    total = math.fsum(h["probability"] for h in hyps) + data["omitted"]["probability"]
    assert total == pytest.approx(1.0, abs=1e-9)
    for e in data["evidence"]:
        assert set(e) >= {"ref", "kind", "label", "source", "grade", "spoofable", "diagnosticity"}
    assert data["ach"]["hypotheses"][: len(hyps)] == [h["name"] for h in hyps][:6]
    assert len(data["ach"]["matrix"]) == len(data["ach"]["evidence"]) == len(data["evidence"])
    assert {c for row in data["ach"]["matrix"] for c in row} <= ACH_CELLS
    assert isinstance(data["next_steps"], list) and data["next_steps"]
    assert data["note"]


def test_attribution_is_stored_once_and_recomputes_identically(node: NodeHome) -> None:
    inc = _store_incident(node)
    first = json.loads(_run(node, "attribute", inc["id"], "--json"))
    before = _snapshot(node)
    second = json.loads(_run(node, "attribute", inc["id"], "--json"))
    assert first == second
    assert _snapshot(node)[0] == before[0]  # unchanged result: no new note version
    with node.open_store() as store:
        note = store.get(first["note"])
    assert note["type"] == "note" and note["object_refs"] == [inc["id"]]
    assert note["created_by_ref"] == node.identity_id
    stored = {k: v for k, v in first.items() if k not in ("dissent", "note", "html")}
    assert note["x_accord_attribution"] == stored


def test_text_output_shows_the_tables(node: NodeHome) -> None:
    inc = _store_incident(node)
    out = _run(node, "attribute", inc["id"], "--no-save")
    for heading in ("Hypotheses", "Evidence", "Analysis of competing hypotheses", "UNKNOWN"):
        assert heading in out


def test_a_bundle_is_attributed_without_changing_the_store(node: NodeHome, tmp_path: Path):
    inc = incident("Bundle incident")
    loader = observed_indicator("loader", "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']")
    domain = observed_indicator("c2", "[domain-name:value = 'c2.heron.example']")
    bundle = {
        "type": "bundle",
        "id": "bundle--" + "1" * 8 + "-1111-4111-8111-" + "1" * 12,
        "objects": [inc, loader, domain, link(inc, loader), link(inc, domain)],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(bundle), "utf-8")
    before = _snapshot(node)
    data = json.loads(_run(node, "attribute", str(path), "--json"))
    assert data["incident"] == inc["id"]
    assert data["hypotheses"][0]["name"] == "HERON"
    assert data["note"] is None
    assert _snapshot(node) == before
    with node.open_store() as store:
        assert store.get(inc["id"]) is None


def test_claim_and_assess_round_trip(node: NodeHome) -> None:
    inc = _store_incident(node)
    out = _run(
        node,
        "claim",
        "add",
        "--incident",
        inc["id"],
        "--actor",
        "Freedonia",
        "--claimant",
        "Daily Ruritanian",
        "--source-kind",
        "anonymous-official",
        "--published",
        "2026-05-10",
        "--url",
        "https://news.example/freedonia",
        "--json",
    )
    claim = json.loads(out)
    assert set(claim) == {"id"} and claim["id"].startswith("relationship--")
    listed = json.loads(_run(node, "claim", "list", inc["id"], "--json"))["claims"]
    assert [c["id"] for c in listed] == [claim["id"]] and listed[0]["grade"] == "F6"
    verdicts = json.loads(_run(node, "assess", claim["id"], "--json"))["verdicts"]
    assert len(verdicts) == 1
    v = verdicts[0]
    assert set(v) >= {"claim", "actor", "verdict", "grade", "needed"}
    assert (v["claim"], v["actor"], v["verdict"], v["grade"]) == (
        claim["id"],
        "Freedonia",
        "unsupported",
        "F6",
    )
    assert v["needed"]
    by_incident = json.loads(_run(node, "assess", inc["id"], "--json"))["verdicts"]
    assert [x["claim"] for x in by_incident] == [claim["id"]]
    assert "unsupported" in _run(node, "assess", claim["id"])


def test_errors_are_one_line_with_exit_status_2(node: NodeHome) -> None:
    missing = "incident--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12
    result = runner.invoke(app, ["attribute", missing, "--home", str(node.path)])
    assert result.exit_code == 2
    assert "no incident" in result.output
    bad = runner.invoke(
        app,
        [
            "claim",
            "add",
            "--incident",
            missing,
            "--actor",
            "X",
            "--claimant",
            "Y",
            "--source-kind",
            "rumour",
            "--published",
            "2026-01-01",
            "--home",
            str(node.path),
        ],
    )
    assert bad.exit_code == 2 and "source-kind" in bad.output


def test_other_nodes_views_appear_beside_the_result(node: NodeHome) -> None:
    inc = _store_incident(node)
    theirs = {
        "type": "opinion",
        "spec_version": "2.1",
        "id": sid("opinion", "theirs"),
        "created": "2026-05-01T00:00:00.000Z",
        "modified": "2026-05-01T00:00:00.000Z",
        "created_by_ref": RESPONDER,
        "opinion": "disagree",
        "explanation": "We read the loader differently.",
        "object_refs": [inc["id"]],
    }
    with node.open_store() as store:
        store.put_objects([theirs], "peer", "responder")
    data = json.loads(_run(node, "attribute", inc["id"], "--json"))
    assert [(d["kind"], d["position"]) for d in data["dissent"]] == [("opinion", "disagree")]
    assert "We read the loader differently." in _run(node, "attribute", inc["id"])


def test_html_report_is_written_and_marked(node: NodeHome, tmp_path: Path) -> None:
    inc = _store_incident(node)
    report = tmp_path / "report.html"
    data = json.loads(_run(node, "attribute", inc["id"], "--html", str(report), "--json"))
    assert data["html"] == str(report)
    # Unmarked objects take the node's default, AMBER: the report is AMBER.
    assert data["tlp"] == "TLP:AMBER"
    page = report.read_text(encoding="utf-8")
    assert page.count(">TLP:AMBER</div>") == 2
    assert data["summary"].split(".")[0] in page
    text = _run(node, "attribute", inc["id"], "--html", str(report))
    assert f"report written to {report} (TLP:AMBER)" in " ".join(text.split())


def test_an_unwritable_report_path_is_a_clear_error(node: NodeHome, tmp_path: Path) -> None:
    inc = _store_incident(node)
    target = tmp_path / "no-such-dir" / "report.html"
    result = runner.invoke(
        app, ["attribute", inc["id"], "--html", str(target), "--home", str(node.path)]
    )
    assert result.exit_code != 0
    assert str(target) in result.output and "cannot write the report" in result.output
