"""Adversarial audit: TLP on the attribution paths (note, opinion, claim, HTML report).

Each test names one way material above an audience's ceiling (or material that must stay
home) could reach someone else through what attribution writes or renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from accord.attribute.claims import add_claim, assess
from accord.attribute.record import note_id
from accord.attribute.service import attribute_incident
from accord.cli.main import app
from accord.model.tlp import TLP, TLP2_IDS
from accord.share.collections import add_collection
from accord.share.policy import Ceiling
from accord.share.redaction import Profile
from accord.share.view import Audience, View
from accord.store.home import NodeHome
from accord.store.store import Store
from tests.attribute.conftest import (
    OTHER_PARTNER,
    TS,
    incident,
    knowledge_base,
    link,
    observed_indicator,
    partner_intel,
    responder_identity,
    sid,
)
from tests.share.helpers import make_node, new_id

runner = CliRunner()
GREEN = TLP2_IDS[TLP.GREEN]
RED = TLP2_IDS[TLP.RED]


# --- helpers ---------------------------------------------------------------------------------


def _view(
    node: NodeHome, store: Store, ceiling: Ceiling, *, query: str = "", redact: str = "none"
) -> View:
    """What a peer with ``ceiling`` reads of a fresh collection (TAXII, push, export --peer)."""
    from accord.share.signing import Signer, ensure_own_keys

    coll = add_collection(store, new_id("audit"), query=query)
    signer = Signer.from_home(node)
    ensure_own_keys(signer, store)
    profile = Profile(redact, node.identity_id)
    return View(store, signer, coll, Audience("peer", ceiling, profile))


def _export(node: NodeHome, tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    out = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.json"
    result = runner.invoke(app, ["export", *args, "-o", str(out), "--home", str(node.path)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text("utf-8"))["objects"]


@pytest.fixture
def attribution_node(tmp_path: Path) -> Iterator[tuple[NodeHome, Store]]:
    """A node holding the synthetic knowledge base (CLEAR) and the partner's intel (GREEN)."""
    node = make_node(tmp_path, "Analyst")
    with node.open_store() as store:
        store.put_objects(knowledge_base(), "kb", "test kb", import_tlp=TLP.CLEAR)
        store.put_objects(partner_intel(), "peer", "partner", import_tlp=TLP.GREEN)
        store.put_objects(
            [responder_identity(), responder_identity(OTHER_PARTNER, "B")],
            "user",
            "ids",
            import_tlp=TLP.CLEAR,
        )
        yield node, store


def _green(*objects: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**o, "object_marking_refs": [GREEN]} for o in objects]


# --- attribution: the note, the HTML report, claims and assessments ----------------------------


def _incident_with_heron_evidence(store: Store, name: str = "case") -> dict[str, Any]:
    inc = {**incident(name), "object_marking_refs": [GREEN]}
    heron_ip = observed_indicator(f"heron c2 {name}", "[ipv4-addr:value = '198.51.100.7']")
    store.put_objects(_green(inc, heron_ip, link(inc, heron_ip)), "file", f"{name}.json")
    return inc


def _mark_red(store: Store, objects: list[dict[str, Any]]) -> None:
    later = "2024-06-01T00:00:00.000Z"
    store.put_objects(
        [{**o, "modified": later, "object_marking_refs": [RED]} for o in objects], "peer", "x"
    )


@pytest.mark.parametrize("restricted", ["actor", "knowledge", "source"])
def test_the_attribution_tlp_counts_everything_it_rests_on(
    attribution_node: tuple[NodeHome, Store], restricted: str
) -> None:
    """The result is marked with the TLP of the incident, evidence and carriers only. A RED
    actor it names, the RED relationship that ties the evidence to an actor, or a RED
    reporting identity it quotes by name all end up in a GREEN note."""
    _node, store = attribution_node
    heron = sid("intrusion-set", "HERON")
    intel = {o["id"]: o for o in partner_intel()}
    if restricted == "actor":
        _mark_red(store, [intel[heron]])
    elif restricted == "knowledge":
        c2 = sid("indicator", "Heron C2 address")
        indicates = sid("relationship", f"{c2}|indicates|{heron}|{intel[c2]['created_by_ref']}")
        _mark_red(store, [intel[c2], intel[indicates]])
    else:
        renamed = {**responder_identity(), "name": "Informant Unit 9"}
        _mark_red(store, [renamed])
    inc = _incident_with_heron_evidence(store)
    result = attribute_incident(store, inc["id"], None, save=False)
    document = json.dumps(result.to_dict())
    leading = result.hypothesis(heron)
    assert leading is not None and leading.evidence_for
    if restricted == "source":
        assert "Informant Unit 9" in document
    assert result.tlp == "TLP:RED"


