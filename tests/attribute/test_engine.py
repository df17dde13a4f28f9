"""The engine's core rules on a small synthetic knowledge base (no database)."""

from __future__ import annotations

import math
import random

import pytest

from accord.attribute.engine import compute, priors
from accord.attribute.evidence import (
    Source,
    artefact_item,
    merge,
    resolve_items,
    technique_item,
)
from accord.attribute.grading import Grade
from accord.attribute.graph import KnowledgeGraph
from accord.attribute.params import DEFAULT_PARAMETERS
from accord.attribute.report import build_result
from accord.attribute.result import ATTRIBUTED, NOT_ATTRIBUTED
from tests.attribute.conftest import knowledge_base, partner_intel, sid

P = DEFAULT_PARAMETERS
ME = Source("identity--11111111-1111-4111-8111-111111111111", "us", "local", Grade("B", 2))
PEER = Source("identity--22222222-2222-4222-8222-222222222222", "peer", "peer:p1", Grade("B", 2))


def items(graph: KnowledgeGraph, *refs: str, source: Source = ME):
    found, missing = resolve_items(graph, refs, source, P)
    assert not missing, missing
    return merge(found)


def index(graph: KnowledgeGraph, name: str) -> int:
    found = graph.actor_index(name)
    assert found is not None, name
    return found


def test_evidence_shared_by_every_actor_leaves_the_posterior_at_the_prior():
    graph = KnowledgeGraph(knowledge_base())  # T9001 is used by every profiled actor
    shared = [a for a in graph.actors if sid("attack-pattern", "Command Everything") in a.profile]
    assert {a.index for a in shared} == set(graph.population("technique"))
    post = compute(graph, items(graph, "T9001"), P)
    prior, prior_unknown = priors(graph, P)
    assert post.unknown == pytest.approx(prior_unknown, abs=1e-12)
    for actor, p in enumerate(post.probabilities):
        assert p == pytest.approx(prior[actor], abs=1e-12)
    empty = compute(graph, [], P)
    assert empty.probabilities == pytest.approx(post.probabilities, abs=1e-12)


def test_one_unique_malware_family_moves_the_posterior_strongly():
    """Strongly, on Jeffreys' scale: the one item multiplies APT-A's odds against every
    other named actor by more than 10 (over 1 ban), from a B2 source."""
    graph = KnowledgeGraph(knowledge_base())
    a = index(graph, "APT-A")
    prior, _ = priors(graph, P)
    post = compute(graph, items(graph, "S9001"), P)  # AlphaRAT, used by APT-A only
    for b, p in enumerate(post.probabilities):
        if b != a:
            assert (post.probabilities[a] / p) / (prior[a] / prior[b]) > 10, graph.actors[b].name
    assert post.probabilities[a] > 5 * prior[a]
    assert next(h for h in post.ranking() if h is not None) == a
    # SharedTool (APT-A and APT-B): it moves APT-A less, and cannot tell A from B.
    shared = compute(graph, items(graph, "S9002"), P)
    assert post.probabilities[a] > 1.5 * shared.probabilities[a]
    b = index(graph, "APT-B")
    assert shared.probabilities[a] / shared.probabilities[b] < 2 * prior[a] / prior[b]


def test_duplicated_evidence_from_the_same_source_counts_once():
    graph = KnowledgeGraph(knowledge_base())
    once = items(graph, "S9001")
    twice_raw, _ = resolve_items(graph, ["S9001", "AlphaRAT", "s9001"], ME, P)
    twice = merge(twice_raw)
    assert len(twice) == len(once) == 1
    assert twice[0].independent_sources == 1
    assert compute(graph, twice, P).probabilities == compute(graph, once, P).probabilities
    # The same fact from an independent source (other identity, other node) is still one
    # item, more trustworthy: corroborated, credibility 1.
    both_raw, _ = resolve_items(graph, ["S9001"], PEER, P)
    both = merge([*twice_raw, *both_raw])
    assert len(both) == 1 and both[0].corroborated and both[0].grade == Grade("B", 1)
    assert both[0].source_reliability > once[0].source_reliability


