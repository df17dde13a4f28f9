"""From a posterior to the result document: ranking, weights, ACH, confidence, verdict, text.

Everything here is derived from the engine's numbers; nothing changes a probability. The
verdict is ``attributed`` only when the top *named* hypothesis reaches "likely" (p ≥ 0.55)
*and* at least one non-spoofable item supports it: spoofable traces alone (language, time
zone, strings) never name an actor, whatever their number.

Every name and every weight the document shows is recorded with the stored objects it
comes from (``rests_on``, see ``result.py``): the result's TLP is the high-water mark of
all of them, and it can only be computed if the document says what they are.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from accord.attribute.engine import (
    Posterior,
    ScoredItem,
    compute,
    score_item,
    shifted,
    weight,
)
from accord.attribute.evidence import EvidenceItem, Source, independent_groups
from accord.attribute.grading import Grade
from accord.attribute.graph import (
    PERIOD,
    SOFTWARE,
    SPONSORS,
    TECHNIQUE,
    TIMING,
    VALUE,
    VALUE_CLASS,
    Actor,
    KnowledgeGraph,
    channel_of,
)
from accord.attribute.language import (
    LIKELY,
    estimative,
    mixes_likelihood_and_confidence,
    percent,
    statement,
)
from accord.attribute.params import Parameters
from accord.attribute.result import (
    ATTRIBUTED,
    NOT_ATTRIBUTED,
    UNKNOWN_NAME,
    AchMatrix,
    AttributionResult,
    EvidenceResult,
    HypothesisResult,
    KbInfo,
    Omitted,
    WeightedRef,
)

SUPPORT = 0.15  # bans: an item at least ×1.4 more expected under the hypothesis supports it
STRONG = 1.0  # bans: ×10
NEUTRAL = 0.05  # bans: below this an item is listed neither for nor against
MAX_LISTED = 12
ACH_COLUMNS = 6
CANDIDATES = 12
MIN_CHANGE = 0.02  # a next step must move a probability by at least two points
UNKNOWN_LABEL = "an actor outside the knowledge base (UNKNOWN)"


def ach_cell(w: float) -> str:
    """ACH consistency from a weight in bans."""
    if w >= STRONG:
        return "CC"
    if w >= SUPPORT:
        return "C"
    if w <= -STRONG:
        return "II"
    if w <= -SUPPORT:
        return "I"
    return "N"


@dataclass
class _Hyp:
    actor: Actor | None
    probability: float
    prior: float
    weights: list[float]

    @property
    def name(self) -> str:
        return self.actor.name if self.actor is not None else UNKNOWN_NAME

    @property
    def index(self) -> int | None:
        return self.actor.index if self.actor is not None else None


def confidence_of(scored: Sequence[ScoredItem], weights: Sequence[float]) -> tuple[str, dict]:
    """Low / moderate / high from the quantity, quality, independence and spoofability of
    the items that support a hypothesis (weight ≥ SUPPORT)."""
    support = [s for s, w in zip(scored, weights, strict=True) if w >= SUPPORT]
    solid = [s for s in support if not s.item.spoofable]
    sources = [src for s in solid for src in s.item.sources]
    independent = len(independent_groups(sources)) if sources else 0
    quality = sum(s.item.grade.factor for s in solid) / len(solid) if solid else 0.0
    basis = {
        "supporting_items": len(support),
        "non_spoofable_items": len(solid),
        "spoofable_items": len(support) - len(solid),
        "independent_sources": independent,
        "mean_source_quality": round(quality, 3),
    }
    if len(solid) >= 3 and independent >= 2 and quality >= 0.6:
        level = "high"
    elif (len(solid) >= 2 and quality >= 0.4) or (len(solid) >= 1 and independent >= 2):
        level = "moderate"
    else:
        level = "low"
    return level, basis


def _select(posterior: Posterior, graph: KnowledgeGraph, top: int) -> tuple[list, Omitted]:
    """The top hypotheses (UNKNOWN always among them) and what ``--top`` cut."""
    top = max(top, 1)
    probs = posterior.probabilities
    best = heapq.nsmallest(top, range(len(probs)), key=lambda a: (-probs[a], a))
    chosen: list[tuple[float, int, int | None]] = [(-probs[a], a, a) for a in best]
    chosen.append((-posterior.unknown, -1, None))
    chosen.sort(key=lambda t: (t[0], t[1]))
    shown = chosen[:top]
    if all(h is not None for _, _, h in shown):
        shown.append((-posterior.unknown, -1, None))
    kept = [h for _, _, h in shown]
    mass = sum(posterior.probability(h) for h in kept)
    return kept, Omitted(count=len(graph.actors) + 1 - len(kept), probability=max(1.0 - mass, 0.0))


def _short(label: str, limit: int = 60) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _feature_label(graph: KnowledgeGraph, feature: str) -> str:
    if feature.startswith("value:"):
        _, kind, value = feature.split(":", 2)
        return f"{kind} {value}"
    return graph.label(feature)


def _candidate_item(graph: KnowledgeGraph, feature: str, params: Parameters) -> EvidenceItem:
    channel = channel_of(feature)
    kind = {TECHNIQUE: "technique", SOFTWARE: "software"}.get(channel, "indicator")
    subkind = VALUE_CLASS.get(feature.split(":")[1], "") if feature.startswith("value:") else ""
    item = EvidenceItem(
        key=feature,
        kind=kind,
        label=_feature_label(graph, feature),
        ref=feature,
        features={feature: 1.0},
        spoofability=params.spoofability_of(subkind or kind),
        sources=[Source(None, "hypothetical", "local", Grade("B", 6))],
        subkind=subkind,
    )
    item.source_reliability = item.sources[0].grade.factor
    return item


def _name(graph: KnowledgeGraph, actor: int | None) -> str:
    return UNKNOWN_NAME if actor is None else graph.actors[actor].name


@dataclass(frozen=True)
class Step:
    """A next step, with the stored objects it quotes: the actors it names (their merged
    members) and the profile entry it suggests looking for (with the links that tie it to
    the actor), so that a result or an opinion listing it is marked at least as high."""

    text: str
    rests_on: frozenset[str] = frozenset()


def link_rests_on(graph: KnowledgeGraph, s: ScoredItem, actor: int) -> set[str]:
    """The stored objects that tie item ``s`` to ``actor``: every path of every profile
    entry the item matched (and, for timing, what dated the actor). Empty when the item
    matched nothing of the profile: its weight then comes from the population alone."""
    if actor not in s.matches:
        return set()
    trace = graph.trace(actor)
    found: set[str] = set()
    for feature in s.item.features:
        found.update(trace.get(feature, ()))
    if s.item.channel == TIMING:
        found.update(trace.get(PERIOD, ()))
    return found


def actor_rests_on(graph: KnowledgeGraph, scored: Iterable[ScoredItem], actor: int) -> set[str]:
    """What a hypothesis' name and probability rest on: its merged members (whose names
    and aliases it shows) and the links of every weighed item to its profile."""
    found = set(graph.actors[actor].members)
    for s in scored:
        found.update(link_rests_on(graph, s, actor))
    return found


def association_rests_on(graph: KnowledgeGraph, actor: int) -> set[str]:
    """What ties an actor to its sponsors and countries (named by a summary, summed over by
    a state claim): the ``attributed-to`` links, sponsors and catalogue entries."""
    trace = graph.trace(actor)
    found = set(trace.get(SPONSORS, ()))
    for code in graph.actors[actor].countries:
        found.update(trace.get(f"origin:{code}", ()))
    return found


def discriminating_steps(
    graph: KnowledgeGraph,
    posterior: Posterior,
    actors: Sequence[int],
    observed: set[str],
    params: Parameters,
    limit: int = 5,
) -> list[Step]:
    """Unobserved features of ``actors`` that would most change the assessment, ranked by
    how much finding them would move that actor's or the leader's probability (exact,
    from the current posterior). Specific features (fewest actors) are tried first."""
    leader = posterior.leader()
    probs, unknown = posterior.probabilities, posterior.unknown
    masses: dict[frozenset[int], float] = {}
    found: list[tuple[float, str, int, float, float, float, float]] = []
    seen: set[str] = set()
    for actor in actors:
        features = [
            f
            for f in graph.actors[actor].profile
            if f not in observed
            and f not in seen
            and channel_of(f) in (TECHNIQUE, SOFTWARE, VALUE)
            and not f.startswith(("indicator--", "infrastructure--"))
        ]
        features.sort(key=lambda f: (len(graph.postings.get(f, ())), f))
        for feature in features[:CANDIDATES]:
            seen.add(feature)
            s = score_item(graph, _candidate_item(graph, feature, params), params)
            if s.population not in masses:
                masses[s.population] = sum(probs[a] for a in s.population)
            new_actor, new_leader = shifted(
                s, probs, unknown, masses[s.population], [actor, leader]
            )
            old_actor, old_leader = probs[actor], posterior.probability(leader)
            change = max(abs(new_actor - old_actor), abs(new_leader - old_leader))
            if change >= MIN_CHANGE:
                found.append((change, feature, actor, old_actor, new_actor, old_leader, new_leader))
    found.sort(key=lambda t: (-t[0], t[1], t[2]))
    steps: list[Step] = []
    for _, feature, actor, old_a, new_a, old_l, new_l in found[:limit]:
        rests_on = set(graph.trace(actor).get(feature, ()))
        rests_on.update(graph.actors[actor].members)
        label = _feature_label(graph, feature)
        channel = channel_of(feature)
        if channel == SOFTWARE:
            action = f"look for {label} on the affected hosts"
        elif channel == TECHNIQUE:
            action = f"check the affected systems for technique {label}"
        else:
            action = f"search the network and host logs for {label}"
        text = f"{action}: if found, {_name(graph, actor)} would go from {percent(old_a)} to "
        text += percent(new_a)
        if leader != actor:
            text += f" and {_name(graph, leader)} from {percent(old_l)} to {percent(new_l)}"
            if leader is not None:
                rests_on.update(graph.actors[leader].members)
        steps.append(Step(text, frozenset(rests_on)))
    return steps


def steps_for(
    graph: KnowledgeGraph,
    posterior: Posterior,
    actor: int,
    params: Parameters,
    observed: set[str] | None = None,
) -> list[Step]:
    """What to look for that would most change ``actor``'s standing."""
    if observed is None:
        observed = {f for s in posterior.scored for f in s.item.features}
    return discriminating_steps(graph, posterior, [actor], observed, params, limit=3)


