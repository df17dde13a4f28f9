"""Dissent: every node's view of an attribution, side by side, never averaged.

Views are the attribution notes that nodes stored about the incident (their verdict and
leading hypothesis) and the STIX ``opinion`` objects about the incident, those notes, or
the allegations made about it. Each view keeps its author, its own evidence references and
its explanation. Disagreement stays visible: there is no consensus figure.

Each view carries its ``tlp``: the store's effective TLP of the view object, raised to that
of its author's identity (whose name it shows). Whatever shows a view beside a result (the
HTML report, ``--json``'s ``dissent``, the text form) is handled at the highest of the
result's level and its views' (``marking.shown_tlp``): another node's RED opinion printed
in a GREEN report would otherwise reach whoever the report goes to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from accord.model.tlp import TLP
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
    # ``TLP:RED``…: how the view must be handled; empty when built without the store's
    # row (``view_of`` alone), which renderers treat as RED.
    tlp: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _author(store: Store, ref: object) -> tuple[str, TLP]:
    """The author's name, and the level of the identity it comes from (CLEAR when the name
    is not taken from a stored object)."""
    if not isinstance(ref, str):
        return "unknown", TLP.CLEAR
    row = store.get_row(ref)
    if row is None:
        return ref, TLP.CLEAR
    return str(row.obj.get("name")), row.tlp


def view_of(store: Store, obj: Mapping[str, Any], level: TLP | None = None) -> View | None:
    """A view from an attribution note or an opinion; None for anything else. ``level``
    is the object's effective TLP (its store row's); without it the view's ``tlp`` stays
    empty, which renderers treat as RED."""
    author_id = obj.get("created_by_ref")
    author, author_level = _author(store, author_id)
    tlp = str(max(level, author_level)) if level is not None else ""
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
            tlp=tlp,
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
            tlp=tlp,
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
                view = view_of(store, row.obj, row.tlp)
                if view is not None and view.id not in found:
                    found[view.id] = view
                    if view.id not in seen:
                        seen.add(view.id)
                        next_frontier.append(view.id)
        frontier = next_frontier
    return sorted(found.values(), key=lambda v: (v.author, v.kind, v.id))
