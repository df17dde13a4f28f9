"""Writing STIX 2.1 bundles out of the store, streamed, under a TLP ceiling.

The bundle is written object by object so that exporting a million objects needs memory
for one page, not for the bundle. Marking definitions that exported objects reference are
included (the standard TLP ones are built in), so the bundle is self-contained and passes
the OASIS validator.

A marking definition appended from the store is itself data: it can carry a statement
under NDA, and a marking of its own. It is appended only when it passes the same ceiling
as the objects: the export's ``tlp_max`` (judged on the stored level *and* its own TLP
marking), or, for objects chosen for one audience (``accord export --peer``), that
audience's own decision (:class:`AudienceObjects`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, runtime_checkable

import orjson

from accord.model.tlp import TLP, level_of_markings, marking_refs, standard_marking
from accord.store.store import ObjectRow, Store


@runtime_checkable
class AudienceObjects(Protocol):
    """Objects already chosen for one audience (a peer's policy): only that audience's
    rules know which referenced marking definitions it may receive, so they, not the
    bundle's ``tlp_max``, decide what is appended."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def marking_for(self, ref: str) -> dict[str, Any] | None:
        """The marking definition ``ref`` as this audience may receive it, or None."""
        ...


@dataclass
class ExportResult:
    objects: int = 0
    withheld_above_tlp: int = 0
    markings_added: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "markings_added": self.markings_added,
            "withheld_above_tlp": self.withheld_above_tlp,
            "by_type": dict(sorted(self.by_type.items())),
        }


def select_rows(
    store: Store,
    *,
    tlp_max: TLP,
    types: Sequence[str] | None = None,
    added_after_us: int | None = None,
    all_versions: bool = False,
) -> Iterator[ObjectRow]:
    """Rows at or below ``tlp_max``, in ``date_added`` order."""
    yield from store.iter_rows(
        types=types, tlp_max=tlp_max, added_after_us=added_after_us, all_versions=all_versions
    )


def count_withheld(store: Store, tlp_max: TLP, types: Sequence[str] | None = None) -> int:
    """How many current objects the TLP ceiling keeps home (reported, never exported)."""
    from sqlalchemy import func, select

    from accord.store import schema as s

    query = select(func.count()).where(s.objects.c.is_current, s.objects.c.tlp > int(tlp_max))
    if types:
        query = query.where(s.objects.c.type.in_(list(types)))
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def write_bundle(
    objects: Iterable[dict[str, Any]],
    out: IO[bytes],
    store: Store | None = None,
    tlp_max: TLP = TLP.AMBER,
) -> ExportResult:
    """Write ``objects`` as one bundle; append referenced marking definitions at the end."""
    result = ExportResult()
    seen_ids: set[str] = set()
    needed_markings: set[str] = set()
    out.write(b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":[')
    first = True
    for obj in objects:
        out.write(b"\n" if first else b",\n")
        out.write(orjson.dumps(obj))
        first = False
        result.objects += 1
        result.by_type[obj["type"]] = result.by_type.get(obj["type"], 0) + 1
        if obj["type"] == "marking-definition":
            seen_ids.add(obj["id"])
        needed_markings.update(marking_refs(obj))
    audience = objects if isinstance(objects, AudienceObjects) else None
    for ref in sorted(needed_markings - seen_ids):
        if audience is not None:
            marking = audience.marking_for(ref)
        else:
            marking = _marking_object(ref, store, tlp_max)
        if marking is None:
            continue
        out.write(b"\n" if first else b",\n")
        out.write(orjson.dumps(marking))
        first = False
        result.markings_added += 1
    out.write(b"\n]}\n")
    return result


def _marking_object(ref: str, store: Store | None, tlp_max: TLP) -> dict[str, Any] | None:
    """The referenced definition: the stored one if the ceiling lets it out, else the
    standard TLP object for a standard id, else nothing."""
    if store is not None:
        row = store.get_row(ref)
        if row is not None and marking_level(row) <= tlp_max:
            return row.obj
    return standard_marking(ref)


def marking_level(row: ObjectRow) -> TLP:
    """The level a stored marking definition is handled at: its indexed level, raised to
    the TLP marking it carries itself (should the index have filed it lower)."""
    own = level_of_markings(row.obj.get("object_marking_refs") or [])
    return max(row.tlp, own) if own is not None else row.tlp
