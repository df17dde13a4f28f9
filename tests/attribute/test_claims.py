"""Allegations: recording, grading, verdicts, and dissent shown side by side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accord.attribute.claims import add_claim, assess, claim_grade
from accord.attribute.dissent import views
from accord.attribute.grading import Grade
from accord.model.errors import InputError, NotFound
from accord.store import Store
from tests.attribute.conftest import (
    OTHER_PARTNER,
    RESPONDER,
    TECH,
    incident,
    knowledge_base,
    link,
    obj,
    observed_indicator,
    partner_intel,
    responder_identity,
    sid,
)

NODE = "identity--" + "5" * 8 + "-5555-4555-8555-" + "5" * 12


@pytest.fixture
def store(sqlite_store: Store) -> Iterator[Store]:
    sqlite_store.put_objects([*knowledge_base(), *partner_intel()], "kb", "test kb")
    sqlite_store.put_objects(
        [responder_identity(), responder_identity(OTHER_PARTNER, "B")], "user", "ids"
    )
    yield sqlite_store


def _incident_with(
    store: Store, *targets: dict, sources=(RESPONDER,), origins=("file",), **link_props
):
    inc = incident()
    store.put_objects([inc], "file", "incident")
    for creator, kind in zip(sources, origins, strict=True):
        links = [link(inc, t, creator=creator, **link_props) for t in targets]
        store.put_objects(links, kind, f"links from {creator[-4:]}")
    return inc


def test_an_anonymous_official_claim_without_evidence_is_unsupported(store):
    inc = _incident_with(store)
    claim = add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="Freedonia",
        claimant="Daily Ruritanian, citing anonymous officials",
        source_kind="anonymous-official",
        published="2026-05-10",
    )
    stored = store.get(claim)
    assert stored["relationship_type"] == "attributed-to"
    assert stored["source_ref"] == inc["id"]
    alleged = store.get(stored["target_ref"])
    assert alleged["type"] == "identity" and alleged["name"] == "Freedonia"
    assert stored["x_accord_claim"]["grade"] == "F6"
    (verdict,) = assess(store, claim, NODE).verdicts
    assert verdict.verdict == "unsupported"
    assert verdict.grade == "F6"
    assert verdict.actor == "Freedonia"
    assert any("technical evidence" in n for n in verdict.needed)
    assert any("named source" in n for n in verdict.needed)


def test_a_state_nothing_links_to_the_actors_is_unsupported_even_with_evidence(store):
    loader = observed_indicator("loader", "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']")
    domain = observed_indicator("c2", "[domain-name:value = 'c2.heron.example']")
    store.put_objects([loader, domain], "file", "observables")
    inc = _incident_with(store, loader, domain)
    claim = add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="Freedonia",
        claimant="anonymous officials",
        source_kind="anonymous-official",
        published="2026-05-10",
    )
    (verdict,) = assess(store, inc["id"], NODE).verdicts
    assert verdict.claim == claim
    assert verdict.verdict == "unsupported"  # HERON leads, and nothing ties it to a state
    assert "no evidence links Freedonia" in verdict.reason
    assert any("attributed-to" in n for n in verdict.needed)


def test_a_likely_actor_tied_to_another_state_contradicts_a_state_claim(store):
    alpha_rat = store.get(sid("malware", "AlphaRAT"))
    inc = _incident_with(
        store,
        alpha_rat,
        TECH["T9002.001"],
        TECH["T9003"],
        sources=(RESPONDER, OTHER_PARTNER),
        origins=("file", "peer"),
    )
    claim = add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="Freedonia",
        claimant="anonymous officials",
        source_kind="anonymous-official",
        published="2026-05-10",
    )
    (verdict,) = assess(store, claim, NODE).verdicts
    # APT-A is likely, and the catalogue ties it to XA, not to Freedonia.
    assert (verdict.verdict, verdict.grade) == ("contradicted", "F5")
    assert "APT-A" in verdict.reason


def test_strong_evidence_from_two_independent_sources_supports_the_actor(store):
    alpha_rat = store.get(sid("malware", "AlphaRAT"))
    inc = _incident_with(
        store,
        alpha_rat,
        TECH["T9002.001"],
        TECH["T9003"],
        sources=(RESPONDER, OTHER_PARTNER),
        origins=("file", "peer"),
    )
    claim = add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="alpha bear",  # an alias: the claim resolves to the merged hypothesis
        claimant="Vendor X",
        source_kind="vendor",
        published="2026-05-10",
        evidence=["S9001"],
    )
    assert store.get(claim)["target_ref"] == sid("intrusion-set", "Alpha Bear")
    (verdict,) = assess(store, claim, NODE).verdicts
    assert verdict.verdict == "supported", verdict
    assert verdict.grade == "F2"
    assert verdict.probability >= 0.55
    # The same evidence makes a claim about another actor contradicted.
    other = add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="APT-B",
        claimant="Blogger",
        source_kind="researcher",
        published="2026-05-11",
    )
    (against,) = assess(store, other, NODE).verdicts
    assert against.verdict == "contradicted"
    assert against.grade == "F5"


def test_single_source_evidence_is_at_most_consistent_but_unproven(store):
    alpha_rat = store.get(sid("malware", "AlphaRAT"))
    # Evidence a responder reports with high confidence (B1): strong enough to carry the
    # actor past "likely", so that only the lack of an independent source holds it back.
    inc = _incident_with(store, alpha_rat, TECH["T9002.001"], TECH["T9003"], confidence=85)
    claim = add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="APT-A",
        claimant="Ministry",
        source_kind="government",
        published="2026-05-10",
    )
    (verdict,) = assess(store, claim, NODE).verdicts
    assert verdict.probability >= 0.55
    assert verdict.verdict == "consistent-but-unproven"
    assert any("independent source" in n for n in verdict.needed)


def test_a_state_tied_to_the_likely_actor_by_the_catalogue(store):
    store.put_objects([obj("location", "Alphastan", RESPONDER, country="XA")], "user", "location")
    alpha_rat = store.get(sid("malware", "AlphaRAT"))
    inc = _incident_with(
        store,
        alpha_rat,
        TECH["T9002.001"],
        TECH["T9003"],
        sources=(RESPONDER, OTHER_PARTNER),
        origins=("file", "peer"),
    )
    claim = add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="Alphastan",
        claimant="Ministry",
        source_kind="government",
        published="2026-05-10",
    )
    assert store.get(claim)["target_ref"] == sid("location", "Alphastan")
    (verdict,) = assess(store, claim, NODE).verdicts
    assert verdict.verdict in ("supported", "consistent-but-unproven")
    assert verdict.probability > 0.45


def test_claimed_evidence_is_weighed_at_the_claimants_grade_but_the_claim_is_not(store):
    inc = _incident_with(store)
    add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="APT-C",
        claimant="anonymous",
        source_kind="anonymous-official",
        published="2026-05-10",
        evidence=["S9001"],
    )
    (verdict,) = assess(store, inc["id"], NODE).verdicts
    # The claimant's own evidence points at APT-A, not at the APT-C it names.
    assert verdict.verdict in ("unsupported", "contradicted")
    assert verdict.grade[0] == "F"


def test_grades_follow_the_kind_of_source():
    graded = responder_identity(reliability="B")
    assert claim_grade("anonymous-official", graded, False) == Grade("F", 6)
    assert claim_grade("vendor", graded, True) == Grade("B", 3)
    assert claim_grade("media", None, False) == Grade("F", 6)


def test_bad_claims_are_refused(store):
    inc = _incident_with(store)
    base = dict(incident=inc["id"], actor="X", claimant="Y", published="2026-01-01")
    with pytest.raises(InputError):
        add_claim(store, NODE, **{**base, "source_kind": "rumour"})
    with pytest.raises(InputError):
        add_claim(store, NODE, **{**base, "source_kind": "media", "published": "soon"})
    with pytest.raises(NotFound):
        add_claim(
            store,
            NODE,
            **{
                **base,
                "source_kind": "media",
                "incident": "incident--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12,
            },
        )
    with pytest.raises(InputError):
        assess(store, TECH["T9001"]["id"], NODE)


def test_dissent_is_shown_side_by_side(store):
    inc = _incident_with(store)
    claim = add_claim(
        store,
        NODE,
        incident=inc["id"],
        actor="Freedonia",
        claimant="anonymous officials",
        source_kind="anonymous-official",
        published="2026-05-10",
    )
    ministry = responder_identity("identity--" + "6" * 8 + "-6666-4666-8666-" + "6" * 12, None)
    denial = obj(
        "opinion",
        "denial",
        ministry["id"],
        opinion="strongly-disagree",
        explanation="A groundless charge; we propose a joint investigation.",
        object_refs=[claim],
    )
    store.put_objects([ministry, denial], "peer", "freedonia")
    assessment = assess(store, claim, NODE, save=True)
    (verdict,) = assessment.verdicts
    assert [o["position"] for o in verdict.opinions] == ["strongly-disagree"]
    positions = sorted(v.position for v in views(store, [claim]))
    assert positions == ["disagree", "strongly-disagree"]  # ours (saved) and theirs
