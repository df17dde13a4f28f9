"""The TLP level of an attribution: the most restrictive of everything it shows.

A result quotes its evidence (indicator values, labels, sources) and names the objects
that carried it. If it were marked like the incident alone, a GREEN incident with one RED
indicator linked to it would carry that indicator to every GREEN peer inside the note or
the report. So the stored note, the HTML report and any other rendering take the maximum
of the effective TLP of the incident, of every evidence object and of every object that
reported it (relationship, sighting, report): TLP's "high-water mark". Objects the store
does not hold (knowledge-base names resolved by alias, say) add nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from accord.attribute.result import AttributionResult
from accord.model.tlp import TLP, effective_tlp, marking_definition, standard_marking
from accord.store import Store


def cited_ids(result: AttributionResult) -> Iterator[str]:
    """Every STIX id the result shows or relies on."""
    yield result.incident
    for e in result.evidence:
        yield e.ref
        for source in e.sources:
            if source.get("ref"):
                yield str(source["ref"])
    for h in result.hypotheses:
        for w in (*h.evidence_for, *h.evidence_against):
            yield w.ref
    for u in result.unresolved:
        if u.get("ref"):
            yield str(u["ref"])


def result_tlp(
    store: Store, result: AttributionResult, overlay: Sequence[Mapping[str, Any]] = ()
) -> TLP:
    """The highest effective TLP among the objects the result cites: the stored ones, and
    those of an ``overlay`` (a bundle attributed without being imported), which take their
    own marking or, unmarked, the node's default, as they would on import."""
    ids = {i for i in cited_ids(result) if "--" in i}
    levels = [
        effective_tlp(obj, None, store.node_default_tlp) for obj in overlay if obj["id"] in ids
    ]
    levels += [row.tlp for row in store.get_many(sorted(ids)).values()]
    return max(levels, default=TLP.CLEAR)


def result_markings(result: AttributionResult, incident: Mapping[str, Any]) -> list[str]:
    """``object_marking_refs`` for a STIX object that carries the result: the result's TLP
    in place of the incident's, the incident's other markings (statements…) kept."""
    others = [m for m in incident.get("object_marking_refs") or [] if standard_marking(m) is None]
    if not result.tlp:
        return list(incident.get("object_marking_refs") or [])
    return [marking_definition(TLP.parse(result.tlp))["id"], *others]
