"""ICD 203 estimative language, and the rule that likelihood and confidence stay apart.

Probabilities are stated with the ICD 203 terms (``../shared/reference.md``), one set used
consistently. Confidence (low, moderate, high) is a separate judgement about the evidence;
ICD 203 requires that it never appear in the same sentence as a likelihood term, so the
summary builder keeps them in separate sentences and :func:`mixes_likelihood_and_confidence`
lets tests and the builder itself check it.
"""

from __future__ import annotations

import re

# (upper bound, term): a probability p takes the first term whose bound exceeds it; the
# top band is closed. 0.55 is "likely", matching the verdict threshold p ≥ 0.55.
BANDS: tuple[tuple[float, str], ...] = (
    (0.05, "almost no chance"),
    (0.20, "very unlikely"),
    (0.45, "unlikely"),
    (0.55, "roughly even chance"),
    (0.80, "likely"),
    (0.95, "very likely"),
    (float("inf"), "almost certain"),
)
TERMS = tuple(term for _, term in BANDS)
CONFIDENCE_LEVELS = ("low", "moderate", "high")
LIKELY = 0.55
UNLIKELY_MAX = 0.45

_TERM_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(t) for t in sorted(TERMS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_CONFIDENCE_PATTERN = re.compile(r"\bconfiden(ce|t)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def estimative(probability: float) -> str:
    """The ICD 203 term for a probability."""
    for bound, term in BANDS:
        if probability < bound:
            return term
    return BANDS[-1][1]


def percent(probability: float) -> str:
    """A probability as a whole percentage, never a misleading 0% or 100%."""
    value = probability * 100
    if 0 < value < 1:
        return "<1%"
    if 99 < value < 100:
        return ">99%"
    return f"{value:.0f}%"


def statement(probability: float, clause: str) -> str:
    """``It is likely (70%) that <clause>.`` / ``There is almost no chance (2%) that …``:
    the ICD 203 term as the sentence's predicate, never "at unlikely (44%)"."""
    term = estimative(probability)
    if term == "roughly even chance":
        lead = "There is a"
    else:
        lead = "There is" if term.endswith("chance") else "It is"
    return f"{lead} {term} ({percent(probability)}) that {clause}."


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s]


def mixes_likelihood_and_confidence(text: str) -> list[str]:
    """Sentences that state both a likelihood term and a confidence judgement."""
    return [s for s in sentences(text) if _TERM_PATTERN.search(s) and _CONFIDENCE_PATTERN.search(s)]
