"""TLP handling of what attribution records and writes, beyond the audit's cases: the
provenance the result records, next steps, ``--json`` with views, claims, assessments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from accord.attribute.claims import add_claim, assess
from accord.attribute.record import note_id, save_attribution
from accord.attribute.result import AttributionResult
from accord.attribute.service import attribute_incident
from accord.cli.main import app
from accord.model.tlp import TLP, TLP2_IDS
from accord.store.home import NodeHome
from accord.store.store import Store
from tests.attribute.conftest import (
    OTHER_PARTNER,
    PARTNER,
    TS,
    incident,
    knowledge_base,
    link,
    obj,
    observed_indicator,
    partner_intel,
    responder_identity,
    sid,
)
from tests.share.helpers import make_node

runner = CliRunner()
GREEN = TLP2_IDS[TLP.GREEN]
AMBER = TLP2_IDS[TLP.AMBER]
RED = TLP2_IDS[TLP.RED]
STATEMENT = "marking-definition--" + "1" * 8 + "-1111-4111-8111-" + "1" * 12
HERON = sid("intrusion-set", "HERON")
C2 = sid("indicator", "Heron C2 address")
INDICATES = sid("relationship", f"{C2}|indicates|{HERON}|{PARTNER}")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[NodeHome, Store]]:
    """The synthetic knowledge base (CLEAR), the partner's intel (GREEN), two identities."""
    home = make_node(tmp_path, "Analyst")
    with home.open_store() as store:
        store.put_objects(knowledge_base(), "kb", "test kb", import_tlp=TLP.CLEAR)
        store.put_objects(partner_intel(), "peer", "partner", import_tlp=TLP.GREEN)
        identities = [responder_identity(), responder_identity(OTHER_PARTNER, "B")]
        store.put_objects(identities, "user", "ids", import_tlp=TLP.CLEAR)
        yield home, store


def _marked(marking: str, *objects: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**o, "object_marking_refs": [marking]} for o in objects]


def _heron_case(store: Store, marking: str | None = GREEN) -> dict[str, Any]:
    """A GREEN incident whose one evidence item (a GREEN link) is HERON's C2 address; the
    indicator itself carries ``marking`` (None: unmarked, at the node default)."""
    inc = {**incident("heron case"), "object_marking_refs": [GREEN]}
    seen = observed_indicator("c2 hit", "[ipv4-addr:value = '198.51.100.7']")
    if marking:
        seen["object_marking_refs"] = [marking]
    store.put_objects([inc, seen, *_marked(GREEN, link(inc, seen))], "file", "case.json")
    return inc


def _raise_to_red(store: Store, ids: list[str]) -> None:
    current = [store.get(i) for i in ids]
    later = "2024-06-01T00:00:00.000Z"
    store.put_objects(
        [{**o, "modified": later, "object_marking_refs": [RED]} for o in current if o],
        "peer",
        "partner",
    )


def test_the_result_records_the_knowledge_each_link_rests_on(node) -> None:
    """Each weight names the profile objects it matched; a hypothesis names its merged
    members; the document round-trips, and a newer peer's extra keys are ignored."""
    _home, store = node
    inc = _heron_case(store)
    result = attribute_incident(store, inc["id"], None, save=False)
    heron = result.hypothesis(HERON)
    assert heron is not None and heron.members == [HERON]
    (weight,) = heron.evidence_for
    assert {HERON, INDICATES, C2} <= set(weight.rests_on)
    assert set(weight.rests_on) <= set(heron.rests_on)
    apt_a = next(h for h in result.hypotheses if h.name == "APT-A")
    assert sid("intrusion-set", "Alpha Bear") in apt_a.members  # its aliases come from there
    document = result.to_dict()
    assert AttributionResult.from_dict(document) == result
    document["hypotheses"][0]["x_future"] = 1
    document["evidence"][0]["x_future"] = 1
    assert AttributionResult.from_dict(document) == result


