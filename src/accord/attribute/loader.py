"""Load the knowledge graph from a store, optionally with a bundle laid on top in memory.

The graph needs the knowledge side (actors, techniques, software, infrastructure, their
relationships and the indicators those relationships name) and the incident side (the
incident, what links to it, what those links point at). The bulky types a node collects
by the million (indicators, SCOs, sightings, observed data) are fetched by id only where
a relationship or the incident reaches them, not scanned.

A bundle given to ``accord attribute BUNDLE.json`` is added as an in-memory overlay: the
store is only read, so it is left exactly as it was.

Each object's *origin* (the node that delivered it) comes from the store's provenance:
``peer:<name>`` for what a peer sent, ``local`` for everything this node imported or
created itself (files included: a file does not prove another node stands behind it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from accord.attribute.graph import KnowledgeGraph
from accord.attribute.params import DEFAULT_PARAMETERS, Parameters
from accord.attribute.result import KbInfo
from accord.store import Store
from accord.store import schema as s

SCANNED_TYPES = (
    "intrusion-set",
    "threat-actor",
    "campaign",
    "attack-pattern",
    "malware",
    "tool",
    "infrastructure",
    "identity",
    "location",
    "incident",
    "grouping",
    "report",
    "relationship",
    "note",
    "opinion",
)
_FOLLOW_DEPTH = 3


def _origin(source_kind: str, source_name: str) -> str:
    return f"peer:{source_name}" if source_kind == "peer" else "local"


def _refs(obj: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for key, value in obj.items():
        if key in ("created_by_ref", "object_marking_refs"):
            continue
        if key.endswith("_ref") and isinstance(value, str):
            found.append(value)
        elif key.endswith("_refs") and isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
    return found


def load_objects(
    store: Store, focus: Iterable[str] = ()
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Current objects the graph needs, and their origins.

    ``focus`` are ids (an incident) whose neighbourhood must be complete: the objects that
    reference them (sightings, notes, containers) are fetched too.
    """
    objects: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}
    for row in store.iter_rows(types=list(SCANNED_TYPES)):
        obj = row.obj
        if is_attribution_record(obj):
            continue
        objects[row.id] = obj
        origins[row.id] = _origin(row.source_kind, row.source_name)
    wanted: set[str] = set()
    for ident in focus:
        wanted.add(ident)
        wanted.update(src for src, _ in store.referencing(ident))
    for obj in list(objects.values()):
        wanted.update(_refs(obj))
    for _ in range(_FOLLOW_DEPTH):
        missing = sorted(i for i in wanted if i not in objects)
        if not missing:
            break
        wanted = set()
        for row in store.get_many(missing).values():
            if is_attribution_record(row.obj):
                continue
            objects[row.id] = row.obj
            origins[row.id] = _origin(row.source_kind, row.source_name)
            wanted.update(_refs(row.obj))
            if row.type in ("indicator", "sighting"):
                wanted.update(src for src, _ in store.referencing(row.id))
    return [objects[k] for k in sorted(objects)], origins


def load_graph(
    store: Store,
    focus: Iterable[str] = (),
    overlay: Iterable[Mapping[str, Any]] = (),
    overlay_origin: str = "local",
    params: Parameters = DEFAULT_PARAMETERS,
) -> KnowledgeGraph:
    """The knowledge graph of a store, with ``overlay`` objects laid on top in memory."""
    objects, origins = load_objects(store, focus)
    extra = [dict(o) for o in overlay]
    for obj in extra:
        if isinstance(obj.get("id"), str):
            origins[obj["id"]] = overlay_origin
    return KnowledgeGraph(
        [*objects, *extra], origins, software_technique_weight=params.software_technique_weight
    )


def kb_versions(store: Store) -> dict[str, str]:
    """Every ``kb.*`` entry of the store's meta table (what each knowledge base load was)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(s.meta.c.key, s.meta.c.value).where(s.meta.c.key.like("kb.%"))
        ).all()
    return {key: value for key, value in sorted(rows)}


def is_attribution_record(obj: Mapping[str, Any]) -> bool:
    """An attribution note or opinion: a conclusion, never evidence for the next one, and
    kept out of the graph so that storing a result does not change the next result."""
    return "x_accord_attribution" in obj or "x_accord_attribution_ref" in obj


def kb_info(store: Store | None, graph: KnowledgeGraph) -> KbInfo:
    """What the result rests on: actor count, knowledge-base versions and the digest of
    every object the graph was built from (the store's content, not its clock)."""
    versions = kb_versions(store) if store is not None else {}
    names = sorted(
        {k.split(".")[1] for k in versions if k.count(".") >= 2 and k.endswith(".version")}
    )
    version = "; ".join(f"{n} {versions[f'kb.{n}.version']}" for n in names) or "unversioned"
    return KbInfo(actors=len(graph.actors), version=version, versions=versions, digest=graph.digest)
