"""Public allegations ("X did it") recorded as STIX, and judged against the evidence.

**A claim** is a ``relationship`` of type ``attributed-to`` from the incident to the alleged
actor, created by this node (which records it; it does not make it). The alleged actor is
the knowledge-base actor the name resolves to, or else an existing identity or location of
that name, or else a new ``identity`` for it (a state such as "Freedonia" is not an actor
in the knowledge base; ``x_accord_alleged: true`` marks it). The claimant is an
``identity`` too (``x_accord_source_kind``). The relationship carries:

* ``x_accord_claimant_ref``: the claimant identity;
* ``x_accord_claim``: ``claimant``, ``source_kind``, ``published``, ``url``, ``evidence``
  (the references the claimant offers: ids, ATT&CK ids, names) and ``grade``;
* ``external_references``: the publication.

**Grade.** Reliability: an anonymous official is ``F`` (cannot be judged), always; any
other claimant is graded by its record, the claimant identity's ``x_accord_reliability``,
and is ``F`` without one. Credibility at recording: ``6`` when the claim links no evidence,
``3`` ("possibly true": it offers something to check) when it does. Assessment then grades
the credibility from the verdict.

**Verdicts** (``assess``), from the engine's posterior over actors, where a state's
probability is the sum over the actors the knowledge base ties to it (sponsor, country,
``attributed-to``):

* ``supported``: the alleged actor is at least "likely", on evidence of moderate or high
  confidence from at least two independent sources;
* ``consistent-but-unproven``: roughly even chance or better, without that support;
* ``unsupported``: no technical evidence, no link from the alleged actor to the actors the
  evidence concerns, or the alleged actor is "unlikely" or less;
* ``contradicted``: a different named actor is at least "likely" (for a state: one the
  knowledge base ties to another state), or the evidence cuts the alleged actor's
  probability a hundredfold below its prior.

The claim is never evidence for itself: ``attributed-to`` relationships are skipped by the
evidence collector; only the facts a claimant offers (a hash it says was found) are
weighed, at the claimant's grade.

**Handling (TLP).** Every object a claim creates names the incident (its id, and its name
in the description) and the alleged actor, so each is marked with the standard TLP 2.0
marking of the highest *effective* TLP of the two (the store's level, whether it came from
a marking, an import ``--tlp`` or the node default), the incident's other markings kept. An
assessment opinion quotes what the attribution of the incident rests on (evidence,
actors, links) plus the claim, so it is marked like the attribution note
(``marking.py``), raised to the claim's and the actors' levels. Either one quoting
unmarked data (which stays home) is marked TLP:RED rather than at an explicit level that
would let it out (``marking.tlp_markings``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from accord.attribute.collect import CLAIM_RELATIONSHIP, is_incident
from accord.attribute.dissent import View, views
from accord.attribute.engine import weight
from accord.attribute.grading import Grade, reliability_of
from accord.attribute.graph import ACTOR_TYPES, KnowledgeGraph, name_key
from accord.attribute.language import LIKELY, UNLIKELY_MAX, estimative, percent
from accord.attribute.marking import handling, other_markings, result_handling
from accord.attribute.params import DEFAULT_PARAMETERS, Parameters
from accord.attribute.report import (
    actor_rests_on,
    association_rests_on,
    confidence_of,
    steps_for,
)
from accord.attribute.service import Analysis, analyse_incident, claim_evidence
from accord.model.errors import InputError, NotFound
from accord.model.timestamps import format_millis, now_utc, parse_user_date
from accord.model.tlp import TLP, TLP2_IDS
from accord.store import Store

SOURCE_KINDS = (
    "anonymous-official",
    "government",
    "vendor",
    "researcher",
    "media",
    "self-claimed",
)
VERDICTS = ("supported", "consistent-but-unproven", "unsupported", "contradicted")
_IDENTITY_CLASS = {
    "anonymous-official": "unknown",
    "government": "organization",
    "vendor": "organization",
    "researcher": "individual",
    "media": "organization",
    "self-claimed": "group",
}
_OPINION = {
    "supported": "agree",
    "consistent-but-unproven": "neutral",
    "unsupported": "disagree",
    "contradicted": "strongly-disagree",
}
NAMESPACE = uuid.UUID("6f1d0c52-8f7e-5b43-a0c1-2e9d7b3a4c18")
EXCLUDED = 0.01


def _stable(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join(parts))}"


def claim_grade(source_kind: str, claimant: Mapping[str, Any] | None, has_evidence: bool) -> Grade:
    """The grade of an allegation when it is recorded (see the module docstring)."""
    letter = "F" if source_kind == "anonymous-official" else reliability_of(claimant)
    return Grade(letter, 3 if has_evidence else 6)


def _resolver(store: Store) -> KnowledgeGraph:
    """Actors, identities and locations, for resolving an alleged actor's name."""
    types = [*sorted(ACTOR_TYPES), "identity", "location"]
    return KnowledgeGraph(row.obj for row in store.iter_rows(types=types))


