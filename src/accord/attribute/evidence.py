"""Evidence items: what was observed, who says so, and how much it can be trusted.

An item is one *fact* about the incident ("HeronLoader's dropper hash was found", "T1003
was used"), keyed so that the same fact reported twice is one item:

* the same fact from the **same source** (same identity, or same delivering node) counts
  once: its sources collapse into one;
* the same fact from **independent sources** (different identities *and* different nodes)
  is still one item, counted once, but more trustworthy: the probability that it is genuine
  is ``1 − Π(1 − r)`` over the independent sources, and its credibility becomes 1
  ("confirmed by other independent sources").

Two facts that happen to point at the same actor (a domain and an address of the same C2)
remain two items: they are different observations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from accord.attribute.grading import UNGRADED, Grade, better
from accord.attribute.graph import (
    ARTEFACT,
    SOFTWARE,
    TECHNIQUE,
    TIMING,
    VALUE,
    VICTIM,
    KnowledgeGraph,
)
from accord.attribute.params import SPOOFABLE_AT, Parameters

KINDS = (
    "technique",
    "software",
    "indicator",
    "infrastructure",
    "timing",
    "victimology",
    "artefact",
)
KIND_CHANNEL = {
    "technique": TECHNIQUE,
    "software": SOFTWARE,
    "indicator": VALUE,
    "infrastructure": VALUE,
    "timing": TIMING,
    "victimology": VICTIM,
    "artefact": ARTEFACT,
}


@dataclass(frozen=True, slots=True)
class Source:
    """Who reported an item, through which node, on which object, at which grade."""

    identity: str | None
    name: str
    origin: str
    grade: Grade = UNGRADED
    ref: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "name": self.name,
            "origin": self.origin,
            "grade": str(self.grade),
            "ref": self.ref,
        }


@dataclass
class EvidenceItem:
    """One fact about the incident, resolved against the knowledge graph.

    ``features`` maps knowledge-graph feature keys to how strongly this fact shows them
    (1 for the feature itself, less for a parent technique or an implied one).
    ``spoofability`` is the probability that such a fact was planted (see ``params``).
    ``rests_on`` are the stored objects besides ``ref`` that the item was resolved to or
    through (the knowledge base's technique or software, its parent technique and the
    ``subtechnique-of`` link, the software an implied technique comes from and the ``uses``
    link, what an infrastructure ``consists-of``): the item's label and features come from
    them, so the result's TLP counts them (``marking.py``).
    """

    key: str
    kind: str
    label: str
    ref: str
    features: dict[str, float]
    spoofability: float
    sources: list[Source] = field(default_factory=list)
    implied_by: str | None = None
    period: tuple[int | None, int | None] | None = None
    channel: str = ""
    subkind: str = ""
    independent_sources: int = 0
    grade: Grade = UNGRADED
    source_reliability: float = 0.0
    rests_on: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.channel:
            self.channel = KIND_CHANNEL[self.kind]

    @property
    def spoofable(self) -> bool:
        return self.spoofability >= SPOOFABLE_AT

    @property
    def corroborated(self) -> bool:
        return self.independent_sources >= 2

    def genuineness(self, params: Parameters) -> float:
        """Probability that the item reflects the intruder: sources, planting, inference."""
        value = self.source_reliability * (1.0 - self.spoofability)
        if self.implied_by is not None:
            value *= params.implied_weight
        return value


def independent_groups(sources: Iterable[Source]) -> list[list[Source]]:
    """Sources partitioned so that two sources share a group when they share an identity
    or a delivering node: only different identities on different nodes are independent."""
    groups: list[list[Source]] = []
    for source in sources:
        joined = [
            g
            for g in groups
            if any(
                (s.identity is not None and s.identity == source.identity)
                or s.origin == source.origin
                for s in g
            )
        ]
        merged = [source]
        for g in joined:
            merged.extend(g)
            groups.remove(g)
        groups.append(merged)
    return groups


def finalise(item: EvidenceItem) -> EvidenceItem:
    """Compute grade, independence and source reliability from the item's sources."""
    unique: dict[tuple[str | None, str, str], Source] = {}
    for source in item.sources:
        key = (source.identity, source.origin, str(source.grade))
        unique.setdefault(key, source)
    sources = sorted(unique.values(), key=lambda s: (s.identity or "", s.origin, str(s.grade)))
    if not sources:
        sources = [Source(None, "unknown", "unknown")]
    groups = independent_groups(sources)
    doubt = 1.0
    best = sources[0].grade
    for group in groups:
        doubt *= 1.0 - max(s.grade.factor for s in group)
        for s in group:
            best = better(best, s.grade)
    item.sources = sources
    item.independent_sources = len(groups)
    if len(groups) >= 2:
        best = Grade(best.reliability, 1)
    item.grade = best
    item.source_reliability = 1.0 - doubt
    return item


