"""Evaluation harness for accord's attribution engine (issue 5), repeatable with fixed seeds.

Synthetic incidents from the ATT&CK knowledge base (the KB builders' output, with the MISP
actor catalogue merged in, as ``accord kb update`` installs it):

* for each ATT&CK group with at least three techniques and software, sample 20 %, 40 % or
  60 % of its techniques and of its software, referenced by ATT&CK id (T…, S…) as another
  tool would; add two techniques drawn from the 30 most common (noise); in 30 % of the
  incidents of a group with a catalogue country, a genuine language artefact; in 20 %, a
  planted false flag: a language artefact pointing to another country (spoofable, 70 %)
  or a malware family of another group (costly, 30 %);
* open set: the groups are split into five folds; in each fold 20 % of the groups are
  removed from the knowledge base, with their relationships, and their incidents should
  come out ``not-attributed`` with UNKNOWN leading.

Reported per observation fraction: top-1, top-5 and MRR on known groups (rank among all
hypotheses, UNKNOWN included); the false-accusation rate, in the issue's terms: held-out
incidents in which a named actor reaches "likely" (p ≥ 0.55), with beside it the rate of
the verdict ``attributed`` (which also needs non-spoofable support); the UNKNOWN-leads
rate on held-out incidents; the multi-class Brier score (UNKNOWN one of the classes);
the expected calibration error of the top hypothesis: equal-width bins (10, and 15 as a
check) of the leader's probability, Σ (n_bin / n) × |accuracy − mean probability|, the
leader counting as correct when it is the truth, that is the group for a known group and
UNKNOWN for a held-out one (the reliability table is printed and saved); latency per
incident for the whole pipeline (resolving the ids, weighing, the result document).
Baselines in the same run: a TF-IDF cosine ranker over techniques and software, and a
Jaccard technique-overlap ranker; both always name an actor. A second knowledge base of
10,000 synthetic actors (profiles resampled from ATT&CK's) measures scale.

``--fit`` fits the free parameters on separate seeds (``FIT_SEEDS``, each with its own
folds and samples, pooled) by coordinate descent on the mean log loss under the issue's
limits, prints them and the objective's parts; ``docs/attribution.md`` records the result.
The evaluation seed (``EVAL_SEED``) never enters the fit.

Usage: ``python benchmarks/attribution_eval.py [--quick] [--fit [--rounds N]]
[--synthetic N] [--json FILE]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import statistics
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.attribute.engine import (
    compute,
    log_likelihood_parts,
    priors,
    score_item,
    weighable,
)
from accord.attribute.evidence import EvidenceItem, Source, artefact_item, merge, resolve_items
from accord.attribute.grading import Grade
from accord.attribute.graph import KnowledgeGraph, external_id
from accord.attribute.language import LIKELY
from accord.attribute.params import DEFAULT_PARAMETERS, Parameters
from accord.attribute.report import describe
from accord.attribute.result import ATTRIBUTED
from accord.ingest.kb.actors import build_actor_objects
from accord.ingest.kb.attack import build_attack_objects

FRACTIONS = (0.2, 0.4, 0.6)
FOLDS = 5
NOISE_TECHNIQUES = 2
COMMON_POOL = 30
ARTEFACT_RATE = 0.3
FALSE_FLAG_RATE = 0.2
COSTLY_FLAG_SHARE = 0.3
MIN_OBSERVABLE = 3
EVAL_SEED = 20261125
# Fitting seeds, each with its own folds and samples, pooled: 948 held-out incidents per
# fraction. One seed's 158 measure a false-accusation rate near 1 % to ± 1 point (seeds
# 7–10 gave 1 to 4 accusations at 40 % with the same parameters), too coarse for a limit
# at that level. The coordinate descent over the outer parameters runs on the first three
# (``--outer-seeds``; six would take about an hour); the inner grid on all six.
FIT_SEEDS = (7, 8, 9, 10, 11, 12)
SYNTHETIC_ACTORS = 10_000
SYNTHETIC_KEEP = 0.3
# Synthetic observations are genuine by construction (planted false flags aside, which the
# spoofability models), so they are graded A1: the fitted parameters then describe the
# model, and the Admiralty discount of real evidence is a separate, documented layer.
SOURCE = Source("identity--7d1b0c1e-0000-4000-8000-000000000001", "harness", "local", Grade("A", 1))


# --- knowledge base and profiles ----------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What a group really uses (from the full KB), as ATT&CK ids."""

    group: str
    name: str
    techniques: tuple[str, ...]
    software: tuple[str, ...]
    malware: tuple[str, ...]
    countries: tuple[str, ...]


@dataclass(frozen=True)
class Incident:
    group: str
    held_out: bool
    fraction: float
    refs: tuple[str, ...]
    artefacts: tuple[str, ...]
    false_flag: str | None


def load_kb() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    attack = build_attack_objects()
    return attack, build_actor_objects(attack_objects=attack)