def add_claim(
    store: Store,
    node_identity_id: str,
    *,
    incident: str,
    actor: str,
    claimant: str,
    source_kind: str,
    published: str,
    url: str | None = None,
    evidence: Sequence[str] = (),
    now: datetime | None = None,
) -> str:
    """Record an allegation; return the id of its ``attributed-to`` relationship."""
    if source_kind not in SOURCE_KINDS:
        raise InputError("--source-kind", f"must be one of {', '.join(SOURCE_KINDS)}")
    if not claimant.strip():
        raise InputError("--claimant", "must name who makes the claim")
    if not actor.strip():
        raise InputError("--actor", "must name the alleged actor")
    target_incident = store.get(incident)
    if target_incident is None:
        raise NotFound(f"no incident {incident!r} in the store")
    if not is_incident(target_incident):
        raise InputError(incident, f"is a {target_incident.get('type')}, not an incident")
    try:
        published_ts = format_millis(parse_user_date(published))
    except ValueError as exc:
        raise InputError("--published", str(exc)) from None
    stamp = format_millis(now or now_utc())
    graph = _resolver(store)
    created: list[dict[str, Any]] = []
    target = graph.resolve(actor, ACTOR_TYPES) or graph.resolve(actor, ("identity", "location"))
    markings = _claim_markings(store, node_identity_id, target_incident, target)

    def base(kind: str, ident: str) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "type": kind,
            "spec_version": "2.1",
            "id": ident,
            "created": stamp,
            "modified": stamp,
            "created_by_ref": node_identity_id,
            "object_marking_refs": list(markings),
        }
        return obj

    if target is None:
        target = _stable("identity", "alleged", name_key(actor))
        if store.get(target) is None:
            alleged = base("identity", target)
            alleged.update(
                name=actor.strip(),
                identity_class="unknown",
                description="Named in an allegation; not an actor in the knowledge base.",
                x_accord_alleged=True,
            )
            created.append(alleged)
    claimant_id = _stable("identity", "claimant", source_kind, name_key(claimant))
    claimant_obj = store.get(claimant_id)
    if claimant_obj is None:
        claimant_obj = base("identity", claimant_id)
        claimant_obj.update(
            name=claimant.strip(),
            identity_class=_IDENTITY_CLASS[source_kind],
            x_accord_source_kind=source_kind,
        )
        created.append(claimant_obj)
    refs = [r.strip() for r in evidence if r.strip()]
    grade = claim_grade(source_kind, claimant_obj, bool(refs))
    actor_name = str((graph.get(target) or {}).get("name") or actor.strip())
    relationship = base("relationship", f"relationship--{uuid.uuid4()}")
    relationship.update(
        relationship_type=CLAIM_RELATIONSHIP,
        source_ref=incident,
        target_ref=target,
        description=f"Allegation by {claimant.strip()} ({source_kind}), published "
        f"{published_ts[:10]}: {target_incident.get('name', incident)} attributed to "
        f"{actor_name}. Recorded as a claim, not as evidence.",
        external_references=[
            {"source_name": claimant.strip(), **({"url": url} if url else {})},
        ],
        x_accord_claimant_ref=claimant_id,
        x_accord_claim={
            "claimant": claimant.strip(),
            "source_kind": source_kind,
            "published": published_ts,
            "url": url,
            "evidence": refs,
            "grade": str(grade),
            "alleged": actor.strip(),
        },
    )
    created.append(relationship)
    store.put_objects(created, "user", "claim add")
    return str(relationship["id"])


