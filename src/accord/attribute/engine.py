"""The posterior over actors and UNKNOWN: likelihoods per evidence item and hypothesis.

For an item *e* in channel *c* (technique, software, value, victimology, artefact, timing)
and a hypothesis *h*:

* ``m_h(e)`` ∈ [0, 1] is how well *h*'s profile shows the item (1: the actor uses it;
  ``parent_weight``: it uses the parent or a sibling sub-technique; 0: nothing).
* ``q(e)`` is how common the item is among the actors whose profile in *c* is known, the
  *population* ``A_c``: ``q = (Σ m + γ_c) / (|A_c| + γ_c)``. The γ pseudo-actors
  (smoothing) are actors nobody tracks, who may use anything; they let a feature no known
  actor uses favour UNKNOWN. Software families are specific to few actors whatever the
  size of the knowledge base, so their population counts at least ``N_ref`` actors (a
  family one of three known actors uses is not used by a third of the world). Values are
  the exception: a domain tied to one actor is not "common" in any population, so
  ``q = (Σ m − 1) / |A_c|``, the share of *other* actors tied to it.
* ``θ(e) = θ_c + (1 − θ_c)·ω·q`` is the chance that an actor shows the item although the
  knowledge base does not list it: a floor θ_c (incomplete profiles), plus a share ω of
  the item's popularity, because a common technique goes unrecorded more often.
* ``P(e | a) = θ + (1 − θ)·m_a·ν_a`` for an actor in ``A_c``; ``P(e | UNKNOWN) = θ + (1 − θ)·q``
  (an untracked actor behaves like the population, ``q`` here taken with the same ν
  weights); an actor outside ``A_c`` (nothing known in that channel) gets
  ``P(e | UNKNOWN)``: the item says nothing about it.
* ``ν_a = min(n̄_c / n_a, C)^(κ·(1 − q))`` normalises repertoire size: an actor with 150
  known techniques "explains" any handful of techniques, so a specific item weighs less
  for it than for an actor with 20 (a multinomial's 1/n at κ = 1, pure presence at κ = 0).
  The exponent vanishes as the item becomes universal, so ubiquitous items stay neutral.
  The cap C bounds the boost of an actor with a tiny known repertoire: a short ATT&CK
  entry is an incomplete one, not proof that one matching technique is its signature. No
  normalisation for values: they identify, they do not sample a repertoire.
* Reliability and spoofability: with probability ``r`` (genuineness: source grade ×
  (1 − spoofability) × inference weight) the item reflects the intruder, otherwise it is
  noise or planted and follows the population: ``P'(e | h) = r·P(e | h) + (1 − r)·P(e | U)``.

An item every actor shows has ``q = 1`` and ``P' = 1`` for every hypothesis: it leaves the
posterior exactly at the prior (ACH's rule that evidence consistent with every hypothesis
has no diagnosticity). The posterior is ``prior × Π P'(e | h)^τ``, normalised. τ (the
temperature) corrects naive Bayes' mis-confidence: below 1 it weakens correlated items,
above 1 it sharpens likelihood ratios the smoothing made flatter than the data bear out
(the fitted value is 1.5, its design cap). It is fitted on techniques and software, the
channels the harness holds, and applies to them only: the other channels' likelihoods
are stated probabilities (design constants) and keep τ = 1.

Prior: UNKNOWN gets ``π_U``; the actors share ``1 − π_U`` in proportion to a weight, 1 for
an actor with a technical profile (techniques, software or values) and ``w₀`` for one the
knowledge base knows by name only (most of the MISP catalogue): what is documented is what
has been seen, and a catalogue entry nobody documented is seen less. The weights are
divided by ``max(W, N_ref)``, W their sum, and UNKNOWN keeps the rest, so a small knowledge
base does not make each of its few actors more likely.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from accord.attribute.evidence import EvidenceItem
from accord.attribute.graph import CHANNELS, SOFTWARE, TIMING, VALUE, KnowledgeGraph, channel_of
from accord.attribute.params import FITTED_CHANNELS, Parameters

_DAY_US = 86_400 * 1_000_000
# Hypotheses at or above this probability are "in contention": an item's diagnosticity is
# the spread of its weights across them (with UNKNOWN and the leader always included).
CONTENTION = 0.01
_FLOOR = 1e-300


@dataclass(slots=True)
class ScoredItem:
    """One item's likelihood under every hypothesis, stored sparsely."""

    item: EvidenceItem
    genuineness: float
    population: frozenset[int]
    p_unknown: float
    p_base: float
    matches: dict[int, float]
    strengths: dict[int, float]
    temperature: float = 1.0
    diagnosticity: float = 0.0

    def likelihood(self, actor: int | None) -> float:
        """``P'(e | h)``; ``actor=None`` is UNKNOWN."""
        if actor is None:
            return self.p_unknown
        found = self.matches.get(actor)
        if found is not None:
            return found
        return self.p_base if actor in self.population else self.p_unknown


