"""The model's parameters: the few fitted on the evaluation harness, and the fixed ones.

Fitted (``benchmarks/attribution_eval.py --fit``, 2026-11-25; ``docs/attribution.md``
section 4 has the whole account): ``unknown_prior``, ``smoothing``,
``software_smoothing``, ``mismatch``, ``popularity``, ``temperature``, ``size_exponent``,
``size_cap``, ``name_only_weight``, ``implied_weight`` and ``software_technique_weight``
(the last is applied when the graph is built).

* Objective: mean log loss of the true hypothesis (UNKNOWN for a held-out group) over
  synthetic incidents at 20, 40 and 60 % observation of every ATT&CK group, open set
  (five folds, each holding 20 % of the groups out of the knowledge base), with limits
  held as constraints: a named actor at "likely" in at most 1 % of held-out incidents at
  every fraction, ECE at most 0.04 at 40 % (the issue's targets are 2 % and 0.05).
* Data: fitting seeds 7–12 (``FIT_SEEDS``), 4,740 incidents per fraction; coordinate
  descent over the outer parameters on seeds 7–9 (three rounds), the inner grid over
  ``temperature`` and ``unknown_prior`` on all six. Evaluated on another seed
  (``EVAL_SEED`` = 20261125): top-5 0.986, false accusation 1.9 %, ECE 0.039 at 40 %.
* ``temperature`` is at its design cap (1.5) and ``name_only_weight`` at the smallest
  value tried; ``size_cap`` = 1000 means the fit chose no cap.

Fixed by design, because the harness (ATT&CK techniques and software only) holds no data
that could fit them: the reference actor count, the partial-match weights, the mismatch
rates of the value, victimology, artefact and timing channels, the timing margin and the
spoofability of each kind of evidence. Each is documented where it is used.

Every result records the parameters it was computed with, so that a reviewer can recompute
it from the same store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

# Probability that an item of this kind was planted by someone other than its apparent
# owner. Strings, language and time zone cost nothing to plant; a private malware family
# or unique infrastructure costs the intruder its own operational security.
DEFAULT_SPOOFABILITY: dict[str, float] = {
    "technique": 0.1,
    "malware": 0.1,
    "tool": 0.3,
    "software": 0.2,
    "hash": 0.1,
    "domain": 0.15,
    "url": 0.15,
    "ip": 0.25,
    "email": 0.3,
    "indicator": 0.15,
    "infrastructure": 0.1,
    "victimology": 0.0,
    "timing": 0.0,
    "artefact": 0.8,
}
SPOOFABLE_AT = 0.5
# The channels the harness can fit (ATT&CK techniques and software): the temperature applies
# to their items only.
FITTED_CHANNELS = frozenset({"technique", "software"})

# Probability that an actor *other* than the one the knowledge base ties a value to shows
# that same value anyway: shared hosting and VPN exits for addresses, re-registered domains,
# leaked builders for file hashes. Planting is separate (spoofability above).
DEFAULT_VALUE_MISMATCH: dict[str, float] = {
    "hash": 0.002,
    "domain": 0.01,
    "url": 0.01,
    "email": 0.01,
    "ip": 0.05,
    "infrastructure": 0.01,
    "indicator": 0.01,
}


@dataclass(frozen=True)
class Parameters:
    """Every number the posterior depends on."""

    # Fitted on the harness.
    unknown_prior: float = 0.5
    smoothing: float = 32.0
    software_smoothing: float = 8.0
    mismatch: float = 0.002
    popularity: float = 0.5
    temperature: float = 1.5
    size_exponent: float = 1.25
    size_cap: float = 1000.0
    implied_weight: float = 0.25
    software_technique_weight: float = 0.0
    name_only_weight: float = 0.003
    # Fixed by design.
    reference_actors: int = 100
    parent_weight: float = 0.5
    value_mismatch: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_VALUE_MISMATCH))
    victim_mismatch: float = 0.3
    artefact_mismatch: float = 0.2
    timing_mismatch: float = 0.2
    timing_margin_days: int = 365
    spoofability: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SPOOFABILITY))

    def temperature_of(self, channel: str) -> float:
        return self.temperature if channel in FITTED_CHANNELS else 1.0

    def channel_smoothing(self, channel: str) -> float:
        return self.software_smoothing if channel == "software" else self.smoothing

    def channel_mismatch(self, channel: str, subkind: str = "") -> float:
        if channel == "value":
            return self.value_mismatch.get(subkind, self.value_mismatch["indicator"])
        return {
            "victimology": self.victim_mismatch,
            "artefact": self.artefact_mismatch,
            "timing": self.timing_mismatch,
        }.get(channel, self.mismatch)

    def spoofability_of(self, kind: str) -> float:
        return self.spoofability.get(kind, self.spoofability.get("indicator", 0.15))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spoofability"] = dict(sorted(self.spoofability.items()))
        data["value_mismatch"] = dict(sorted(self.value_mismatch.items()))
        return data

    def with_(self, **changes: Any) -> Parameters:
        return replace(self, **changes)


DEFAULT_PARAMETERS = Parameters()