def _claim_markings(
    store: Store, node_identity_id: str, incident: Mapping[str, Any], target: str | None
) -> list[str]:
    """The markings of what a claim creates (see the module docstring). An identity this
    node created for an earlier allegation holds only the name the analyst typed: it does
    not raise the level (an allegation about a RED incident would otherwise make every
    later one naming the same state RED)."""
    quoted = [str(incident["id"])]
    target_obj = store.get(target) if target is not None else None
    if target is not None and target_obj is not None:
        ours = target_obj.get("created_by_ref") == node_identity_id
        if not (ours and target_obj.get("x_accord_alleged") is True):
            quoted.append(target)
    return handling(store, quoted).markings(other_markings(incident))


@dataclass
class Verdict:
    claim: str
    incident: str
    actor: str
    actor_ref: str
    claimant: str
    source_kind: str
    verdict: str
    grade: str
    probability: float
    estimative: str
    reason: str
    needed: list[str] = field(default_factory=list)
    opinions: list[dict[str, Any]] = field(default_factory=list)
    # The stored objects the verdict quotes or rests on beyond the attribution of the
    # incident (the claim, its claimant, the actors it sums or names, the profile entries
    # its steps suggest), and the level it must be handled at (with the attribution's).
    rests_on: list[str] = field(default_factory=list)
    tlp: str = ""


@dataclass
class Assessment:
    verdicts: list[Verdict]

    def to_dict(self) -> dict[str, Any]:
        return {"verdicts": [asdict(v) for v in self.verdicts]}


def linked_actors(graph: KnowledgeGraph, target: Mapping[str, Any] | None) -> set[int]:
    """The hypotheses an alleged actor stands for: itself, or the actors tied to a state."""
    if target is None:
        return set()
    ident = str(target.get("id"))
    if ident in graph.actor_of:
        return {graph.actor_of[ident]}
    names = {name_key(str(target.get("name", "")))}
    names.update(name_key(a) for a in target.get("aliases") or [] if isinstance(a, str))
    codes = {
        str(code).upper()
        for code in (target.get("country"), target.get("x_accord_country"))
        if isinstance(code, str)
    }
    names.discard("")
    found: set[int] = set()
    for actor in graph.actors:
        if {name_key(s) for s in actor.sponsors} & names or set(actor.countries) & codes:
            found.add(actor.index)
    return found


def _different_state(graph: KnowledgeGraph, actor: int, linked: set[int], is_actor: bool) -> bool:
    """Whether a likely actor contradicts the claim: any other actor for an actor claim; for
    a state claim, an actor the knowledge base ties to another state."""
    if actor in linked:
        return False
    if is_actor:
        return True
    entry = graph.actors[actor]
    return bool(entry.countries or entry.sponsors)