@dataclass(slots=True)
class Posterior:
    """Probabilities of every actor (by index) and of UNKNOWN, with what produced them."""

    probabilities: list[float]
    unknown: float
    scored: list[ScoredItem]
    loglik: list[float]
    loglik_unknown: float
    prior: list[float]
    prior_unknown: float

    def ranking(self) -> list[int | None]:
        """Hypotheses by probability, ties by index; ``None`` is UNKNOWN."""
        order: list[tuple[float, int, int | None]] = [
            (-p, i, i) for i, p in enumerate(self.probabilities)
        ]
        order.append((-self.unknown, -1, None))
        order.sort(key=lambda t: (t[0], t[1]))
        return [t[2] for t in order]

    def leader(self) -> int | None:
        """``ranking()[0]`` without sorting every actor: UNKNOWN wins a tie, as it does
        there, and among actors the lowest index."""
        if not self.probabilities:
            return None
        best = max(range(len(self.probabilities)), key=self.probabilities.__getitem__)
        return None if self.unknown >= self.probabilities[best] else best

    def probability(self, actor: int | None) -> float:
        return self.unknown if actor is None else self.probabilities[actor]


def priors(graph: KnowledgeGraph, params: Parameters) -> tuple[list[float], float]:
    """``(prior of each actor by index, prior of UNKNOWN)``."""
    profiled = graph.profiled
    weights = [1.0 if a in profiled else params.name_only_weight for a in range(len(graph.actors))]
    scale = (1.0 - params.unknown_prior) / max(sum(weights), params.reference_actors, 1.0)
    prior = [w * scale for w in weights]
    return prior, max(1.0 - sum(prior), 0.0)


def _period_overlaps(
    period: tuple[int | None, int | None], first: int | None, last: int | None, margin: int
) -> bool:
    start, end = period
    start = start if start is not None else end
    end = end if end is not None else start
    if start is None or end is None:
        return True
    if first is not None and end < first - margin:
        return False
    return not (last is not None and start > last + margin)


def _strengths(graph: KnowledgeGraph, item: EvidenceItem, params: Parameters) -> dict[int, float]:
    if item.channel == TIMING:
        if item.period is None:
            return {}
        margin = params.timing_margin_days * _DAY_US
        return {
            a: 1.0
            for a in graph.population(TIMING)
            if _period_overlaps(
                item.period, graph.actors[a].first_seen_us, graph.actors[a].last_seen_us, margin
            )
        }
    features = item.features
    if len(features) == 1:  # the common case, at dictionary-construction speed
        ((feature, weight),) = features.items()
        postings = graph.postings.get(feature, ())
        if weight == 1.0:
            return dict(postings)
        return {actor: weight * strength for actor, strength in postings}
    found: dict[int, float] = {}
    for feature, weight in features.items():
        for actor, strength in graph.postings.get(feature, ()):
            value = weight * strength
            if value > found.get(actor, 0.0):
                found[actor] = value
    return found


def weighable(graph: KnowledgeGraph, item: EvidenceItem) -> bool:
    """Values that no actor is tied to are not weighed: actors' known values are a tiny
    sample of what they use, so an unmatched address says nothing about anyone."""
    if item.channel != VALUE:
        return True
    return any(feature in graph.postings for feature in item.features)


def score_item(graph: KnowledgeGraph, item: EvidenceItem, params: Parameters) -> ScoredItem:
    """The sparse likelihood structure of one item."""
    channel = item.channel
    population = graph.population(channel)
    strengths = _strengths(graph, item, params)
    if any(channel_of(f) != channel for f in item.features):
        # A feature of another channel may be posted for actors outside this population.
        strengths = {a: s for a, s in strengths.items() if a in population}
    total = sum(strengths.values())
    size = len(population)
    smoothing = params.channel_smoothing(channel)
    if channel == SOFTWARE:
        size = max(size, params.reference_actors)
    if channel == VALUE:
        common = min(max(total - 1.0, 0.0) / max(size, 1), 1.0)
    else:
        common = min((total + smoothing) / (size + smoothing), 1.0)
        exponent = params.size_exponent * (1.0 - common)
        if exponent > 0.0 and strengths:
            gaps = graph.size_gaps(channel, params.size_cap)
            exp = math.exp
            strengths = {a: s * exp(exponent * gaps[a]) for a, s in strengths.items()}
            total = sum(strengths.values())
            common = min((total + smoothing) / (size + smoothing), 1.0)
    floor = params.channel_mismatch(channel, item.subkind)
    theta = floor + (1.0 - floor) * params.popularity * common
    raw_unknown = theta + (1.0 - theta) * common
    r = item.genuineness(params)
    p_base = r * theta + (1.0 - r) * raw_unknown
    slope = r * (1.0 - theta)
    matches = {a: p_base + slope * s for a, s in strengths.items()}
    return ScoredItem(
        temperature=params.temperature_of(channel),
        item=item,
        genuineness=r,
        population=population,
        p_unknown=raw_unknown,
        p_base=p_base,
        matches=matches,
        strengths=strengths,
    )


def _log(x: float) -> float:
    return math.log(max(x, _FLOOR))


