"""Dissent: every node's view of an attribution, side by side, never averaged.

Views are the attribution notes that nodes stored about the incident (their verdict and
leading hypothesis) and the STIX ``opinion`` objects about the incident, those notes, or
the allegations made about it. Each view keeps its author, its own evidence references and
its explanation. Disagreement stays visible: there is no consensus figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from accord.store import Store


@dataclass
class View:
    id: str
    kind: str  # "attribution" or "opinion"
    author: str
    author_id: str | None
    about: list[str]
    position: str  # verdict + leader for an attribution, the opinion value for an opinion
    explanation: str = ""
    evidence: list[str] = field(default_factory=list)
    modified: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _author(store: Store, ref: object) -> str:
    if not isinstance(ref, str):
        return "unknown"
    identity = store.get(ref)
    return str(identity.get("name")) if identity else ref


def view_of(store: Store, obj: Mapping[str, Any]) -> View | None:
    """A view from an attribution note or an opinion; None for anything else."""
    author_id = obj.get("created_by_ref")
    author = _author(store, author_id)
    if obj.get("type") == "note" and isinstance(obj.get("x_accord_attribution"), Mapping):
        doc = obj["x_accord_attribution"]
        hypotheses = doc.get("hypotheses") or [{}]
        leader = hypotheses[0]
        evidence = [e.get("ref", "") for e in doc.get("evidence") or []][:10]
        return View(
            id=str(obj["id"]),
            kind="attribution",
            author=author,
            author_id=author_id if isinstance(author_id, str) else None,
            about=list(obj.get("object_refs") or []),
            position=f"{doc.get('verdict')}: {leader.get('name')} "
            f"({leader.get('estimative')}, p={float(leader.get('probability', 0)):.2f})",
            explanation=str(doc.get("summary", "")),
            evidence=evidence,
            modified=str(obj.get("modified", "")),
        )
    if obj.get("type") == "opinion":
        return View(
            id=str(obj["id"]),
            kind="opinion",
            author=author,
            author_id=author_id if isinstance(author_id, str) else None,
            about=list(obj.get("object_refs") or []),
            position=str(obj.get("opinion")),
            explanation=str(obj.get("explanation", "")),
            evidence=[str(r) for r in obj.get("x_accord_evidence_refs") or []],
            modified=str(obj.get("modified", "")),
        )
    return None


def views(store: Store, targets: Iterable[str]) -> list[View]:
    """Views about any of ``targets`` (an incident, its claims), and opinions about those
    views, sorted by author then id."""
    found: dict[str, View] = {}
    frontier = list(dict.fromkeys(targets))
    seen = set(frontier)
    for _ in range(2):
        next_frontier: list[str] = []
        for target in frontier:
            ids = sorted({src for src, prop in store.referencing(target) if prop == "object_refs"})
            for row in store.get_many(ids).values():
                view = view_of(store, row.obj)
                if view is not None and view.id not in found:
                    found[view.id] = view
                    if view.id not in seen:
                        seen.add(view.id)
                        next_frontier.append(view.id)
        frontier = next_frontier
    return sorted(found.values(), key=lambda v: (v.author, v.kind, v.id))