def test_a_restricted_profile_entry_quoted_by_a_next_step_raises_the_level(node) -> None:
    """The next steps name profile entries the evidence did not match ("search for sha256
    abab…"): a RED link behind one makes the result RED although no weight rests on it."""
    _home, store = node
    loader = sid("malware", "HeronLoader")
    uses = sid("relationship", f"{HERON}|uses|{loader}|{PARTNER}")
    _raise_to_red(store, [uses])
    inc = _heron_case(store)
    result = attribute_incident(store, inc["id"], None, save=False)
    heron = result.hypothesis(HERON)
    assert heron is not None and uses not in heron.rests_on
    assert any("HeronLoader" in step or "abab" in step for step in result.next_steps)
    assert uses in result.rests_on
    assert result.tlp == "TLP:RED"


def _opinion(about: str, author: str, marking: str | None) -> dict[str, Any]:
    body = obj(
        "opinion",
        f"view of {author} {marking}",
        author,
        opinion="disagree",
        explanation="RESTRICTED-VIEW-77",
        object_refs=[about],
    )
    if marking:
        body["object_marking_refs"] = [marking]
    return body


@pytest.mark.parametrize("restricted", ["view", "author"])
def test_json_and_text_output_take_the_level_of_the_views_they_show(
    node, tmp_path: Path, restricted: str
) -> None:
    """A RED opinion, or a GREEN one whose author's name is RED, raises ``tlp`` in
    ``--json`` and the text title; each view carries its own level."""
    home, store = node
    inc = _heron_case(store)
    if restricted == "view":
        store.put_objects([_opinion(inc["id"], OTHER_PARTNER, RED)], "peer", "other")
    else:
        _raise_to_red(store, [OTHER_PARTNER])
        store.put_objects([_opinion(inc["id"], OTHER_PARTNER, GREEN)], "peer", "other")
    args = ["attribute", inc["id"], "--no-save", "--home", str(home.path)]
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [v["tlp"] for v in data["dissent"]] == ["TLP:RED"]
    assert data["tlp"] == "TLP:RED"
    text = runner.invoke(app, [*args, "--html", str(tmp_path / "r.html")])
    assert text.exit_code == 0, text.output
    assert "TLP:RED  heron case" in text.stdout
    assert "(TLP:RED)" in " ".join(text.stdout.split())
    assert (tmp_path / "r.html").read_text("utf-8").count(">TLP:RED</div>") == 2


def test_without_restricted_views_the_output_keeps_the_result_level(node) -> None:
    home, store = node
    inc = _heron_case(store)
    store.put_objects([_opinion(inc["id"], OTHER_PARTNER, GREEN)], "peer", "other")
    out = runner.invoke(app, ["attribute", inc["id"], "--json", "--home", str(home.path)])
    data = json.loads(out.stdout)
    assert data["tlp"] == "TLP:GREEN" and data["dissent"][0]["tlp"] == "TLP:GREEN"


def _claim(store: Store, home: NodeHome, inc: dict[str, Any], actor: str = "APT-B") -> str:
    return add_claim(
        store,
        home.identity_id,
        incident=inc["id"],
        actor=actor,
        claimant="Vendor X",
        source_kind="vendor",
        published="2026-05-10",
    )


def _created_by_claim(store: Store, claim: str) -> list[dict[str, Any]]:
    rel = store.get(claim)
    assert rel is not None
    return [rel, store.get(rel["x_accord_claimant_ref"]), store.get(rel["target_ref"])]


def test_a_claim_is_marked_with_the_incident_level_and_keeps_its_statements(node) -> None:
    home, store = node
    inc = {**incident("green case"), "object_marking_refs": [GREEN, STATEMENT]}
    store.put_objects([inc], "file", "green.json")
    claim = _claim(store, home, inc, actor="Freedonia")
    for created in _created_by_claim(store, claim):
        assert created["object_marking_refs"] == [GREEN, STATEMENT]
        assert store.get_row(created["id"]).tlp is TLP.GREEN


