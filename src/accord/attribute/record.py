"""The attribution as STIX: a ``note`` by this node about the incident, holding the result.

One note per (node, incident): its id is UUIDv5 over both, so a re-assessment is a new
*version* of the same note (the store keeps every version: the history of the judgement),
and an unchanged result stores nothing. The note carries the result's TLP, the most
restrictive level of the incident and of everything the result cites or rests on
(``marking.py``), so it is shared no further than its most restricted evidence; the
incident's other markings are kept. A result that rests on unmarked data (which stays
home) gives a TLP:RED note, never an explicit lower marking that would let it out.

Note properties: ``abstract`` (verdict and leader), ``content`` (the ICD 203 summary),
``object_refs`` (the incident), ``labels: ["accord-attribution"]`` and
``x_accord_attribution`` (the whole result document, as ``accord attribute --json``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from accord.attribute.language import percent
from accord.attribute.marking import result_handling, result_markings
from accord.attribute.result import AttributionResult
from accord.model.timestamps import format_millis, now_utc, stix_micros
from accord.store import Store

NAMESPACE = uuid.UUID("0e8c7e55-2c2f-5d0a-9a53-5c1f0f4b7a61")
LABEL = "accord-attribution"


def note_id(identity_id: str, incident_id: str) -> str:
    return f"note--{uuid.uuid5(NAMESPACE, f'attribution|{identity_id}|{incident_id}')}"


def attribution_note(
    result: AttributionResult,
    identity_id: str,
    *,
    markings: list[str] | None = None,
    created: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    stamp = format_millis(now or now_utc())
    leader = result.leader
    note: dict[str, Any] = {
        "type": "note",
        "spec_version": "2.1",
        "id": note_id(identity_id, result.incident),
        "created": created or stamp,
        "modified": stamp,
        "created_by_ref": identity_id,
        "abstract": f"accord attribution: {result.verdict}; leading hypothesis {leader.name} "
        f"({leader.estimative}, {percent(leader.probability)})",
        "content": result.summary,
        "object_refs": [result.incident],
        "labels": [LABEL],
        "x_accord_attribution": result.to_dict(),
    }
    if markings:
        note["object_marking_refs"] = list(markings)
    return note


def save_attribution(
    store: Store, result: AttributionResult, identity_id: str, now: datetime | None = None
) -> tuple[str, bool]:
    """Store the note; ``(id, stored)``, with ``stored`` False when nothing changed (the
    same document under the same markings: marking the evidence later changes the note's
    handling even when the result is the same)."""
    ident = note_id(identity_id, result.incident)
    current = store.get(ident)
    document = result.to_dict()
    incident = store.get(result.incident) or {}
    stays_home = result_handling(store, result).stays_home
    markings = result_markings(result, incident, stays_home=stays_home)
    if (
        current is not None
        and current.get("x_accord_attribution") == document
        and list(current.get("object_marking_refs") or []) == markings
    ):
        return ident, False
    stamp = now or now_utc()
    if current is not None and stix_micros(format_millis(stamp)) <= stix_micros(
        current["modified"]
    ):
        stamp = datetime.fromtimestamp(
            (stix_micros(current["modified"]) + 1000) / 1e6, stamp.tzinfo
        )
    note = attribution_note(
        result,
        identity_id,
        markings=markings,
        created=current["created"] if current is not None else None,
        now=stamp,
    )
    store.put_objects([note], "node", "attribution")
    return ident, True