def _next_steps(
    graph: KnowledgeGraph,
    posterior: Posterior,
    hyps: Sequence[_Hyp],
    items: Sequence[EvidenceItem],
    params: Parameters,
    confidence_basis: Mapping[str, int | float],
) -> list[Step]:
    """The evidence that would most change the assessment, most decisive first."""
    steps: list[Step] = []
    if not posterior.scored:
        steps.append(
            Step(
                "link the incident's observed techniques, malware, indicators and "
                "infrastructure to it (STIX relationships or object_refs): there is no "
                "evidence to weigh yet"
            )
        )
    first = hyps[0]
    named = [h.index for h in hyps if h.index is not None][:3]
    observed = {f for item in items for f in item.features}
    steps.extend(discriminating_steps(graph, posterior, named, observed, params))
    if first.actor is None and posterior.scored:
        steps.append(
            Step(
                "compare the malware and infrastructure no tracked actor explains with "
                "partners' holdings: UNKNOWN leads because the knowledge base has no actor "
                "that fits"
            )
        )
    if posterior.scored and int(confidence_basis.get("independent_sources", 0)) < 2:
        steps.append(
            Step(
                "obtain the key evidence from an independent source (another organisation, "
                "through another node): it rests on a single source now"
            )
        )
    if int(confidence_basis.get("spoofable_items", 0)) > 0:
        steps.append(
            Step(
                "corroborate the spoofable artefacts with costly evidence (malware code, "
                "infrastructure): language, time zone and strings are cheap to plant"
            )
        )
    return steps