def test_same_identity_through_another_node_is_not_independent():
    graph = KnowledgeGraph(knowledge_base())
    relay = Source(ME.identity, "us via peer", "peer:relay", Grade("B", 2))
    raw = [
        *resolve_items(graph, ["S9001"], ME, P)[0],
        *resolve_items(graph, ["S9001"], relay, P)[0],
    ]
    merged = merge(raw)
    assert len(merged) == 1 and merged[0].independent_sources == 1


def test_spoofable_evidence_alone_never_attributes():
    graph = KnowledgeGraph(knowledge_base())
    artefacts = [artefact_item("language", f"lang-{n}", ME, P, country="XB") for n in range(30)] + [
        artefact_item("timezone", "UTC+7", ME, P, country="XB")
    ]
    result = build_result(graph, "incident--x", merge(artefacts), P)
    assert all(e.spoofable for e in result.evidence)
    assert result.verdict == NOT_ATTRIBUTED
    top = result.top_named()
    assert top is not None and top.name == "APT-B"  # the artefacts do point at it
    assert "Spoofable traces are discounted" in result.summary


def test_an_incident_without_evidence_is_not_attributed_and_unknown_leads():
    tiny = [o for o in knowledge_base() if "Filler" not in str(o.get("name", "Filler"))]
    for objects in (knowledge_base(), tiny):
        graph = KnowledgeGraph(objects)
        result = build_result(graph, "incident--x", [], P)
        assert result.verdict == NOT_ATTRIBUTED
        assert result.hypotheses[0].actor_id is None and result.hypotheses[0].name == "UNKNOWN"
        assert result.evidence == [] and result.ach.matrix == []
        assert result.next_steps and "no evidence" in result.next_steps[0]


def test_strong_independent_evidence_attributes():
    graph = KnowledgeGraph([*knowledge_base(), *partner_intel()])
    raw = []
    for source in (ME, PEER):
        raw += resolve_items(graph, ["S9001", "T9002.001", "T9003"], source, P)[0]
    result = build_result(graph, "incident--x", merge(raw), P)
    assert result.verdict == ATTRIBUTED
    assert result.hypotheses[0].name == "APT-A"
    assert result.hypotheses[0].probability >= 0.55
    assert result.confidence in ("moderate", "high")


def test_probabilities_sum_to_one_and_top_reports_the_cut_mass():
    graph = KnowledgeGraph([*knowledge_base(), *partner_intel()])
    evidence = items(graph, "T9004", "S9002")
    post = compute(graph, evidence, P)
    assert math.fsum([*post.probabilities, post.unknown]) == pytest.approx(1.0, abs=1e-12)
    for top in (1, 2, 3, 50):
        result = build_result(graph, "incident--x", evidence, P, top=top)
        shown = math.fsum(h.probability for h in result.hypotheses)
        assert shown + result.omitted.probability == pytest.approx(1.0, abs=1e-9)
        assert any(h.actor_id is None for h in result.hypotheses)
        assert len(result.hypotheses) + result.omitted.count == len(graph.actors) + 1
        assert [h.probability for h in result.hypotheses] == sorted(
            (h.probability for h in result.hypotheses), reverse=True
        )


def test_alias_merging_keeps_one_hypothesis_per_actor():
    graph = KnowledgeGraph(knowledge_base())
    a = index(graph, "APT-A")
    for name in ("alpha bear", "Alpha Panda", "G9001", "bear a", sid("intrusion-set", "APT-A")):
        assert graph.actor_index(name) == a, name
    actor = graph.actors[a]
    assert actor.name == "APT-A" and actor.external_id == "G9001"
    assert {"Alpha Bear", "Alpha Panda", "Bear A"} <= set(actor.aliases)
    assert actor.countries == ("XA",)  # the catalogue's claim travels with the merge
    assert graph.actor_index("Bravo Kitten") == index(graph, "APT-B")
    assert len([x for x in graph.actors if not x.name.startswith("Filler")]) == 3