def test_a_claim_naming_a_restricted_actor_is_marked_with_its_level(node) -> None:
    """The claim names the actor it resolved to (``target_ref``, its name in the text)."""
    home, store = node
    _raise_to_red(store, [HERON])
    inc = {**incident("green case"), "object_marking_refs": [GREEN]}
    store.put_objects([inc], "file", "green.json")
    claim = store.get(_claim(store, home, inc, actor="Heron"))
    assert claim["target_ref"] == HERON and claim["object_marking_refs"] == [RED]


def test_a_claim_about_an_unmarked_incident_stays_home(node) -> None:
    """An incident at the node default with no marking stays home: the claim naming it is
    RED, not an explicit AMBER that AMBER peers would receive."""
    home, store = node
    inc = incident("unmarked case")
    store.put_objects([inc], "file", "unmarked.json")
    claim = store.get(_claim(store, home, inc))
    assert claim["object_marking_refs"] == [RED]
    # An identity created for an earlier allegation does not raise the next one's level.
    green = {**incident("green case"), "object_marking_refs": [GREEN]}
    store.put_objects([green], "file", "green.json")
    again = store.get(_claim(store, home, green))
    assert again["object_marking_refs"] == [GREEN]


def test_an_assessment_of_green_material_is_marked_green(node) -> None:
    """Marking the opinion follows what it rests on; it is not RED for nothing."""
    home, store = node
    inc = _heron_case(store)
    (verdict,) = assess(store, _claim(store, home, inc), home.identity_id, save=True).verdicts
    assert verdict.tlp == "TLP:GREEN"
    (opinion,) = [r.obj for r in store.iter_rows(types=["opinion"])]
    assert opinion["object_marking_refs"] == [GREEN]
    assert opinion["x_accord_assessment"]["tlp"] == "TLP:GREEN"


def test_an_assessment_resting_on_unmarked_evidence_stays_home(node) -> None:
    home, store = node
    inc = _heron_case(store, marking=None)
    (verdict,) = assess(store, _claim(store, home, inc), home.identity_id, save=True).verdicts
    assert verdict.tlp == "TLP:AMBER"  # the level of what it rests on: the node default
    (opinion,) = [r.obj for r in store.iter_rows(types=["opinion"])]
    assert opinion["object_marking_refs"] == [RED]


def test_the_note_is_stored_again_when_only_its_handling_changes(node) -> None:
    """Unmarked evidence keeps the note home (RED); once the evidence is marked, the same
    result is stored again under the level it now warrants."""
    home, store = node
    inc = _heron_case(store, marking=None)
    result = attribute_incident(store, inc["id"], home.identity_id, save=False)
    assert save_attribution(store, result, home.identity_id)[1]
    ident = note_id(home.identity_id, inc["id"])
    assert store.get(ident)["object_marking_refs"] == [RED]
    assert not save_attribution(store, result, home.identity_id)[1]
    evidence = [e.ref for e in result.evidence]
    marked = [{**store.get(i), "modified": TS.replace("2024", "2025")} for i in evidence]
    store.put_objects(_marked(AMBER, *marked), "file", "marked.json")
    assert save_attribution(store, result, home.identity_id)[1]
    assert store.get(ident)["object_marking_refs"] == [AMBER]


def test_assess_output_takes_the_level_of_the_opinions_it_shows(node) -> None:
    """``accord assess`` prints other nodes' opinions on the claim beside the verdict."""
    home, store = node
    inc = _heron_case(store)
    claim = _claim(store, home, inc)
    store.put_objects([_opinion(claim, OTHER_PARTNER, RED)], "peer", "other")
    out = runner.invoke(app, ["assess", claim, "--home", str(home.path)])
    assert out.exit_code == 0, out.output
    assert "RESTRICTED-VIEW-77" in out.stdout and f"TLP:RED  {claim}" in out.stdout
    data = json.loads(
        runner.invoke(app, ["assess", claim, "--json", "--home", str(home.path)]).stdout
    )
    (verdict,) = data["verdicts"]
    assert verdict["tlp"] == "TLP:GREEN" and [o["tlp"] for o in verdict["opinions"]] == ["TLP:RED"]