def _summary(
    incident_name: str,
    verdict: str,
    hyps: Sequence[_Hyp],
    posterior: Posterior,
    evidence: Sequence[EvidenceResult],
    refs: Sequence[str],
    confidence: str,
    basis: Mapping[str, int | float],
) -> str:
    parts: list[str] = []
    leader = hyps[0]
    unknown_p = posterior.unknown
    named = [h for h in hyps if h.actor is not None]
    if verdict == ATTRIBUTED:
        top = named[0]
        parts.append(statement(top.probability, f"{top.name} carried out “{incident_name}”"))
        parts.append(statement(unknown_p, f"{UNKNOWN_LABEL} did"))
        subject = top
    else:
        parts.append(
            f"The evidence does not carry an attribution of “{incident_name}” to a named actor."
        )
        lead_name = UNKNOWN_LABEL if leader.actor is None else leader.name
        parts.append(f"The leading hypothesis is {lead_name}.")
        parts.append(statement(leader.probability, f"{lead_name} carried it out"))
        leads = [h for h in named if h.probability >= 0.01][:3]
        if leads:
            listed = ", ".join(
                f"{h.name} ({estimative(h.probability)}, {percent(h.probability)})" for h in leads
            )
            parts.append(f"Leads, not conclusions: {listed}.")
        subject = named[0] if named else leader
    index = {e.ref: e for e in evidence}
    if subject.actor is not None:
        top_refs = [index[r].label for r, w in _for(subject, refs) if w >= SUPPORT and r in index][
            :3
        ]
        if top_refs:
            parts.append(f"The weightiest evidence for {subject.name}: {'; '.join(top_refs)}.")
    light = [e for e in evidence if e.diagnosticity < SUPPORT]
    if light:
        names = "; ".join(_short(e.label, 40) for e in light[:3])
        more = f" and {len(light) - 3} more" if len(light) > 3 else ""
        parts.append(
            f"{len(light)} item(s) weigh little between the leading hypotheses, which all "
            f"explain them alike: {names}{more}."
        )
    spoofable = [e for e in evidence if e.spoofable]
    if spoofable:
        names = "; ".join(_short(e.label, 40) for e in spoofable[:3])
        parts.append(f"Spoofable traces are discounted, being cheap to plant: {names}.")
    parts.append(
        f"Confidence is {confidence}: it rests on {basis.get('non_spoofable_items', 0)} "
        f"non-spoofable supporting item(s) from {basis.get('independent_sources', 0)} "
        f"independent source(s), with {basis.get('spoofable_items', 0)} spoofable item(s) "
        "beside them."
    )
    actor = subject.actor
    if actor is not None and names_association(verdict, actor):
        linked = ", ".join([*actor.sponsors, *actor.countries])
        parts.append(
            f"Catalogues associate {actor.name} with {linked}; that association is their "
            "claim and is not weighed here."
        )
    else:
        parts.append("No state is named: no evidence weighed here links one.")
    text = " ".join(parts)
    if mixes_likelihood_and_confidence(text):
        raise AssertionError("summary mixes likelihood and confidence in one sentence")
    return text