def test_a_catalogue_link_never_merges_two_attack_groups():
    objects = knowledge_base()
    bridge = {
        "type": "intrusion-set",
        "spec_version": "2.1",
        "id": sid("intrusion-set", "bridge"),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "Bridge",
        "aliases": ["APT-B", "APT-C"],
    }
    graph = KnowledgeGraph([*objects, bridge])
    assert graph.actor_index("APT-B") != graph.actor_index("APT-C")
    assert graph.merge_conflicts


def test_results_are_deterministic_and_independent_of_input_order():
    objects = [*knowledge_base(), *partner_intel()]
    shuffled = list(objects)
    random.Random(3).shuffle(shuffled)
    results = []
    for objs in (objects, shuffled):
        graph = KnowledgeGraph(objs)
        result = build_result(graph, "incident--x", items(graph, "T9004", "S9002", "T9006"), P)
        results.append(result.to_dict())
    assert results[0] == results[1]
    assert results[0]["kb"]["digest"] == KnowledgeGraph(shuffled).digest


def test_resolution_by_id_attack_id_name_alias_and_revocation():
    objects = knowledge_base()
    old = {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": sid("attack-pattern", "old"),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z",
        "name": "Old Phish",
        "revoked": True,
        "external_references": [{"source_name": "mitre-attack", "external_id": "T9193"}],
    }
    revoked_by = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": sid("relationship", "revoked"),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z",
        "relationship_type": "revoked-by",
        "source_ref": old["id"],
        "target_ref": sid("attack-pattern", "Phish Attachment"),
    }
    graph = KnowledgeGraph([*objects, old, revoked_by])
    target = sid("attack-pattern", "Phish Attachment")
    for ref in (target, "T9002.001", "t9002.001", "phish attachment", "T9193", old["id"]):
        assert graph.resolve(ref) == target, ref
    assert graph.resolve("st", ("tool",)) == sid("tool", "SharedTool")
    assert graph.resolve("no such thing") is None


def test_sub_technique_weighs_for_actors_using_its_parent_or_siblings():
    graph = KnowledgeGraph(knowledge_base())
    sibling = items(graph, "T9002.002")  # nobody uses it; APT-A uses its sibling .001
    assert sibling[0].features[sid("attack-pattern", "Phish")] == P.parent_weight
    post = compute(graph, sibling, P)
    a, b = index(graph, "APT-A"), index(graph, "APT-B")
    assert post.probabilities[a] > post.probabilities[b]


def test_software_no_actor_uses_implies_its_techniques():
    graph = KnowledgeGraph(knowledge_base())
    found, _ = resolve_items(graph, ["S9004"], ME, P)  # OrphanWare: T9006, T9004
    implied = {i.key for i in found if i.implied_by}
    assert implied == {sid("attack-pattern", "Wipe"), sid("attack-pattern", "Remote Services")}
    used, _ = resolve_items(graph, ["S9001"], ME, P)  # AlphaRAT is tied to APT-A
    assert [i.implied_by for i in used] == [None]


def test_direct_observation_replaces_an_implied_one():
    graph = KnowledgeGraph(knowledge_base())
    raw = resolve_items(graph, ["S9004"], ME, P)[0]
    raw.append(technique_item(graph, sid("attack-pattern", "Wipe"), ME, P))
    merged = {i.key: i for i in merge(raw)}
    assert merged[sid("attack-pattern", "Wipe")].implied_by is None
    assert merged[sid("attack-pattern", "Remote Services")].implied_by is not None


def test_leader_is_the_first_of_the_ranking_ties_included():
    graph = KnowledgeGraph([*knowledge_base(), *partner_intel()])
    for refs in ((), ("T9001",), ("S9001",), ("S9002",), ("T9004", "S9002", "T9006")):
        post = compute(graph, items(graph, *refs), P)
        assert post.leader() == post.ranking()[0], refs
    tied = compute(graph, [], P)
    tied.unknown = max(tied.probabilities)  # a tie with the best actor: UNKNOWN leads
    assert tied.leader() is None and tied.ranking()[0] is None