def live_groups(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted(
        o["id"]
        for o in objects
        if o.get("type") == "intrusion-set"
        and external_id(o)
        and not o.get("revoked")
        and not o.get("x_mitre_deprecated")
    )


def profiles(full: KnowledgeGraph, groups: Sequence[str]) -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    for gid in groups:
        techniques, software, malware = set(), set(), set()
        for rel in full.out_rels.get(gid, ()):
            if rel["relationship_type"] != "uses":
                continue
            target = full.get(rel["target_ref"]) or {}
            ext = external_id(target)
            if not ext:
                continue
            if target.get("type") == "attack-pattern":
                techniques.add(ext)
            elif target.get("type") in ("malware", "tool"):
                software.add(ext)
                if target.get("type") == "malware":
                    malware.add(ext)
        actor = full.actors[full.actor_of[gid]]
        if len(techniques) + len(software) >= MIN_OBSERVABLE:
            found[gid] = Profile(
                gid,
                actor.name,
                tuple(sorted(techniques)),
                tuple(sorted(software)),
                tuple(sorted(malware)),
                actor.countries,
            )
    return found


def common_techniques(profs: Mapping[str, Profile], size: int) -> list[str]:
    counts = Counter(t for p in profs.values() for t in p.techniques)
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]


def make_folds(groups: Sequence[str], seed: int, folds: int) -> list[set[str]]:
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    return [set(order[i::folds]) for i in range(folds)]


def without(objects: Sequence[Mapping[str, Any]], held: set[str]) -> list[Mapping[str, Any]]:
    """The KB with the held-out groups and every relationship touching them removed."""
    return [
        o
        for o in objects
        if o["id"] not in held
        and not (
            o.get("type") == "relationship"
            and (o.get("source_ref") in held or o.get("target_ref") in held)
        )
    ]


def _rng(*parts: object) -> random.Random:
    return random.Random(zlib.crc32("|".join(str(p) for p in parts).encode()))


def make_incidents(
    profs: Mapping[str, Profile],
    held: set[str],
    fraction: float,
    seed: int,
    fold: int,
    common: Sequence[str],
    countries: Sequence[str],
) -> list[Incident]:
    out: list[Incident] = []
    malware_owners = sorted((m, g) for g, p in profs.items() for m in p.malware)
    for gid in sorted(profs):
        p = profs[gid]
        rng = _rng(seed, fold, fraction, gid)
        refs: list[str] = []
        if p.techniques:
            refs += rng.sample(p.techniques, max(1, round(fraction * len(p.techniques))))
        if p.software:
            refs += rng.sample(p.software, round(fraction * len(p.software)))
        refs += rng.sample([t for t in common if t not in refs], NOISE_TECHNIQUES)
        artefacts: list[str] = []
        flag: str | None = None
        if rng.random() < FALSE_FLAG_RATE:
            if rng.random() < COSTLY_FLAG_SHARE:
                foreign = [m for m, g in malware_owners if g != gid and m not in p.software]
                refs.append(rng.choice(foreign))
                flag = "malware"
            else:
                artefacts.append(rng.choice([c for c in countries if c not in p.countries]))
                flag = "artefact"
        elif p.countries and rng.random() < ARTEFACT_RATE:
            artefacts.append(p.countries[0])
        out.append(Incident(gid, gid in held, fraction, tuple(refs), tuple(artefacts), flag))
    return out


def evidence(graph: KnowledgeGraph, inc: Incident, params: Parameters) -> list[EvidenceItem]:
    items, _ = resolve_items(graph, inc.refs, SOURCE, params)
    for country in inc.artefacts:
        items.append(artefact_item("language", f"lang-{country}", SOURCE, params, country=country))
    return [i for i in merge(items) if weighable(graph, i)]


# --- metrics ------------------------------------------------------------------------------


@dataclass
class Metrics:
    known: int = 0
    held_out: int = 0
    top1: float = 0.0
    top5: float = 0.0
    mrr: float = 0.0
    top1_named: float = 0.0
    false_accusation: float = 0.0
    false_attribution: float = 0.0
    unknown_leads: float = 0.0
    attributed_known: float = 0.0
    attributed_correct: float = 0.0
    brier: float = 0.0
    ece: float = 0.0
    ece_15: float = 0.0
    log_loss: float = 0.0
    latency_ms: float = 0.0
    latency_p95_ms: float = 0.0
    reliability: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


@dataclass
class Outcome:
    truth: int | None
    probabilities: list[float]
    unknown: float
    attributed: bool
    named_likely: bool
    top: int | None
    seconds: float
    held_out: bool


def _buckets(pairs: Sequence[tuple[float, bool]], bins: int) -> list[list[tuple[float, bool]]]:
    buckets: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for confidence, correct in pairs:
        buckets[min(bins - 1, int(confidence * bins))].append((confidence, correct))
    return buckets


