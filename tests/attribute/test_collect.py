"""Evidence collection from STIX: links, resolution, sources, grades, claims kept apart."""

from __future__ import annotations

from accord.attribute.collect import collect
from accord.attribute.grading import Grade
from accord.attribute.params import DEFAULT_PARAMETERS
from accord.attribute.service import attribute_graph
from tests.attribute.conftest import (
    OTHER_PARTNER,
    PARTNER,
    RESPONDER,
    TECH,
    artefact_note,
    incident,
    link,
    obj,
    observed_indicator,
    rel,
    responder_identity,
    sid,
)

P = DEFAULT_PARAMETERS


def test_links_of_every_kind_become_evidence(make_graph):
    inc = incident()
    # A copy of a technique made by another tool: its own id, the ATT&CK id kept.
    foreign = obj(
        "attack-pattern",
        "phish attachment (tool X)",
        RESPONDER,
        external_references=[{"source_name": "mitre-attack", "external_id": "T9002.001"}],
    )
    loader_hash = observed_indicator(
        "loader on host", "[file:hashes.'SHA-256' = '" + "AB" * 32 + "']"
    )
    c2 = {"type": "domain-name", "spec_version": "2.1", "id": sid("domain-name", "seen")}
    c2["value"] = "C2.Heron.Example."
    grouping = obj(
        "grouping",
        "case file",
        RESPONDER,
        context="suspicious-activity",
        object_refs=[inc["id"], TECH["T9003"]["id"]],
    )
    sighting = obj(
        "sighting",
        "hit",
        RESPONDER,
        sighting_of_ref=sid("indicator", "Heron C2 address"),
        first_seen="2025-12-03T00:00:00.000Z",
        last_seen="2026-01-03T00:00:00.000Z",
        x_accord_incident_ref=inc["id"],
    )
    extra = [
        inc,
        foreign,
        loader_hash,
        c2,
        grouping,
        sighting,
        link(inc, foreign),
        link(inc, loader_hash),
        link(inc, c2),
        artefact_note(inc, "language", "xx-XX", "XB"),
    ]
    graph = make_graph(extra)
    found = collect(graph, inc["id"], P, own_identity=RESPONDER)
    by_kind = {}
    for item in found.items:
        by_kind.setdefault(item.kind, []).append(item)
    assert {i.key for i in by_kind["technique"]} == {
        sid("attack-pattern", "Phish Attachment"),
        sid("attack-pattern", "Dump Credentials"),
    }
    values = {i.key for i in by_kind["indicator"]}
    assert "value:sha256:" + "ab" * 32 in values
    assert "value:domain:c2.heron.example" in values
    assert "value:ipv4:198.51.100.7" in values  # through the sighting
    assert [i.spoofable for i in by_kind["artefact"]] == [True]
    assert by_kind["timing"][0].period is not None
    assert found.claims == []


def test_grades_come_from_the_creator_and_confidence(make_graph):
    inc = incident()
    high = link(inc, TECH["T9003"], confidence=85)
    unknown_creator = "identity--" + "9" * 8 + "-9999-4999-8999-" + "9" * 12
    low = link(inc, TECH["T9004"], creator=unknown_creator)
    graph = make_graph([inc, high, low])
    items = {i.key: i for i in collect(graph, inc["id"], P).items}
    assert items[TECH["T9003"]["id"]].grade == Grade("B", 1)
    assert items[TECH["T9004"]["id"]].grade == Grade("F", 6)
    own = collect(
        make_graph(
            [
                inc,
                rel(
                    inc,
                    "uses",
                    TECH["T9004"],
                    creator="identity--" + "1" * 8 + "-1111-4111-8111-" + "1" * 12,
                ),
            ]
        ),
        inc["id"],
        P,
        own_identity="identity--" + "1" * 8 + "-1111-4111-8111-" + "1" * 12,
    )
    assert own.items[0].grade == Grade("B", 6)


def test_a_claim_is_never_evidence(make_graph):
    inc = incident()
    heron = sid("intrusion-set", "HERON")
    claim = obj(
        "relationship",
        "claim",
        RESPONDER,
        relationship_type="attributed-to",
        source_ref=inc["id"],
        target_ref=heron,
    )
    graph = make_graph([inc, claim])
    found = collect(graph, inc["id"], P)
    assert found.items == [] or all(i.kind == "timing" for i in found.items)
    assert [c["id"] for c in found.claims] == [claim["id"]]
    result = attribute_graph(graph, inc["id"], P)
    assert result.verdict == "not-attributed"
    assert result.hypotheses[0].actor_id is None


def test_partner_intelligence_ties_observed_values_to_its_actor(make_graph):
    inc = incident()
    loader_hash = observed_indicator("loader", "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']")
    domain = observed_indicator("c2", "[domain-name:value = 'c2.heron.example']")
    unrelated = observed_indicator("attachment", "[file:hashes.'MD5' = '" + "0" * 32 + "']")
    graph = make_graph(
        [
            inc,
            loader_hash,
            domain,
            unrelated,
            *(link(inc, x) for x in (loader_hash, domain, unrelated)),
        ]
    )
    result = attribute_graph(graph, inc["id"], P, own_identity=RESPONDER)
    assert result.hypotheses[0].name == "HERON"
    assert result.unresolved and result.unresolved[0]["ref"] == unrelated["id"]
    heron = result.hypotheses[0]
    assert {w.ref for w in heron.evidence_for} == {loader_hash["id"], domain["id"]}


def test_independent_partners_corroborate(make_graph):
    inc = incident()
    partners = [responder_identity(PARTNER, "B"), responder_identity(OTHER_PARTNER, "B")]
    sightings = [
        obj(
            "sighting",
            f"seen by {who}",
            who,
            sighting_of_ref=sid("indicator", "Heron C2 address"),
            x_accord_incident_ref=inc["id"],
        )
        for who in (RESPONDER, OTHER_PARTNER)
    ]
    origins = {sightings[0]["id"]: "local", sightings[1]["id"]: "peer:other"}
    graph = make_graph([inc, *partners, *sightings], origins=origins)
    (item,) = [i for i in collect(graph, inc["id"], P).items if i.kind == "indicator"]
    assert item.corroborated and item.independent_sources == 2 and item.grade.credibility == 1