def names_association(verdict: str, actor: Actor) -> bool:
    """Whether the summary quotes the catalogues' association of its subject with states."""
    return verdict == ATTRIBUTED and bool(actor.countries or actor.sponsors)


def _weighted(
    graph: KnowledgeGraph, s: ScoredItem, ref: str, w: float, actor: int | None
) -> WeightedRef:
    """One listed weight, with the knowledge it rests on (none for UNKNOWN)."""
    links = [] if actor is None else sorted(link_rests_on(graph, s, actor))
    return WeightedRef(ref, round(w, 4), s.item.label, links)


def _unknown_weights(hyps: Sequence[_Hyp]) -> None:
    """UNKNOWN is the reference of every weight, so its own are 0; for a reader, what
    speaks for it is what weighs against every named hypothesis shown: that margin (the
    smallest of the negated named weights, if positive) becomes its weight."""
    named = [h for h in hyps if h.actor is not None]
    for h in hyps:
        if h.actor is None and named:
            h.weights = [max(min(-n.weights[i] for n in named), 0.0) for i in range(len(h.weights))]


def _for(h: _Hyp, refs: Sequence[str]) -> list[tuple[str, float]]:
    pairs = list(zip(refs, h.weights, strict=True))
    return sorted(pairs, key=lambda t: (-t[1], t[0]))


def _unique_refs(scored: Sequence[ScoredItem]) -> list[str]:
    """Each weighed item's ref, made unique: one indicator naming two values is two items."""
    counts: dict[str, int] = {}
    for s in scored:
        counts[s.item.ref] = counts.get(s.item.ref, 0) + 1
    return [s.item.ref if counts[s.item.ref] == 1 else f"{s.item.ref}#{s.item.key}" for s in scored]


def build_result(
    graph: KnowledgeGraph,
    incident_id: str,
    items: Sequence[EvidenceItem],
    params: Parameters,
    *,
    incident_name: str | None = None,
    kb: KbInfo | None = None,
    unresolved: Sequence[Mapping[str, str]] = (),
    top: int = 10,
) -> AttributionResult:
    """Compute the posterior for ``items`` and describe it."""
    posterior = compute(graph, items, params)
    return describe(
        graph,
        incident_id,
        posterior,
        items,
        params,
        incident_name=incident_name,
        kb=kb,
        unresolved=unresolved,
        top=top,
    )


