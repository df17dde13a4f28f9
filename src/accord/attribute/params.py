"""The model's parameters: the few fitted on the evaluation harness, and the fixed ones.

Fitted (``benchmarks/attribution_eval.py --fit``, on the fitting seed, scored on separate
evaluation seeds; see ``docs/attribution.md``): ``unknown_prior``, ``smoothing``,
``software_smoothing``, ``mismatch``, ``popularity``, ``temperature``, ``size_exponent``,
``implied_weight`` and ``software_technique_weight`` (the last is applied when the graph
is built).

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
    unknown_prior: float = 0.4
    smoothing: float = 4.0
    software_smoothing: float = 0.5
    mismatch: float = 0.002
    popularity: float = 0.5
    temperature: float = 1.0
    size_exponent: float = 1.5
    implied_weight: float = 0.0
    software_technique_weight: float = 0.0
    name_only_weight: float = 0.1
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