def test_the_attribution_note_does_not_carry_unmarked_evidence_to_peers(
    attribution_node: tuple[NodeHome, Store],
) -> None:
    """Unmarked evidence stays home, but the note quoting it gets an explicit AMBER
    marking (the node default, made explicit) and reaches AMBER peers."""
    node, store = attribution_node
    inc = {**incident("unmarked evidence"), "object_marking_refs": [GREEN]}
    local = observed_indicator("local sensor hit", "[ipv4-addr:value = '203.0.113.99']")
    store.put_objects([inc, local, *_green(link(inc, local))], "file", "local.json")
    attribute_incident(store, inc["id"], node.identity_id)
    note = store.get_row(note_id(node.identity_id, inc["id"]))
    assert note is not None and "203.0.113.99" in note.body
    view = _view(node, store, Ceiling(TLP.AMBER), query="types=note,indicator")
    emitted = {i.id: i.body for i in view.iter_items()}
    assert local["id"] not in emitted  # the evidence itself stays home
    assert not any("203.0.113.99" in body for body in emitted.values())


def test_the_html_report_is_marked_with_the_views_it_shows(
    attribution_node: tuple[NodeHome, Store], tmp_path: Path
) -> None:
    """``accord attribute --html`` prints other nodes' views (opinions, notes) in the
    report, but marks it with the result's TLP alone."""
    node, store = attribution_node
    inc = _incident_with_heron_evidence(store, "html")
    opinion = {
        "type": "opinion",
        "spec_version": "2.1",
        "id": new_id("opinion"),
        "created": TS,
        "modified": TS,
        "created_by_ref": OTHER_PARTNER,
        "opinion": "strongly-disagree",
        "explanation": "RED-ONLY-51f0: our source inside the ministry says otherwise",
        "object_refs": [inc["id"]],
        "object_marking_refs": [RED],
    }
    store.put_objects([opinion], "peer", "other")
    page = tmp_path / "report.html"
    result = runner.invoke(
        app, ["attribute", inc["id"], "--html", str(page), "--home", str(node.path)]
    )
    assert result.exit_code == 0, result.output
    text = page.read_text("utf-8")
    assert "RED-ONLY-51f0" not in text or ">TLP:RED</div>" in text


def test_a_claim_about_a_red_incident_is_not_exported(
    attribution_node: tuple[NodeHome, Store], tmp_path: Path
) -> None:
    """The claim copies the incident's ``object_marking_refs`` only: an incident that is
    RED by ``--tlp red`` gives an unmarked claim at the node default, which names the
    incident and is exported at the default AMBER ceiling."""
    node, store = attribution_node
    inc = incident("Operation NIGHTFALL at the Ministry")
    store.put_objects([inc], "file", "red.json", import_tlp=TLP.RED)
    add_claim(
        store,
        node.identity_id,
        incident=inc["id"],
        actor="Freedonia",
        claimant="Daily Ruritanian",
        source_kind="media",
        published="2026-05-10",
    )
    bundle = json.dumps(_export(node, tmp_path))
    assert inc["id"] not in bundle and "NIGHTFALL" not in bundle


def test_an_assessment_is_marked_like_the_evidence_it_judges(
    attribution_node: tuple[NodeHome, Store], tmp_path: Path
) -> None:
    """``accord assess --save`` stores an opinion with no marking at all (node default),
    although its reasons come from RED evidence; ``accord export`` then writes it."""
    node, store = attribution_node
    inc = {**incident("red evidence"), "object_marking_refs": [GREEN]}
    loader = observed_indicator("loader", "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']")
    loader["object_marking_refs"] = [RED]
    store.put_objects([inc, loader, *_green(link(inc, loader))], "file", "case.json")
    claim = add_claim(
        store,
        node.identity_id,
        incident=inc["id"],
        actor="APT-B",
        claimant="Vendor X",
        source_kind="vendor",
        published="2026-05-10",
    )
    assert attribute_incident(store, inc["id"], None, save=False).tlp == "TLP:RED"
    (verdict,) = assess(store, claim, node.identity_id, save=True).verdicts
    assert "HERON" in verdict.reason  # what only the RED evidence shows
    exported = _export(node, tmp_path)
    assert not [o for o in exported if o["type"] == "opinion"]