def describe(
    graph: KnowledgeGraph,
    incident_id: str,
    posterior: Posterior,
    items: Sequence[EvidenceItem],
    params: Parameters,
    *,
    incident_name: str | None = None,
    kb: KbInfo | None = None,
    unresolved: Sequence[Mapping[str, str]] = (),
    top: int = 10,
) -> AttributionResult:
    """The result document for a computed posterior."""
    ranking, omitted = _select(posterior, graph, top)
    n = len(graph.actors)
    hyps: list[_Hyp] = []
    for h in ranking:
        actor = graph.actors[h] if h is not None else None
        hyps.append(
            _Hyp(
                actor=actor,
                probability=posterior.probability(h),
                prior=posterior.prior[h] if h is not None else posterior.prior_unknown,
                weights=[weight(s, h) for s in posterior.scored],
            )
        )
    _unknown_weights(hyps)
    refs = _unique_refs(posterior.scored)
    evidence: list[EvidenceResult] = []
    for ref, s in zip(refs, posterior.scored, strict=True):
        item = s.item
        evidence.append(
            EvidenceResult(
                ref=ref,
                kind=item.kind,
                label=item.label,
                source="; ".join(sorted({src.name for src in item.sources})),
                grade=str(item.grade),
                spoofable=item.spoofable,
                diagnosticity=round(s.diagnosticity, 4),
                spoofability=item.spoofability,
                genuineness=round(s.genuineness, 4),
                corroborated=item.corroborated,
                independent_sources=item.independent_sources,
                sources=[src.as_dict() for src in item.sources],
                implied_by=item.implied_by,
                rests_on=sorted(item.rests_on - {item.ref}),
            )
        )
    by_ref = dict(zip(refs, posterior.scored, strict=True))
    results: list[HypothesisResult] = []
    bases: list[dict] = []
    for h in hyps:
        level, basis = confidence_of(posterior.scored, h.weights)
        bases.append(basis)
        pairs = _for(h, refs)
        index = h.index
        results.append(
            HypothesisResult(
                actor_id=h.actor.id if h.actor is not None else None,
                name=h.name,
                aliases=list(h.actor.aliases) if h.actor is not None else [],
                probability=h.probability,
                estimative=estimative(h.probability),
                confidence=level,
                prior=h.prior,
                external_id=h.actor.external_id if h.actor is not None else None,
                evidence_for=[
                    _weighted(graph, by_ref[r], r, w, index) for r, w in pairs if w >= NEUTRAL
                ][:MAX_LISTED],
                evidence_against=[
                    _weighted(graph, by_ref[r], r, w, index)
                    for r, w in reversed(pairs)
                    if w <= -NEUTRAL
                ][:MAX_LISTED],
                confidence_basis=basis,
                members=list(h.actor.members) if h.actor is not None else [],
                rests_on=[]
                if index is None
                else sorted(actor_rests_on(graph, posterior.scored, index)),
            )
        )
    named = [i for i, h in enumerate(hyps) if h.actor is not None]
    subject = named[0] if named else 0
    verdict = NOT_ATTRIBUTED
    if named and hyps[subject].probability >= LIKELY and bases[subject]["non_spoofable_items"] >= 1:
        verdict = ATTRIBUTED
    confidence = results[subject].confidence
    order = sorted(
        range(len(evidence)), key=lambda i: (-evidence[i].diagnosticity, evidence[i].ref)
    )
    evidence = [evidence[i] for i in order]
    columns = hyps[:ACH_COLUMNS]
    if all(h.actor is not None for h in columns):
        columns = [*columns[:-1], next(h for h in hyps if h.actor is None)]
    ach = AchMatrix(
        hypotheses=[h.name for h in columns],
        evidence=[refs[i] for i in order],
        matrix=[[ach_cell(h.weights[i]) for h in columns] for i in order],
    )
    name = incident_name or incident_id
    summary = _summary(name, verdict, hyps, posterior, evidence, refs, confidence, bases[subject])
    steps = _next_steps(graph, posterior, hyps, items, params, bases[subject])
    rests_on = {i for step in steps for i in step.rests_on}
    subject_actor = hyps[subject].actor
    if subject_actor is not None and names_association(verdict, subject_actor):
        rests_on.update(association_rests_on(graph, subject_actor.index))
    return AttributionResult(
        incident=incident_id,
        incident_name=incident_name,
        kb=kb or KbInfo(actors=n, version="unversioned", digest=graph.digest),
        verdict=verdict,
        summary=summary,
        confidence=confidence,
        unknown_probability=posterior.unknown,
        hypotheses=results,
        omitted=omitted,
        evidence=evidence,
        ach=ach,
        next_steps=[step.text for step in steps],
        unresolved=[dict(u) for u in unresolved],
        parameters=params.as_dict(),
        rests_on=sorted(rests_on),
    )
