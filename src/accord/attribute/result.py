"""The attribution result: one typed document that every renderer and the STIX note share.

Field names are a contract (``accord attribute --json``, the stored note, peers that read
it): ``incident``, ``kb``, ``verdict``, ``summary``, ``unknown_probability``,
``hypotheses`` (UNKNOWN included, with ``actor_id: null``), ``evidence``, ``ach`` and
``next_steps`` are required by the issue; the others add what a reviewer needs to
recompute the result (parameters, versions, the digest of the graph) and ``tlp``, the
level the result must be handled at.

What the result rests on is recorded with it, typed, so that its TLP can be computed from
the document alone (``marking.cited_ids``): ``members`` (the merged actor objects whose
names and aliases a hypothesis shows), ``rests_on`` on each weight of evidence (the stored
knowledge objects, relationships included, that tie that evidence to that actor), on each
hypothesis (the same over every weighed item, listed or not: its probability rests on all
of them), on each evidence item (what it was resolved to) and on the result (what the
summary and the next steps quote beyond those).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

ATTRIBUTED = "attributed"
NOT_ATTRIBUTED = "not-attributed"
UNKNOWN_NAME = "UNKNOWN"
METHOD = "accord-attribution/1"


@dataclass(frozen=True)
class WeightedRef:
    """An evidence item's weight for or against one hypothesis, in bans (log10).

    ``rests_on``: the stored objects of the actor's profile that the item matched (the
    member or campaign, the ``uses``/``indicates`` relationships, the indicator or software
    at the end), sorted. Empty when the item matched nothing of the profile (its weight
    then comes from the population alone) and for UNKNOWN, whose weights are margins over
    the named hypotheses'.
    """

    ref: str
    weight: float
    label: str = ""
    rests_on: list[str] = field(default_factory=list)


@dataclass
class HypothesisResult:
    actor_id: str | None
    name: str
    aliases: list[str]
    probability: float
    estimative: str
    confidence: str
    prior: float
    external_id: str | None = None
    evidence_for: list[WeightedRef] = field(default_factory=list)
    evidence_against: list[WeightedRef] = field(default_factory=list)
    confidence_basis: dict[str, Any] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    rests_on: list[str] = field(default_factory=list)


@dataclass
class EvidenceResult:
    ref: str
    kind: str
    label: str
    source: str
    grade: str
    spoofable: bool
    diagnosticity: float
    spoofability: float
    genuineness: float
    corroborated: bool
    independent_sources: int
    sources: list[dict[str, Any]] = field(default_factory=list)
    implied_by: str | None = None
    rests_on: list[str] = field(default_factory=list)


@dataclass
class AchMatrix:
    """Analysis of Competing Hypotheses: one row per evidence item, one column per
    hypothesis; cells CC (very consistent), C, N (neutral), I, II (very inconsistent)."""

    hypotheses: list[str]
    evidence: list[str]
    matrix: list[list[str]]


@dataclass
class KbInfo:
    actors: int
    version: str
    versions: dict[str, str] = field(default_factory=dict)
    digest: str = ""


@dataclass
class Omitted:
    """Hypotheses cut by ``--top``: how many, and their total probability."""

    count: int = 0
    probability: float = 0.0


@dataclass
class AttributionResult:
    incident: str
    incident_name: str | None
    kb: KbInfo
    verdict: str
    summary: str
    confidence: str
    unknown_probability: float
    hypotheses: list[HypothesisResult]
    omitted: Omitted
    evidence: list[EvidenceResult]
    ach: AchMatrix
    next_steps: list[str]
    unresolved: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    method: str = METHOD
    # The TLP of the result itself (``TLP:RED``…): the most restrictive level of what it
    # cites (see ``marking.py``); empty for a result computed without a store.
    tlp: str = ""
    # Stored objects the summary and the next steps quote beyond the hypotheses and the
    # evidence (an actor's sponsors, the profile entries a next step suggests looking for).
    rests_on: list[str] = field(default_factory=list)

    @property
    def leader(self) -> HypothesisResult:
        return self.hypotheses[0]

    def top_named(self) -> HypothesisResult | None:
        return next((h for h in self.hypotheses if h.actor_id is not None), None)

    def hypothesis(self, actor_id: str | None) -> HypothesisResult | None:
        return next((h for h in self.hypotheses if h.actor_id == actor_id), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttributionResult:
        """Rebuild a result from its JSON form (a stored note, a peer's note). Keys this
        version does not know (a newer peer's) are ignored rather than refused."""

        def refs(items: list[dict[str, Any]]) -> list[WeightedRef]:
            return [WeightedRef(**_known(WeightedRef, i)) for i in items]

        hypotheses = [
            HypothesisResult(
                **{
                    **_known(HypothesisResult, h),
                    "evidence_for": refs(h.get("evidence_for", [])),
                    "evidence_against": refs(h.get("evidence_against", [])),
                }
            )
            for h in data["hypotheses"]
        ]
        return cls(
            incident=data["incident"],
            incident_name=data.get("incident_name"),
            kb=KbInfo(**data["kb"]),
            verdict=data["verdict"],
            summary=data["summary"],
            confidence=data.get("confidence", "low"),
            unknown_probability=data["unknown_probability"],
            hypotheses=hypotheses,
            omitted=Omitted(**data.get("omitted", {})),
            evidence=[
                EvidenceResult(**_known(EvidenceResult, e)) for e in data.get("evidence", [])
            ],
            ach=AchMatrix(**data["ach"]),
            next_steps=list(data.get("next_steps", [])),
            unresolved=list(data.get("unresolved", [])),
            parameters=dict(data.get("parameters", {})),
            method=data.get("method", METHOD),
            tlp=data.get("tlp", ""),
            rests_on=list(data.get("rests_on", [])),
        )


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` restricted to the fields of dataclass ``cls``."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
