"""Admiralty (NATO) grading of evidence sources and what a grade means for the arithmetic.

Every piece of evidence is graded ``<reliability><credibility>``, e.g. ``B2``:

* **Reliability** (A–F) belongs to the *source*. It comes from the creator identity's
  ``x_accord_reliability`` property when a node has graded that partner, else ``F``
  ("cannot be judged"). A node's own first-hand observations default to ``B``: its own
  responders are a source it knows, but not one it may call infallible.
* **Credibility** (1–6) belongs to the *information*. It is read from STIX ``confidence``
  on the Admiralty-credibility scale of STIX 2.1 Appendix A (80–100 → 1, 60–79 → 2,
  40–59 → 3, 20–39 → 4, 0–19 → 5, absent → 6). An item confirmed by independent sources
  is raised to 1, which is the scale's own definition of 1.

The engine needs a number: the probability that the item is genuine, i.e. that it really
reflects the intruder and is not an error or a fabrication. That probability is the
product of a reliability factor and a credibility factor below. Unknown (F, 6) is *not*
treated as bad: it sits between "fairly reliable" and "not usually reliable", because
"cannot be judged" is an absence of knowledge, not knowledge of unreliability.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RELIABILITY_LETTERS = "ABCDEF"
CREDIBILITY_DIGITS = (1, 2, 3, 4, 5, 6)

# Probability that a source of this reliability reports genuine information.
RELIABILITY_FACTOR: Mapping[str, float] = {
    "A": 1.0,
    "B": 0.9,
    "C": 0.75,
    "D": 0.5,
    "E": 0.25,
    "F": 0.6,
}
# Probability that information of this credibility is true.
CREDIBILITY_FACTOR: Mapping[int, float] = {
    1: 1.0,
    2: 0.9,
    3: 0.75,
    4: 0.45,
    5: 0.2,
    6: 0.7,
}
OWN_NODE_RELIABILITY = "B"
RELIABILITY_MEANINGS: Mapping[str, str] = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "reliability cannot be judged",
}
CREDIBILITY_MEANINGS: Mapping[int, str] = {
    1: "confirmed by other independent sources",
    2: "probably true",
    3: "possibly true",
    4: "doubtful",
    5: "improbable",
    6: "truth cannot be judged",
}


@dataclass(frozen=True, slots=True, order=True)
class Grade:
    """An Admiralty grade such as ``B2``."""

    reliability: str = "F"
    credibility: int = 6

    def __post_init__(self) -> None:
        if self.reliability not in RELIABILITY_LETTERS:
            raise ValueError(f"reliability must be one of A–F, got {self.reliability!r}")
        if self.credibility not in CREDIBILITY_DIGITS:
            raise ValueError(f"credibility must be 1–6, got {self.credibility!r}")

    def __str__(self) -> str:
        return f"{self.reliability}{self.credibility}"

    @property
    def factor(self) -> float:
        """Probability that an item of this grade is genuine."""
        return RELIABILITY_FACTOR[self.reliability] * CREDIBILITY_FACTOR[self.credibility]

    @classmethod
    def parse(cls, text: str) -> Grade:
        value = text.strip().upper()
        if len(value) != 2 or not value[1].isdigit():
            raise ValueError(f"not an Admiralty grade (e.g. B2): {text!r}")
        return cls(value[0], int(value[1]))


UNGRADED = Grade("F", 6)


def credibility_from_confidence(confidence: object) -> int:
    """STIX ``confidence`` (0–100) read on the Admiralty credibility scale; absent → 6."""
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        return 6
    value = float(confidence)
    if value >= 80:
        return 1
    if value >= 60:
        return 2
    if value >= 40:
        return 3
    if value >= 20:
        return 4
    return 5


def reliability_of(identity: Mapping[str, Any] | None, *, own: bool = False) -> str:
    """Reliability letter of a source identity (``x_accord_reliability``), F when ungraded."""
    if identity is not None:
        letter = identity.get("x_accord_reliability")
        if isinstance(letter, str) and len(letter) == 1 and letter.upper() in "ABCDEF":
            return letter.upper()
    return OWN_NODE_RELIABILITY if own else "F"


def better(a: Grade, b: Grade) -> Grade:
    """The stronger of two grades, letter and digit taken separately by their factors.

    "Cannot be judged" (F, 6) ranks above "not usually reliable" (D) and "doubtful" (4), as
    in the factor tables: an unknown is not a known weakness.
    """
    letter = max(a.reliability, b.reliability, key=lambda r: (RELIABILITY_FACTOR[r], -ord(r)))
    digit = max(a.credibility, b.credibility, key=lambda c: (CREDIBILITY_FACTOR[c], -c))
    return Grade(letter, digit)