def merge(items: Iterable[EvidenceItem]) -> list[EvidenceItem]:
    """One item per fact; a directly observed fact absorbs the same fact when only implied."""
    by_key: dict[str, EvidenceItem] = {}
    for item in items:
        current = by_key.get(item.key)
        if current is None:
            by_key[item.key] = EvidenceItem(
                key=item.key,
                kind=item.kind,
                label=item.label,
                ref=item.ref,
                features=dict(item.features),
                spoofability=item.spoofability,
                sources=list(item.sources),
                implied_by=item.implied_by,
                period=item.period,
                channel=item.channel,
                subkind=item.subkind,
                rests_on=set(item.rests_on),
            )
            continue
        if current.implied_by is not None and item.implied_by is None:
            current.implied_by = None
            current.ref, current.label = item.ref, item.label
            current.sources = list(item.sources)
            current.rests_on = set(item.rests_on)
            continue
        if item.implied_by is not None and current.implied_by is None:
            continue
        current.sources.extend(item.sources)
        current.rests_on.update(item.rests_on)
        for feature, weight in item.features.items():
            if weight > current.features.get(feature, 0.0):
                current.features[feature] = weight
        current.spoofability = min(current.spoofability, item.spoofability)
    return [finalise(by_key[k]) for k in sorted(by_key)]


# --- building items from references (used by the collector and by the harness) -----------


def technique_item(
    graph: KnowledgeGraph, kb_id: str, source: Source, params: Parameters, ref: str = ""
) -> EvidenceItem:
    """A technique; a sub-technique also shows its parent, at ``parent_weight``."""
    features = {kb_id: 1.0}
    rests_on = {kb_id}
    parent = graph.parent_of.get(kb_id)
    if parent:
        features[parent] = params.parent_weight
        rests_on.add(parent)
        if kb_id in graph.parent_rel:
            rests_on.add(graph.parent_rel[kb_id])
    return EvidenceItem(
        key=kb_id,
        kind="technique",
        label=graph.label(kb_id),
        ref=ref or kb_id,
        features=features,
        spoofability=params.spoofability_of("technique"),
        sources=[source],
        rests_on=rests_on,
    )


def software_items(
    graph: KnowledgeGraph, kb_id: str, source: Source, params: Parameters, ref: str = ""
) -> list[EvidenceItem]:
    """A malware or tool, and, when no actor is tied to it, its techniques as *implied* items.

    When actors are tied to the software, the software item carries the signal and its
    techniques would only count it again (they follow from the software whoever uses it);
    the actors' profiles already include their software's techniques (graph.py). When no
    actor is tied to it, its known techniques are the only bridge to actors, and they are
    added at ``implied_weight``.
    """
    obj = graph.get(kb_id) or {}
    kind = "malware" if obj.get("type") == "malware" else "tool"
    items = [
        EvidenceItem(
            key=kb_id,
            kind="software",
            label=graph.label(kb_id),
            ref=ref or kb_id,
            features={kb_id: 1.0},
            spoofability=params.spoofability_of(kind),
            sources=[source],
            subkind=kind,
            rests_on={kb_id},
        )
    ]
    if kb_id in graph.postings:
        return items
    for technique in sorted(set(graph.software_techniques.get(kb_id, ()))):
        implied = technique_item(graph, technique, source, params, ref=technique)
        implied.implied_by = kb_id
        implied.rests_on.update((kb_id, *graph.technique_links(kb_id, technique)))
        implied.label = f"{implied.label} (implied by {graph.label(kb_id)})"
        items.append(implied)
    return items


def unknown_software_item(name: str, source: Source, params: Parameters, ref: str) -> EvidenceItem:
    """Software the knowledge base does not know: it can only favour an untracked actor."""
    key = f"software:{' '.join(name.casefold().split())}"
    return EvidenceItem(
        key=key,
        kind="software",
        label=f"{name} (not in the knowledge base)",
        ref=ref,
        features={key: 1.0},
        spoofability=params.spoofability_of("malware"),
        sources=[source],
    )


def resolve_items(
    graph: KnowledgeGraph,
    refs: Iterable[str],
    source: Source,
    params: Parameters,
) -> tuple[list[EvidenceItem], list[str]]:
    """Items for ATT&CK ids, STIX ids or names of techniques and software (harness, CLI).

    Returns the items and the references that resolved to nothing.
    """
    items: list[EvidenceItem] = []
    unresolved: list[str] = []
    for ref in refs:
        target = graph.resolve(ref, ("attack-pattern", "malware", "tool"))
        if target is None:
            unresolved.append(ref)
        elif target.startswith("attack-pattern--"):
            items.append(technique_item(graph, target, source, params))
        else:
            items.extend(software_items(graph, target, source, params))
    return items, unresolved


def artefact_item(
    kind: str,
    value: str,
    source: Source,
    params: Parameters,
    *,
    country: str | None = None,
    ref: str = "",
) -> EvidenceItem:
    """A language, time-zone or string artefact: always recorded as spoofable."""
    from accord.attribute.graph import slug

    features = {f"artefact:{slug(kind)}:{slug(value)}": 1.0}
    if country:
        features[f"origin:{country.strip().upper()}"] = 1.0
    label = f"{kind} artefact {value!r}" + (f" (points to {country.upper()})" if country else "")
    return EvidenceItem(
        key=f"artefact:{slug(kind)}:{slug(value)}:{(country or '').upper()}",
        kind="artefact",
        label=label,
        ref=ref or f"artefact:{slug(kind)}:{slug(value)}",
        features=features,
        spoofability=params.spoofability_of("artefact"),
        sources=[source],
    )


def describe_features(graph: KnowledgeGraph, features: Mapping[str, float]) -> str:
    return ", ".join(graph.label(f) for f in sorted(features))
