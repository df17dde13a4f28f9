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

from collections.abc import Iterator

from accord.attribute.result import AttributionResult
from accord.model.tlp import TLP, marking_definition
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


def result_tlp(store: Store, result: AttributionResult) -> TLP:
    """The highest effective TLP among the stored objects the result cites."""
    ids = sorted({i for i in cited_ids(result) if "--" in i})
    rows = store.get_many(ids)
    return max((row.tlp for row in rows.values()), default=TLP.CLEAR)


def result_markings(store: Store, result: AttributionResult) -> list[str]:
    """``object_marking_refs`` for a STIX object that carries the result."""
    return [marking_definition(result_tlp(store, result))["id"]]