def judge(analysis: Analysis, claim: Mapping[str, Any], params: Parameters) -> Verdict:
    graph, post = analysis.graph, analysis.posterior
    target_ref = str(claim.get("target_ref"))
    target = graph.get(target_ref)
    data = claim.get("x_accord_claim") if isinstance(claim.get("x_accord_claim"), Mapping) else {}
    actor_name = str((target or {}).get("name") or data.get("alleged") or target_ref)
    is_actor = target_ref in graph.actor_of
    linked = linked_actors(graph, target)
    refs, source = claim_evidence(graph, claim)
    letter = source.grade.reliability
    p_x = sum(post.probabilities[a] for a in linked)
    prior_x = sum(post.prior[a] for a in linked)
    named = sorted(range(len(post.probabilities)), key=lambda a: -post.probabilities[a])[:5]
    rival = next(
        (
            a
            for a in named
            if post.probabilities[a] >= LIKELY and _different_state(graph, a, linked, is_actor)
        ),
        None,
    )
    best = max(linked, key=lambda a: post.probabilities[a]) if linked else None
    level, basis = "low", {"independent_sources": 0}
    if best is not None:
        level, basis = confidence_of(post.scored, [weight(s, best) for s in post.scored])
    needed: list[str] = []
    if not post.scored:
        verdict, digit = "unsupported", 6
        reason = "no technical evidence is linked to the incident"
        needed.append(
            "technical evidence linked to the incident: malware, infrastructure, techniques"
        )
    elif rival is not None:
        verdict, digit = "contradicted", 5
        rival_p = post.probabilities[rival]
        reason = (
            f"the evidence makes {graph.actors[rival].name} {estimative(rival_p)} "
            f"({percent(rival_p)})"
        )
        needed.append(
            f"evidence that ties {graph.actors[rival].name} to {actor_name}, or that explains "
            f"the evidence pointing to {graph.actors[rival].name} otherwise"
        )
    elif not linked:
        verdict, digit = "unsupported", (4 if refs else 6)
        reason = f"no evidence links {actor_name} to any actor in the knowledge base"
        needed.append(
            f"evidence that ties {actor_name} to an intrusion set (an actor attributed-to "
            f"{actor_name}, with its sources) and that ties that set to this incident"
        )
    elif prior_x > 0 and p_x < EXCLUDED and p_x / prior_x <= EXCLUDED:
        verdict, digit = "contradicted", 5
        reason = (
            f"the evidence cuts {actor_name} to {estimative(p_x)} ({percent(p_x)}), "
            "a hundredfold below its prior"
        )
    elif p_x >= LIKELY and level in ("moderate", "high") and basis["independent_sources"] >= 2:
        verdict, digit = "supported", 2
        reason = f"{actor_name} is {estimative(p_x)} ({percent(p_x)})"
    elif p_x >= UNLIKELY_MAX:
        verdict, digit = "consistent-but-unproven", 3
        reason = f"{actor_name} is {estimative(p_x)} ({percent(p_x)}), short of supported"
    else:
        verdict, digit = "unsupported", (4 if refs else 6)
        reason = f"{actor_name} is {estimative(p_x)} ({percent(p_x)})"
    rests_on = {str(claim.get("id")), target_ref}
    if isinstance(claim.get("x_accord_claimant_ref"), str):
        rests_on.add(str(claim["x_accord_claimant_ref"]))
    for actor in linked:
        rests_on.update(actor_rests_on(graph, post.scored, actor))
        if not is_actor:
            rests_on.update(association_rests_on(graph, actor))
    if rival is not None:
        rests_on.update(actor_rests_on(graph, post.scored, rival))
    if best is not None and verdict != "supported":
        for step in steps_for(graph, post, best, params):
            needed.append(step.text)
            rests_on.update(step.rests_on)
    if letter == "F":
        needed.append(
            "a named source with a record, or the evidence behind the allegation published "
            "so that it can be checked"
        )
    if post.scored and int(basis.get("independent_sources", 0)) < 2:
        needed.append(
            "corroboration from an independent source (another organisation, through another node)"
        )
    return Verdict(
        claim=str(claim.get("id")),
        incident=str(claim.get("source_ref")),
        actor=actor_name,
        actor_ref=target_ref,
        claimant=source.name,
        source_kind=str(data.get("source_kind") or "unknown"),
        verdict=verdict,
        grade=str(Grade(letter, digit)),
        probability=p_x,
        estimative=estimative(p_x),
        reason=reason,
        needed=needed,
        rests_on=sorted(rests_on),
    )