def _sums(
    graph: KnowledgeGraph, scored: Sequence[ScoredItem], tempered: bool
) -> tuple[list[float], float]:
    inside = dict.fromkeys(CHANNELS, 0.0)
    outside = dict.fromkeys(CHANNELS, 0.0)
    delta: dict[int, float] = defaultdict(float)
    unknown = 0.0
    log = math.log
    for s in scored:
        t = s.temperature if tempered else 1.0
        channel = s.item.channel
        log_base = _log(s.p_base)
        log_unknown = _log(s.p_unknown)
        inside[channel] += t * log_base
        outside[channel] += t * log_unknown
        unknown += t * log_unknown
        for actor, p in s.matches.items():
            delta[actor] += t * (log(p) - log_base)
    offsets = [
        sum(inside[c] if c in sig else outside[c] for c in CHANNELS) for sig in graph.signatures
    ]
    sig_of = graph.signature_of
    loglik = [offsets[sig_of[a]] for a in range(len(graph.actors))]
    for actor, value in delta.items():
        loglik[actor] += value
    return loglik, unknown


def log_likelihoods(
    graph: KnowledgeGraph, scored: Sequence[ScoredItem]
) -> tuple[list[float], float]:
    """Tempered ``Σ τ_e·log P'(e | h)`` for every actor and for UNKNOWN."""
    return _sums(graph, scored, tempered=True)


def log_likelihood_parts(
    graph: KnowledgeGraph, scored: Sequence[ScoredItem], params: Parameters
) -> tuple[list[float], float, list[float], float]:
    """``(fitted, fitted_unknown, fixed, fixed_unknown)``: the untempered sums over the
    channels the temperature applies to, and the sums over the others (exponent 1), so
    that a fit can try temperatures without recomputing the items."""
    fitted = [s for s in scored if s.item.channel in FITTED_CHANNELS]
    fixed = [s for s in scored if s.item.channel not in FITTED_CHANNELS]
    a, au = _sums(graph, fitted, tempered=False)
    b, bu = _sums(graph, fixed, tempered=True)
    return a, au, b, bu


def normalise(
    loglik: Sequence[float],
    loglik_unknown: float,
    prior: Sequence[float],
    prior_unknown: float,
) -> tuple[list[float], float]:
    """Prior-weighted, normalised probabilities from tempered log-likelihoods."""
    scores = [_log(p) + x for p, x in zip(prior, loglik, strict=True)]
    score_unknown = _log(prior_unknown) + loglik_unknown
    top = max([score_unknown, *scores])
    exps = [math.exp(x - top) for x in scores]
    exp_unknown = math.exp(score_unknown - top)
    total = sum(exps) + exp_unknown
    return [x / total for x in exps], exp_unknown / total


def compute(graph: KnowledgeGraph, items: Iterable[EvidenceItem], params: Parameters) -> Posterior:
    """Score the weighable items and return the posterior."""
    scored = [score_item(graph, item, params) for item in items if weighable(graph, item)]
    prior, prior_unknown = priors(graph, params)
    loglik, loglik_unknown = log_likelihoods(graph, scored)
    probabilities, unknown = normalise(loglik, loglik_unknown, prior, prior_unknown)
    contenders: list[int | None] = [a for a, p in enumerate(probabilities) if p >= CONTENTION]
    if probabilities:
        contenders.append(max(range(len(probabilities)), key=probabilities.__getitem__))
    contenders.append(None)
    for s in scored:
        weights = [weight(s, h) for h in contenders]
        s.diagnosticity = max(weights) - min(weights)
    return Posterior(
        probabilities=probabilities,
        unknown=unknown,
        scored=scored,
        loglik=loglik,
        loglik_unknown=loglik_unknown,
        prior=prior,
        prior_unknown=prior_unknown,
    )


def weight(s: ScoredItem, actor: int | None) -> float:
    """Weight of evidence in bans: ``τ_e·log10(P'(e | h) / P'(e | UNKNOWN))``.

    UNKNOWN, an actor nobody tracks, is the reference: positive weighs for the hypothesis
    against it, negative against, 0 when the item says nothing about the hypothesis (an
    actor whose techniques are unknown, for a technique). A hypothesis' weights plus its
    log prior give its posterior, up to the common normalisation.
    """
    return _weight_of(s, s.likelihood(actor))


def shifted(
    s: ScoredItem,
    probabilities: Sequence[float],
    unknown: float,
    mass: float,
    targets: Sequence[int | None],
) -> list[float]:
    """Posterior of each of ``targets`` if item ``s`` were added (``mass``: the current
    posterior mass of its population). Exact, in O(matches)."""
    t = s.temperature
    unknown_term = s.p_unknown**t
    matched = sum(probabilities[a] for a in s.matches)
    z = (
        unknown * unknown_term
        + sum(probabilities[a] * p**t for a, p in s.matches.items())
        + max(mass - matched, 0.0) * s.p_base**t
        + max(1.0 - unknown - mass, 0.0) * unknown_term
    )
    return [
        (unknown if h is None else probabilities[h]) * s.likelihood(h) ** t / z for h in targets
    ]


def _weight_of(s: ScoredItem, likelihood: float) -> float:
    return s.temperature * math.log10(max(likelihood, _FLOOR) / max(s.p_unknown, _FLOOR))