def reliability(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> list[dict[str, Any]]:
    """The reliability table behind the ECE: per equal-width bin of the top hypothesis'
    probability, its count, mean probability and accuracy (empty bins left out)."""
    return [
        {
            "bin": f"{i / bins:.2f}-{(i + 1) / bins:.2f}",
            "n": len(b),
            "confidence": round(statistics.fmean(c for c, _ in b), 4),
            "accuracy": round(statistics.fmean(1.0 if ok else 0.0 for _, ok in b), 4),
        }
        for i, b in enumerate(_buckets(pairs, bins))
        if b
    ]


def ece(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """Expected calibration error of the top label (Guo et al. 2017): over equal-width bins
    of the top hypothesis' probability, Σ (n_bin / n)·|accuracy − mean probability|.
    "Correct" means the top hypothesis is the truth, UNKNOWN being the truth for an
    incident of a held-out group: the open-set reading of "is the leader right?"."""
    total = 0.0
    for b in _buckets(pairs, bins):
        if b:
            confidence = statistics.fmean(c for c, _ in b)
            accuracy = statistics.fmean(1.0 if ok else 0.0 for _, ok in b)
            total += len(b) * abs(accuracy - confidence)
    return total / max(len(pairs), 1)


def summarise(outcomes: Sequence[Outcome]) -> Metrics:
    m = Metrics()
    ranks: list[int] = []
    named_first = 0
    pairs: list[tuple[float, bool]] = []
    brier = log_loss = 0.0
    fa = fa_verdict = unknown_top = attributed_known = attributed_correct = 0
    for o in outcomes:
        p_true = o.unknown if o.truth is None else o.probabilities[o.truth]
        brier += sum(p * p for p in o.probabilities) + o.unknown**2 - 2 * p_true + 1
        log_loss -= math.log(max(p_true, 1e-12))
        top_p = o.unknown if o.top is None else o.probabilities[o.top]
        pairs.append((top_p, o.top == o.truth))
        if o.held_out:
            m.held_out += 1
            fa += o.named_likely
            fa_verdict += o.attributed
            unknown_top += o.top is None
        else:
            m.known += 1
            above = sum(1 for p in o.probabilities if p > p_true)
            named_first += above == 0
            ranks.append(above + (o.unknown > p_true) + 1)
            attributed_known += o.attributed
            attributed_correct += o.attributed and o.top == o.truth
    n = max(len(outcomes), 1)
    if ranks:
        m.top1 = sum(r == 1 for r in ranks) / len(ranks)
        m.top5 = sum(r <= 5 for r in ranks) / len(ranks)
        m.mrr = statistics.fmean(1 / r for r in ranks)
        m.top1_named = named_first / len(ranks)
        m.attributed_known = attributed_known / len(ranks)
        m.attributed_correct = attributed_correct / max(attributed_known, 1)
    m.false_accusation = fa / max(m.held_out, 1)
    m.false_attribution = fa_verdict / max(m.held_out, 1)
    m.unknown_leads = unknown_top / max(m.held_out, 1)
    m.brier = brier / n
    m.log_loss = log_loss / n
    m.ece = ece(pairs)
    m.ece_15 = ece(pairs, 15)
    m.reliability = reliability(pairs)
    seconds = sorted(o.seconds for o in outcomes)
    if seconds:
        m.latency_ms = 1000 * statistics.fmean(seconds)
        m.latency_p95_ms = 1000 * seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]
    return m


def run_engine(
    graph: KnowledgeGraph, incidents: Sequence[Incident], params: Parameters
) -> list[Outcome]:
    """The full pipeline per incident, timed: resolve ids, weigh, build the result document."""
    outcomes: list[Outcome] = []
    for inc in incidents:
        start = time.perf_counter()
        items = evidence(graph, inc, params)
        posterior = compute(graph, items, params)
        result = describe(graph, "incident--harness", posterior, items, params, top=10)
        seconds = time.perf_counter() - start
        leader = result.hypotheses[0].actor_id
        outcomes.append(
            Outcome(
                truth=None if inc.held_out else graph.actor_of.get(inc.group),
                probabilities=posterior.probabilities,
                unknown=posterior.unknown,
                attributed=result.verdict == ATTRIBUTED,
                named_likely=max(posterior.probabilities, default=0.0) >= LIKELY,
                top=None if leader is None else graph.actor_of[leader],
                seconds=seconds,
                held_out=inc.held_out,
            )
        )
    return outcomes


# --- baselines ----------------------------------------------------------------------------


def baseline_ranks(graph: KnowledgeGraph, incidents: Sequence[Incident]) -> dict[str, Metrics]:
    """TF-IDF cosine (techniques + software) and Jaccard (techniques) rankers, closed set."""
    params = DEFAULT_PARAMETERS
    actors = sorted(graph.profiled)
    kinds = ("attack-pattern--", "malware--", "tool--")
    docs = {  # direct uses only: the baselines must not depend on the engine's parameters
        a: {f for f, w in graph.actors[a].profile.items() if f.startswith(kinds) and w >= 1.0}
        for a in actors
    }
    techs = {a: {f for f in docs[a] if f.startswith("attack-pattern--")} for a in actors}
    df = Counter(f for d in docs.values() for f in d)
    n = len(actors)
    idf = {f: math.log(n / c) for f, c in df.items()}
    norms = {a: math.sqrt(sum(idf[f] ** 2 for f in docs[a])) or 1.0 for a in actors}
    out: dict[str, Metrics] = {}
    ranks: dict[str, list[int]] = {"tfidf": [], "jaccard": []}
    seconds: dict[str, list[float]] = {"tfidf": [], "jaccard": []}
    for inc in incidents:
        if inc.held_out:
            continue
        truth = graph.actor_of.get(inc.group)
        items, _ = resolve_items(graph, inc.refs, SOURCE, params)
        query = {i.key for i in items if i.implied_by is None}
        qtech = {q for q in query if q.startswith("attack-pattern--")}
        start = time.perf_counter()
        qnorm = math.sqrt(sum(idf.get(f, 0.0) ** 2 for f in query)) or 1.0
        tfidf = {a: sum(idf[f] ** 2 for f in query & docs[a]) / (norms[a] * qnorm) for a in actors}
        seconds["tfidf"].append(time.perf_counter() - start)
        start = time.perf_counter()
        jac = {a: len(qtech & techs[a]) / (len(qtech | techs[a]) or 1) for a in actors}
        seconds["jaccard"].append(time.perf_counter() - start)
        for name, scores in (("tfidf", tfidf), ("jaccard", jac)):
            mine = scores.get(truth, -1.0) if truth is not None else -1.0
            ranks[name].append(1 + sum(1 for a in actors if scores[a] > mine))
    for name in ranks:
        r = ranks[name]
        m = Metrics(known=len(r))
        if r:
            m.top1 = sum(x == 1 for x in r) / len(r)
            m.top5 = sum(x <= 5 for x in r) / len(r)
            m.mrr = statistics.fmean(1 / x for x in r)
            m.false_accusation = 1.0  # closed set: it always names an actor
            m.latency_ms = 1000 * statistics.fmean(seconds[name])
        out[name] = m
    return out


# --- synthetic scale knowledge base -------------------------------------------------------


def synthetic_kb(
    attack: Sequence[Mapping[str, Any]], profs: Mapping[str, Profile], n: int, seed: int
) -> tuple[list[dict[str, Any]], dict[str, Profile]]:
    """``n`` actors whose technique sets resample real groups' (30 % kept, the rest drawn by
    popularity, so that the ~60 actors drawn from one template are not near-duplicates),
    each with 1–3 malware families of its own and up to 3 popular tools."""
    rng = random.Random(seed)
    by_ext = {external_id(o): o["id"] for o in attack if external_id(o) and not o.get("revoked")}
    templates = sorted(profs.values(), key=lambda p: p.group)
    popularity = Counter(t for p in templates for t in p.techniques)
    pool = sorted(popularity)
    weights = list(itertools.accumulate(popularity[t] for t in pool))
    tools = [s for s, _ in Counter(s for p in templates for s in p.software).most_common(40)]
    tools = [s for s in tools if (by_ext.get(s) or "").startswith("tool--")]
    objects: list[dict[str, Any]] = [dict(o) for o in attack]
    found: dict[str, Profile] = {}

    def rel(src: str, dst: str, k: int) -> dict[str, Any]:
        return {
            "type": "relationship",
            "id": f"relationship--{k:08x}-0000-4000-8000-{zlib.crc32(src.encode()):012x}",
            "relationship_type": "uses",
            "source_ref": src,
            "target_ref": dst,
        }

    counter = 0
    for i in range(n):
        template = templates[rng.randrange(len(templates))]
        kept = [t for t in template.techniques if rng.random() < SYNTHETIC_KEEP]
        size = max(len(template.techniques), 3)
        chosen = set(kept)
        while len(chosen) < size:
            chosen.add(rng.choices(pool, cum_weights=weights)[0])
        techniques = sorted(chosen)
        actor_id = f"intrusion-set--{i:08x}-5e7a-4000-8000-000000000000"
        objects.append(
            {"type": "intrusion-set", "id": actor_id, "name": f"SYNTH-{i:05d}", "aliases": []}
        )
        software: list[str] = []
        malware: list[str] = []
        for j in range(rng.randint(1, 3)):
            ext = f"X{i:05d}{j}"
            mal_id = f"malware--{i:08x}-{j:04x}-4000-8000-000000000000"
            objects.append(
                {
                    "type": "malware",
                    "id": mal_id,
                    "name": f"SynthMal-{i:05d}-{j}",
                    "is_family": True,
                    "external_references": [{"source_name": "mitre-attack", "external_id": ext}],
                }
            )
            by_ext[ext] = mal_id
            software.append(ext)
            malware.append(ext)
            for t in rng.sample(techniques, min(3, len(techniques))):
                counter += 1
                objects.append(rel(mal_id, by_ext[t], counter))
        software += rng.sample(tools, rng.randint(0, min(3, len(tools))))
        for ext in [*techniques, *software]:
            counter += 1
            objects.append(rel(actor_id, by_ext[ext], counter))
        found[actor_id] = Profile(
            actor_id,
            f"SYNTH-{i:05d}",
            tuple(techniques),
            tuple(sorted(set(software))),
            tuple(malware),
            (),
        )
    return objects, found


# --- fitting ------------------------------------------------------------------------------


SEARCH: dict[str, tuple[float, ...]] = {
    "mismatch": (0.002, 0.005, 0.01, 0.02, 0.04, 0.08),
    "smoothing": (4.0, 8.0, 16.0, 32.0, 64.0, 128.0),
    "software_smoothing": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
    "popularity": (0.3, 0.5, 0.7, 0.85, 1.0),
    "size_exponent": (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5),
    "size_cap": (2.0, 4.0, 8.0, 1000.0),
    "implied_weight": (0.0, 0.25, 0.5),
    "software_technique_weight": (0.0, 0.25, 0.5),
    "name_only_weight": (0.003, 0.01, 0.03, 0.1),
}
INNER = {
    # τ ≤ 1.5 by design: a fit on incidents that are exact subsets of ATT&CK profiles would
    # otherwise learn a sharpness real incidents do not earn (τ = 2.8 unconstrained).
    "temperature": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5),
    "unknown_prior": (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
}
FITTED = (*SEARCH, *INNER)
# The targets: false accusation ≤ 2 % and ECE ≤ 0.05 at 40 % observation. The fit
# holds the fitting incidents below them by a margin for the gap between the incidents a
# value was fitted on and fresh ones: false accusation ≤ 1 % at every fraction (a run of
# 158 held-out incidents then exceeds 2 % about one time in thirteen, by Poisson), ECE
# ≤ 0.04 at 40 % (a fit held to exactly 0.05 measured 0.049 on its own incidents and 0.053
# on the evaluation seed).
MAX_FALSE_ACCUSATION = 0.01
MAX_ECE = 0.04
ECE_FRACTIONS = (0.4,)
PENALTY = 100.0


@dataclass
class _Case:
    """One fitting incident's log-likelihoods: distinct ``(fitted, fixed, count)`` terms
    split by prior level, so that each temperature costs one pass and each UNKNOWN prior
    O(1). Actors an incident says nothing about share one term (most of the name-only
    catalogue), hence the counts."""

    ones: list[tuple[float, float, int]]
    zeros: list[tuple[float, float, int]]
    unknown: tuple[float, float]
    truth: tuple[float, float]
    level: int  # 0 profiled actor, 1 name-only actor, 2 UNKNOWN
    fold: int
    fraction: float

    def sums(self, tau: float) -> tuple[float, ...]:
        """Σexp over profiled and name-only actors, UNKNOWN's and the truth's term, and the
        best profiled and name-only terms (for the false-accusation constraint)."""
        ones = [(tau * f + x, n) for f, x, n in self.ones]
        zeros = [(tau * f + x, n) for f, x, n in self.zeros]
        unknown = tau * self.unknown[0] + self.unknown[1]
        best_one = max((x for x, _ in ones), default=-math.inf)
        best_zero = max((x for x, _ in zeros), default=-math.inf)
        top = max(best_one, best_zero, unknown)
        exp = math.exp
        return (
            sum(n * exp(x - top) for x, n in ones),
            sum(n * exp(x - top) for x, n in zeros),
            exp(unknown - top),
            exp(tau * self.truth[0] + self.truth[1] - top),
            exp(best_one - top),
            exp(best_zero - top),
        )


def _terms(pairs: Iterable[tuple[float, float]]) -> list[tuple[float, float, int]]:
    return [(f, x, n) for (f, x), n in sorted(Counter(pairs).items())]


@dataclass(frozen=True)
class FitScore:
    """The objective's parts on the fitting incidents."""

    log_loss: float
    false_accusation: dict[float, float]
    ece: dict[float, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "log_loss": round(self.log_loss, 4),
            "false_accusation": {f"{f:.0%}": round(v, 4) for f, v in self.false_accusation.items()},
            "ece": {f"{f:.0%}": round(v, 4) for f, v in self.ece.items()},
        }


class Fitter:
    """Coordinate descent on the mean log loss of the truth (UNKNOWN for held-out groups),
    with an exhaustive inner grid on temperature and UNKNOWN prior at every step.

    The issue's limits (see ``MAX_FALSE_ACCUSATION``) are honoured on the *fitting*
    incidents with a steep penalty on any excess, so they are constraints rather than
    trade-offs; the log loss covers every fraction. Evaluation incidents never enter it.
    """

    def __init__(
        self,
        objects: Sequence[Mapping[str, Any]],
        folds: Sequence[set[str]],
        incidents: Sequence[Sequence[Incident]],
    ) -> None:
        self.objects = objects
        self.folds = folds
        self.incidents = incidents
        self.graphs: dict[float, list[KnowledgeGraph]] = {}
        self.memo: dict[tuple[Any, ...], tuple[float, Parameters]] = {}
        self.items: dict[tuple[int, Incident], list[EvidenceItem]] = {}
        self.last: tuple[tuple[Any, ...], list[_Case]] | None = None

    def items_for(
        self, graph: KnowledgeGraph, inc: Incident, params: Parameters
    ) -> list[EvidenceItem]:
        """Items depend on the graph only (genuineness is computed when scoring)."""
        key = (id(graph), inc)
        if key not in self.items:
            self.items[key] = evidence(graph, inc, params)
        return self.items[key]

    def graphs_for(self, weight: float) -> list[KnowledgeGraph]:
        if weight not in self.graphs:
            self.graphs[weight] = [
                KnowledgeGraph(without(self.objects, held), software_technique_weight=weight)
                for held in self.folds
            ]
        return self.graphs[weight]

    def loss(self, params: Parameters) -> tuple[float, Parameters]:
        """Best (loss, parameters) over the inner grid for these outer parameters.

        The prior has two levels (profiled actors and name-only ones), so for each
        temperature the sums of exp(τ·loglik) over each level are computed once per
        incident, and every UNKNOWN prior is then O(1).
        """
        key = tuple(getattr(params, k) for k in SEARCH)
        if key in self.memo:
            return self.memo[key]
        graphs = self.graphs_for(params.software_technique_weight)
        cases: list[_Case] = []
        for fold, (graph, incidents) in enumerate(zip(graphs, self.incidents, strict=True)):
            profiled = graph.profiled
            for inc in incidents:
                scored = [score_item(graph, i, params) for i in self.items_for(graph, inc, params)]
                fitted, fitted_u, fixed, fixed_u = log_likelihood_parts(graph, scored, params)
                pairs = list(zip(fitted, fixed, strict=True))
                truth = None if inc.held_out else graph.actor_of.get(inc.group)
                cases.append(
                    _Case(
                        ones=_terms(p for a, p in enumerate(pairs) if a in profiled),
                        zeros=_terms(p for a, p in enumerate(pairs) if a not in profiled),
                        unknown=(fitted_u, fixed_u),
                        truth=(fitted_u, fixed_u) if truth is None else pairs[truth],
                        level=2 if truth is None else (0 if truth in profiled else 1),
                        fold=fold,
                        fraction=inc.fraction,
                    )
                )
        self.last = (key, cases)  # one set only: each holds every actor's terms
        best: tuple[float, Parameters] | None = None
        for tau in INNER["temperature"]:
            sums = [case.sums(tau) for case in cases]
            for pi in INNER["unknown_prior"]:
                trial = params.with_(temperature=tau, unknown_prior=pi)
                value = self.objective(self.components(graphs, cases, sums, trial))
                if best is None or value < best[0]:
                    best = (value, trial)
        assert best is not None
        self.memo[key] = best
        return best

    def components(
        self,
        graphs: Sequence[KnowledgeGraph],
        cases: Sequence[_Case],
        sums: Sequence[tuple[float, ...]],
        params: Parameters,
    ) -> FitScore:
        """Mean log loss over every case; false accusation and ECE per fraction."""
        levels = [self._levels(g, params) for g in graphs]
        total = 0.0
        accused: dict[float, list[bool]] = {}
        tops: dict[float, list[tuple[float, bool]]] = {}
        for (s1, s0, su, st, m1, m0), case in zip(sums, cases, strict=True):
            w = levels[case.fold]
            z = w[0] * s1 + w[1] * s0 + w[2] * su
            p_true = w[case.level] * st / z
            total -= math.log(max(p_true, 1e-12))
            best_named = max(w[0] * m1, w[1] * m0) / z
            p_top = max(best_named, w[2] * su / z)
            tops.setdefault(case.fraction, []).append((p_top, p_true >= p_top * (1 - 1e-9)))
            if case.level == 2:
                accused.setdefault(case.fraction, []).append(best_named >= LIKELY)
        return FitScore(
            log_loss=total / max(len(cases), 1),
            false_accusation={f: sum(a) / max(len(a), 1) for f, a in sorted(accused.items())},
            ece={f: ece(t) for f, t in sorted(tops.items())},
        )

    @staticmethod
    def objective(score: FitScore) -> float:
        """Log loss plus ``PENALTY`` × every excess over the issue's limits."""
        excess = sum(max(r - MAX_FALSE_ACCUSATION, 0.0) for r in score.false_accusation.values())
        excess += sum(max(e - MAX_ECE, 0.0) for f, e in score.ece.items() if f in ECE_FRACTIONS)
        return score.log_loss + PENALTY * excess

    def explain(self, params: Parameters) -> FitScore:
        """The components of the objective at exactly these parameters (for the record)."""
        key = tuple(getattr(params, k) for k in SEARCH)
        if self.last is None or self.last[0] != key:
            self.memo.pop(key, None)
            self.loss(params)
        assert self.last is not None
        cases = self.last[1]
        graphs = self.graphs_for(params.software_technique_weight)
        sums = [case.sums(params.temperature) for case in cases]
        return self.components(graphs, cases, sums, params)

    @staticmethod
    def _levels(graph: KnowledgeGraph, params: Parameters) -> tuple[float, float, float]:
        """(prior of a profiled actor, of a name-only actor, of UNKNOWN)."""
        prior, prior_unknown = priors(graph, params)
        profiled = next((prior[a] for a in graph.profiled), 0.0)
        name_only = next((prior[a] for a in range(len(prior)) if a not in graph.profiled), 0.0)
        return profiled, name_only, prior_unknown

    def run(self, start: Parameters, rounds: int = 3) -> tuple[Parameters, float]:
        loss, current = self.loss(start)
        for _ in range(rounds):
            improved = False
            for name, values in SEARCH.items():
                for value in values:
                    trial_loss, trial = self.loss(current.with_(**{name: value}))
                    if trial_loss < loss - 1e-9:
                        loss, current, improved = trial_loss, trial, True
                shown = {k: getattr(current, k) for k in FITTED}
                print(f"  fit after {name}: loss {loss:.4f} {shown}", file=sys.stderr)
            if not improved:
                break
        return current, loss


# --- driver -------------------------------------------------------------------------------


@dataclass
class Report:
    kb: dict[str, Any] = field(default_factory=dict)
    engine: dict[str, dict[str, Any]] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    synthetic: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    fitted: dict[str, Any] = field(default_factory=dict)
    load: str = ""


def fold_graphs(
    objects: Sequence[Mapping[str, Any]],
    profs: Mapping[str, Profile],
    seed: int,
    folds: int,
    use: int,
    params: Parameters,
) -> list[tuple[KnowledgeGraph, set[str]]]:
    out = []
    for held in make_folds(sorted(profs), seed, folds)[:use]:
        graph = KnowledgeGraph(
            without(objects, held), software_technique_weight=params.software_technique_weight
        )
        out.append((graph, held))
    return out


def fit(
    objects: Sequence[Mapping[str, Any]],
    profs: Mapping[str, Profile],
    common: Sequence[str],
    countries: Sequence[str],
    rounds: int,
    outer_seeds: int,
) -> tuple[Parameters, float, FitScore]:
    """Coordinate descent from the parameters in force on the first ``outer_seeds`` fitting
    seeds, then the inner grid (τ, π_U) on all of them: the outer parameters move little
    with the limits, τ and π_U are what the limits bind, so they get the most incidents."""

    def fitter_for(seeds: Sequence[int]) -> Fitter:
        folds: list[set[str]] = []
        incidents: list[list[Incident]] = []
        for seed in seeds:
            for fold, held in enumerate(make_folds(sorted(profs), seed, FOLDS)):
                folds.append(held)
                incidents.append(
                    [
                        inc
                        for fraction in FRACTIONS
                        for inc in make_incidents(
                            profs, held, fraction, seed, fold, common, countries
                        )
                    ]
                )
        return Fitter(objects, folds, incidents)

    params = DEFAULT_PARAMETERS
    if rounds > 0:
        params, _ = fitter_for(FIT_SEEDS[:outer_seeds]).run(params, rounds=rounds)
    final = fitter_for(FIT_SEEDS)
    params, loss = final.run(params, rounds=0)
    return params, loss, final.explain(params)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 folds, 40 %% only, 2,000 synthetic actors"
    )
    parser.add_argument("--fit", action="store_true", help="fit the free parameters first")
    parser.add_argument(
        "--rounds", type=int, default=3, help="coordinate-descent rounds at most (with --fit)"
    )
    parser.add_argument(
        "--outer-seeds", type=int, default=3, help="fitting seeds for the coordinate descent"
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--synthetic", type=int, default=None, help="synthetic actor count")
    args = parser.parse_args(argv)
    fractions = (0.4,) if args.quick else FRACTIONS
    use_folds = 2 if args.quick else FOLDS
    n_synth = args.synthetic or (2_000 if args.quick else SYNTHETIC_ACTORS)

    attack, actors = load_kb()
    objects = [*attack, *actors]
    full = KnowledgeGraph(objects)
    groups = live_groups(attack)
    profs = profiles(full, groups)
    common = common_techniques(profs, COMMON_POOL)
    countries = sorted({c for a in full.actors for c in a.countries})
    report = Report(
        kb={
            "hypotheses": len(full.actors),
            "attack_groups": len(groups),
            "evaluated_groups": len(profs),
            "profiled_hypotheses": len(full.profiled),
        }
    )
    params = DEFAULT_PARAMETERS
    if args.fit:
        params, loss, score = fit(objects, profs, common, countries, args.rounds, args.outer_seeds)
        report.fitted = {k: getattr(params, k) for k in FITTED} | {
            "objective": round(loss, 4),
            "on_fitting_incidents": score.as_dict(),
            "seeds": list(FIT_SEEDS),
            "outer_seeds": list(FIT_SEEDS[: args.outer_seeds]),
        }
        print("fitted:", json.dumps(report.fitted), file=sys.stderr)
    report.parameters = params.as_dict()

    graphs = fold_graphs(objects, profs, EVAL_SEED, FOLDS, use_folds, params)
    for fraction in fractions:
        outcomes: list[Outcome] = []
        base: dict[str, Metrics] = {}
        base_runs: dict[str, list[Metrics]] = {"tfidf": [], "jaccard": []}
        for fold, (graph, held) in enumerate(graphs):
            incidents = make_incidents(profs, held, fraction, EVAL_SEED, fold, common, countries)
            outcomes += run_engine(graph, incidents, params)
            for name, m in baseline_ranks(graph, incidents).items():
                base_runs[name].append(m)
        report.engine[f"{int(fraction * 100)}%"] = summarise(outcomes).as_dict()
        for name, runs in base_runs.items():
            total = sum(m.known for m in runs) or 1
            base[name] = Metrics(
                known=total,
                top1=sum(m.top1 * m.known for m in runs) / total,
                top1_named=sum(m.top1 * m.known for m in runs) / total,
                top5=sum(m.top5 * m.known for m in runs) / total,
                mrr=sum(m.mrr * m.known for m in runs) / total,
                false_accusation=1.0,
                latency_ms=statistics.fmean(m.latency_ms for m in runs),
            )
            report.baselines.setdefault(name, {})[f"{int(fraction * 100)}%"] = base[name].as_dict()

    synth_objects, synth_profs = synthetic_kb(attack, profs, n_synth, EVAL_SEED)
    synth_ids = sorted(synth_profs)
    held = set(_rng(EVAL_SEED, "synthetic").sample(synth_ids, len(synth_ids) // 5))
    started = time.perf_counter()
    synth_graph = KnowledgeGraph(
        without(synth_objects, held), software_technique_weight=params.software_technique_weight
    )
    build_seconds = time.perf_counter() - started
    sample = _rng(EVAL_SEED, "synthetic-incidents").sample(synth_ids, min(500, len(synth_ids)))
    chosen = {g: synth_profs[g] for g in sample}
    synth_common = common_techniques(synth_profs, COMMON_POOL)
    incidents = make_incidents(chosen, held, 0.4, EVAL_SEED, 0, synth_common, ["ZZ"])
    synth_metrics = summarise(run_engine(synth_graph, incidents, params)).as_dict()
    report.synthetic = {
        "actors": n_synth,
        "graph_build_s": round(build_seconds, 2),
        "incidents": len(incidents),
        "40%": synth_metrics,
    }
    report.load = " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"
    print(render(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report.__dict__, handle, indent=2, sort_keys=True)
    return 0


def _ranks(m: Mapping[str, Any]) -> str:
    return f"{m['top1']:7.3f}{m['top1_named']:7.3f}{m['top5']:7.3f}{m['mrr']:7.3f}"


def _row(label: str, m: Mapping[str, Any]) -> str:
    return (
        f"{label:14}{_ranks(m)}"
        f"{m['false_accusation']:7.3f}{m['false_attribution']:7.3f}{m['unknown_leads']:8.3f}"
        f"{m['brier']:7.3f}{m['ece']:7.3f}{m['ece_15']:7.3f}"
        f"{m['latency_ms']:8.2f}{m['latency_p95_ms']:8.2f}"
    )


def render(report: Report) -> str:
    lines = [f"knowledge base: {report.kb}", f"load average: {report.load}"]
    header = (
        f"{'':14}{'top1':>7}{'named':>7}{'top5':>7}{'MRR':>7}{'FA':>7}{'FAv':>7}{'U-lead':>8}"
        f"{'Brier':>7}{'ECE':>7}{'ECE15':>7}{'ms':>8}{'p95':>8}"
    )
    lines.append(header)
    for frac, m in report.engine.items():
        lines.append(_row(f"accord {frac}", m))
    for name, runs in report.baselines.items():
        for frac, m in runs.items():
            lines.append(
                f"{name + ' ' + frac:14}{_ranks(m)}"
                f"{'1.000':>7}{'1.000':>7}{'-':>8}{'-':>7}{'-':>7}{'-':>7}"
                f"{m['latency_ms']:8.2f}{'-':>8}"
            )
    s = report.synthetic
    if s:
        lines.append(
            _row("synthetic 40%", s["40%"])
            + f"   ({s['actors']} actors, graph built in {s['graph_build_s']} s)"
        )
    if "40%" in report.engine:
        lines.append("reliability at 40% (top hypothesis; 10 bins): bin, n, mean p, accuracy")
        for row in report.engine["40%"]["reliability"]:
            lines.append(
                f"  {row['bin']}  {row['n']:5d}  {row['confidence']:.3f}  {row['accuracy']:.3f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
