"""Check bare values against the warninglists: the ``accord check`` command's engine.

A value is typed with :func:`accord.model.observables.classify` (the same guess a search
term gets), then looked up like any observable. A value that cannot be typed yields a
result carrying the reason instead of an exception, so that one typo in a list of values
does not hide the answers for the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accord.ingest.warninglists.lookup import WarninglistMatch, is_suppressed, lookup
from accord.model.observables import Observable, classify
from accord.store.store import Store


@dataclass
class CheckResult:
    """What the warninglists say about one value as given."""

    value: str
    observable: Observable | None = None
    matches: list[WarninglistMatch] = field(default_factory=list)
    error: str | None = None

    @property
    def suppressed(self) -> bool:
        return is_suppressed(self.matches)

    def as_dict(self) -> dict[str, Any]:
        if self.observable is None:
            return {"value": self.value, "error": self.error}
        return {
            "value": self.value,
            "kind": self.observable.kind,
            "normalized": self.observable.value,
            "suppressed": self.suppressed,
            "matches": [m.as_dict() for m in self.matches],
        }


def check_values(store: Store, values: list[str]) -> list[CheckResult]:
    """One result per value, in the order given (duplicates included)."""
    results: list[CheckResult] = []
    for value in values:
        try:
            results.append(CheckResult(value, classify(value)))
        except ValueError as exc:
            results.append(CheckResult(value, error=f"{value!r} is not a checkable value: {exc}"))
    found = lookup(store, [r.observable for r in results if r.observable is not None])
    for result in results:
        if result.observable is not None:
            result.matches = found.get(result.observable, [])
    return results
