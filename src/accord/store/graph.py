"""The neighbourhood of an object: what it references and what references it.

Relationships are followed through to their other end, so a pivot from an indicator
reaches the intrusion set it ``indicates`` in one step, the way an analyst reads a graph.
The walk is breadth-first and capped, because popular nodes (a common ATT&CK technique)
are linked to hundreds of objects.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from accord.model.stix import display_name
from accord.store.store import Store


@dataclass
class Edge:
    source: str
    label: str
    target: str
    via: str | None = None  # the relationship object, when the edge is an SRO

    def as_dict(self) -> dict[str, Any]:
        data = {"source": self.source, "label": self.label, "target": self.target}
        if self.via:
            data["via"] = self.via
        return data


@dataclass
class Neighbourhood:
    root: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "nodes": list(self.nodes.values()),
            "edges": [e.as_dict() for e in self.edges],
            "truncated": self.truncated,
        }


def neighbourhood(store: Store, root: str, depth: int = 1, limit: int = 500) -> Neighbourhood:
    """Objects within ``depth`` steps of ``root`` (at most ``limit`` nodes)."""
    result = Neighbourhood(root=root)
    distance = {root: 0}
    queue = deque([root])
    seen_edges: set[tuple[str, str, str]] = set()

    def add_edge(edge: Edge) -> None:
        key = (edge.source, edge.label, edge.target)
        if key not in seen_edges:
            seen_edges.add(key)
            result.edges.append(edge)

    while queue:
        current = queue.popleft()
        if distance[current] >= depth:
            continue
        neighbours: list[str] = []
        for prop, target in store.references(current):
            if prop in ("source_ref", "target_ref"):
                continue  # the SRO itself is handled from its ends
            add_edge(Edge(current, prop, target))
            neighbours.append(target)
        for source, prop in store.referencing(current):
            if prop in ("source_ref", "target_ref"):
                sro = store.get(source)
                if sro is None:
                    continue
                if sro["type"] == "relationship":
                    other = sro["target_ref"] if prop == "source_ref" else sro["source_ref"]
                    add_edge(
                        Edge(sro["source_ref"], sro["relationship_type"], sro["target_ref"], source)
                    )
                    neighbours.append(other)
                    continue
            add_edge(Edge(source, prop, current))
            neighbours.append(source)
        for other in neighbours:
            if other in distance:
                continue
            if len(distance) >= limit:
                result.truncated = True
                break
            distance[other] = distance[current] + 1
            queue.append(other)
    rows = store.get_many(list(distance))
    for obj_id, dist in sorted(distance.items(), key=lambda item: (item[1], item[0])):
        row = rows.get(obj_id)
        result.nodes[obj_id] = {
            "id": obj_id,
            "type": obj_id.split("--", 1)[0],
            "name": display_name(row.obj) if row else "",
            "distance": dist,
            "in_store": row is not None,
        }
    return result