def _claims_of(analysis: Analysis, only: str | None) -> list[dict[str, Any]]:
    claims = analysis.collected.claims
    return [c for c in claims if only is None or c["id"] == only]


def assess(
    store: Store,
    ref: str,
    node_identity_id: str | None,
    *,
    params: Parameters = DEFAULT_PARAMETERS,
    save: bool = False,
    now: datetime | None = None,
) -> Assessment:
    """Verdicts on one claim (a claim id) or on every claim about an incident."""
    obj = store.get(ref)
    if obj is None:
        raise NotFound(f"no claim or incident {ref!r} in the store")
    only: str | None = None
    if obj.get("type") == "relationship" and obj.get("relationship_type") == CLAIM_RELATIONSHIP:
        incident, only = str(obj["source_ref"]), ref
    elif is_incident(obj):
        incident = ref
    else:
        raise InputError(ref, f"is a {obj.get('type')}, not a claim or an incident")
    analysis = analyse_incident(store, incident, node_identity_id, params=params)
    verdicts: list[Verdict] = []
    markings: dict[str, list[str]] = {}
    for claim in _claims_of(analysis, only):
        verdict = judge(analysis, claim, params)
        verdict.opinions = [v.as_dict() for v in _opinions(store, claim["id"])]
        held = result_handling(store, analysis.result, extra=verdict.rests_on)
        verdict.tlp = str(held.level)
        markings[verdict.claim] = held.markings(other_markings(analysis.collected.incident, claim))
        verdicts.append(verdict)
    if save and node_identity_id:
        save_assessment(store, verdicts, node_identity_id, now, markings=markings)
    return Assessment(verdicts)


def _opinions(store: Store, claim_id: str) -> Iterable[View]:
    return views(store, [claim_id])


def assessment_opinion(
    verdict: Verdict,
    identity_id: str,
    stamp: str,
    created: str | None = None,
    markings: Sequence[str] = (),
) -> dict[str, Any]:
    """This node's verdict as a STIX ``opinion`` on the claim (one per node and claim)."""
    opinion: dict[str, Any] = {
        "type": "opinion",
        "spec_version": "2.1",
        "id": _stable("opinion", "assessment", identity_id, verdict.claim),
        "created": created or stamp,
        "modified": stamp,
        "created_by_ref": identity_id,
        "opinion": _OPINION[verdict.verdict],
        "explanation": f"{verdict.verdict}: {verdict.reason}.",
        "object_refs": [verdict.claim],
        "x_accord_assessment": {k: v for k, v in asdict(verdict).items() if k not in ("opinions",)},
    }
    if markings:
        opinion["object_marking_refs"] = list(markings)
    return opinion


def save_assessment(
    store: Store,
    verdicts: Sequence[Verdict],
    identity_id: str,
    now: datetime | None = None,
    *,
    markings: Mapping[str, Sequence[str]],
) -> list[str]:
    """Store each verdict as this node's opinion, marked with ``markings[claim id]`` (see
    :func:`assess`); a verdict without an entry is marked TLP:RED, since what it rests on
    is unknown here. An unchanged verdict under unchanged markings stores nothing."""
    stamp = format_millis(now or now_utc())
    objects = []
    for verdict in verdicts:
        ident = _stable("opinion", "assessment", identity_id, verdict.claim)
        current = store.get(ident)
        marks = list(markings.get(verdict.claim) or [TLP2_IDS[TLP.RED]])
        opinion = assessment_opinion(
            verdict, identity_id, stamp, current["created"] if current else None, marks
        )
        if (
            current is not None
            and current.get("x_accord_assessment") == opinion.get("x_accord_assessment")
            and list(current.get("object_marking_refs") or []) == marks
        ):
            continue
        objects.append(opinion)
    if objects:
        store.put_objects(objects, "node", "assessment")
    return [o["id"] for o in objects]
