"""The shipped example case, on the real ATT&CK + MISP knowledge base: GREY HERON leads on
its private loader and C2, the common techniques barely matter, no state is named, and
the anonymous-official allegation against "Freedonia" is unsupported (F6)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.store import Store

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("accord.ingest.kb.update") is None
    or importlib.util.find_spec("accord.examples") is None,
    reason="needs the knowledge-base loaders and the example case",
)
NODE = "identity--" + "7" * 8 + "-7777-4777-8777-" + "7" * 12


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    from accord.examples import CSRO_BUNDLE, PARTNER_BUNDLE
    from accord.ingest.kb.update import update_actors, update_attack

    path = tmp_path_factory.mktemp("example") / "store.db"
    st = Store.open(f"sqlite:///{path}")
    update_attack(st)
    update_actors(st)
    st.put_objects(
        json.loads(Path(PARTNER_BUNDLE).read_text("utf-8"))["objects"], "peer", "partner"
    )
    st.put_objects(json.loads(Path(CSRO_BUNDLE).read_text("utf-8"))["objects"], "file", "csro")
    try:
        yield st
    finally:
        st.close()


def test_grey_heron_leads_and_common_techniques_barely_matter(store: Store) -> None:
    from accord.attribute.service import attribute_incident
    from accord.examples import GREY_HERON_ID, INCIDENT_ID

    result = attribute_incident(store, INCIDENT_ID, NODE, save=False)
    leader = result.hypotheses[0]
    assert leader.actor_id == GREY_HERON_ID
    assert leader.probability > result.unknown_probability
    assert result.kb.actors > 500 and "attack" in result.kb.version
    by_kind: dict[str, list[float]] = {}
    for e in result.evidence:
        by_kind.setdefault(e.kind, []).append(e.diagnosticity)
    assert max(by_kind["technique"]) < min(by_kind["indicator"]) / 3
    assert "No state is named" in result.summary
    assert "Freedonia" not in result.summary


def test_the_freedonia_allegation_is_unsupported(store: Store) -> None:
    from accord.attribute.claims import add_claim, assess
    from accord.examples import ALLEGED_STATE, INCIDENT_ID

    claim = add_claim(
        store,
        NODE,
        incident=INCIDENT_ID,
        actor=ALLEGED_STATE,
        claimant="a newspaper, citing anonymous officials",
        source_kind="anonymous-official",
        published="2026-05-12",
    )
    (verdict,) = assess(store, claim, NODE).verdicts
    assert (verdict.verdict, verdict.grade) == ("unsupported", "F6")
    assert verdict.needed
