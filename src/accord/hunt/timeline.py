"""Incident timeline: the first trace of a compromise from sightings, next to the dates the
victim recorded, and the dwell time between them.

The incident's indicators are found from the store's graph, never guessed:

* **direct**: linked to the incident by a relationship (either direction), or listed with it
  in the ``object_refs`` of a report or grouping;
* **same value**: other indicators naming a value a direct one names (a partner's indicator
  for the same C2 domain);
* **same threat**: indicators that ``indicates`` the malware, infrastructure or intrusion set
  that a direct or same-value indicator ``indicates``. These are shown, marked as such, but
  the first trace comes from the first two groups only, which are about this incident.

Sightings count when they were made where the incident happened: ``where_sighted_refs``
includes the incident's creator or this node's identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from accord.hunt import tables as t
from accord.model.errors import NotFound
from accord.model.incident import incident_timeline
from accord.model.timestamps import format_micros, stix_micros
from accord.store import schema as s
from accord.store.store import Store

_DAY_US = 86_400_000_000


@dataclass
class IndicatorTrace:
    indicator_id: str
    name: str | None
    values: list[str]
    link: str  # direct | same value | same threat
    first_seen_us: int | None = None
    last_seen_us: int | None = None
    count: int = 0
    first_hit: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator_id,
            "name": self.name,
            "values": self.values,
            "link": self.link,
            "first_seen": format_micros(self.first_seen_us) if self.first_seen_us else None,
            "last_seen": format_micros(self.last_seen_us) if self.last_seen_us else None,
            "count": self.count,
            "first_hit": self.first_hit,
        }


@dataclass
class Timeline:
    incident_id: str
    name: str
    first_trace_us: int | None
    first_trace: IndicatorTrace | None
    detected_us: int | None
    disclosed_us: int | None
    reported_start_us: int | None
    records_affected: int | None
    indicators: list[IndicatorTrace] = field(default_factory=list)

    @property
    def dwell_days(self) -> int | None:
        if self.first_trace_us is None or self.detected_us is None:
            return None
        return int((self.detected_us - self.first_trace_us) // _DAY_US)

    def as_dict(self) -> dict[str, Any]:
        def ts(v: int | None) -> str | None:
            return format_micros(v) if v is not None else None

        return {
            "incident": self.incident_id,
            "name": self.name,
            "first_trace": ts(self.first_trace_us),
            "first_trace_indicator": self.first_trace.as_dict() if self.first_trace else None,
            "reported_start": ts(self.reported_start_us),
            "detected": ts(self.detected_us),
            "disclosed": ts(self.disclosed_us),
            "records_affected": self.records_affected,
            "dwell_time_days": self.dwell_days,
            "indicators": [i.as_dict() for i in self.indicators],
        }

    def render_text(self) -> list[str]:
        lines = [f"Incident: {self.name} ({self.incident_id})"]
        events: list[tuple[int, str]] = []
        if self.first_trace_us is not None and self.first_trace is not None:
            trace = self.first_trace
            what = ", ".join(trace.values[:2]) or trace.indicator_id
            where = ""
            if trace.first_hit:
                hit = trace.first_hit
                where = f" ({hit['observed']} in {hit['file']}:{hit['line']})"
            events.append((self.first_trace_us, f"first trace: {what}{where}"))
        if self.reported_start_us is not None:
            events.append((self.reported_start_us, "start as reported at detection"))
        if self.detected_us is not None:
            events.append((self.detected_us, "detected"))
        if self.disclosed_us is not None:
            events.append((self.disclosed_us, "disclosed"))
        for moment, text in sorted(events):
            lines.append(f"  {format_micros(moment)[:10]}  {text}")
        if self.first_trace_us is None:
            lines.append("No sighting of the incident's indicators yet (run `accord hunt`).")
        if self.dwell_days is not None:
            lines.append(f"Dwell time: {self.dwell_days} days from the first trace to detection.")
        if self.records_affected is not None:
            lines.append(f"Records affected: {self.records_affected:,}.")
        for trace in self.indicators:
            seen = (
                f"first {format_micros(trace.first_seen_us)[:10]}, {trace.count} sighting(s)"
                if trace.first_seen_us
                else "not sighted"
            )
            lines.append(
                f"  [{trace.link}] {trace.name or trace.indicator_id}: "
                f"{', '.join(trace.values[:2])} — {seen}"
            )
        return lines


def _linked(store: Store, incident_id: str) -> set[str]:
    ids = {dst for _prop, dst in store.references(incident_id)}
    for src, _prop in store.referencing(incident_id):
        row = store.get_row(src)
        if row is None:
            continue
        obj = row.obj
        if row.type == "relationship":
            ids.add(
                obj["target_ref"] if obj.get("source_ref") == incident_id else obj["source_ref"]
            )
        elif row.type in ("report", "grouping"):
            ids.update(obj.get("object_refs") or [])
    ids.discard(incident_id)
    return ids


def _values(store: Store, ids: set[str]) -> dict[str, list[tuple[str, str]]]:
    v = s.observables
    found: dict[str, list[tuple[str, str]]] = {}
    with store.engine.connect() as conn:
        chunk = sorted(ids)
        for start in range(0, len(chunk), 500):
            for r in conn.execute(
                select(v.c.obj_id, v.c.kind, v.c.value).where(
                    v.c.obj_id.in_(chunk[start : start + 500])
                )
            ):
                found.setdefault(r.obj_id, []).append((r.kind, r.value))
    return found


def _indicators_with_values(store: Store, pairs: set[tuple[str, str]]) -> set[str]:
    v, o = s.observables, s.objects
    found: set[str] = set()
    with store.engine.connect() as conn:
        for kind, value in sorted(pairs):
            for r in conn.execute(
                select(v.c.obj_id)
                .join(o, o.c.row_id == v.c.row_id)
                .where(and_(v.c.kind == kind, v.c.value == value, o.c.type == "indicator"))
            ):
                found.add(r.obj_id)
    return found


def _indicates(store: Store, indicator_ids: set[str]) -> set[str]:
    targets: set[str] = set()
    for ind in indicator_ids:
        for src, _prop in store.referencing(ind, "source_ref"):
            row = store.get_row(src)
            if row is not None and row.obj.get("relationship_type") == "indicates":
                targets.add(row.obj["target_ref"])
    return targets


def _indicating(store: Store, targets: set[str]) -> set[str]:
    found: set[str] = set()
    for target in targets:
        for src, _prop in store.referencing(target, "target_ref"):
            row = store.get_row(src)
            if row is not None and row.obj.get("relationship_type") == "indicates":
                found.add(row.obj["source_ref"])
    return found


def _sightings(store: Store, ids: set[str], places: set[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for ind in ids:
        for src, _prop in store.referencing(ind, "sighting_of_ref"):
            row = store.get_row(src)
            if row is None or row.type != "sighting" or row.revoked:
                continue
            obj = row.obj
            where = set(obj.get("where_sighted_refs") or [])
            if places and not where & places:
                continue
            found.setdefault(ind, []).append(obj)
    return found


def _first_hit(store: Store, indicator_id: str) -> dict[str, Any] | None:
    h, f = t.hunt_hits, t.hunt_files
    with store.engine.connect() as conn:
        r = conn.execute(
            select(f.c.path, h.c.line, h.c.observed, h.c.ts_us, h.c.log_type)
            .join(f, f.c.file_id == h.c.file_id)
            .where(h.c.indicator_id == indicator_id, h.c.ts_us.is_not(None))
            .order_by(h.c.ts_us)
            .limit(1)
        ).first()
    if r is None:
        return None
    return {
        "file": r.path,
        "line": int(r.line),
        "observed": r.observed,
        "log_type": r.log_type,
        "timestamp": format_micros(r.ts_us),
    }


def _micros(value: str | None) -> int | None:
    return stix_micros(value) if value else None


def build_timeline(store: Store, incident_id: str, *, identity_id: str | None = None) -> Timeline:
    """The timeline of an incident from the store's sightings (see the module docstring)."""
    row = store.get_row(incident_id)
    if row is None or row.type != "incident":
        raise NotFound(f"no incident {incident_id} in the store")
    incident = row.obj
    dates = incident_timeline(incident)
    linked = _linked(store, incident_id)
    types = store.get_many(sorted(linked))
    direct = {i for i in linked if i in types and types[i].type == "indicator"}
    values = _values(store, direct)
    same_value = _indicators_with_values(store, {p for vs in values.values() for p in vs}) - direct
    core = direct | same_value
    same_threat = _indicating(store, _indicates(store, core)) - core
    everything = core | same_threat
    values = _values(store, everything)
    rows = store.get_many(sorted(everything))
    places = {p for p in (identity_id, incident.get("created_by_ref")) if p}
    sightings = _sightings(store, everything, places)
    traces: list[IndicatorTrace] = []
    for ind in sorted(everything):
        link = "direct" if ind in direct else "same value" if ind in same_value else "same threat"
        obj = rows[ind].obj if ind in rows else {}
        trace = IndicatorTrace(ind, obj.get("name"), [v for _k, v in values.get(ind, [])], link)
        for sighting in sightings.get(ind, []):
            first = _micros(sighting.get("first_seen"))
            last = _micros(sighting.get("last_seen"))
            trace.count += int(sighting.get("count") or 0)
            if first is not None and (trace.first_seen_us is None or first < trace.first_seen_us):
                trace.first_seen_us = first
            if last is not None and (trace.last_seen_us is None or last > trace.last_seen_us):
                trace.last_seen_us = last
        if trace.first_seen_us is not None:
            trace.first_hit = _first_hit(store, ind)
        traces.append(trace)
    traces.sort(key=lambda x: (x.first_seen_us is None, x.first_seen_us or 0, x.indicator_id))
    candidates = [x for x in traces if x.link != "same threat" and x.first_seen_us is not None]
    first_trace = candidates[0] if candidates else None
    return Timeline(
        incident_id=incident_id,
        name=incident.get("name", incident_id),
        first_trace_us=first_trace.first_seen_us if first_trace else None,
        first_trace=first_trace,
        detected_us=_micros(dates.get("detected")),
        disclosed_us=_micros(dates.get("disclosed")),
        reported_start_us=_micros(dates.get("reported_start")),
        records_affected=dates.get("records_affected"),
        indicators=traces,
    )
