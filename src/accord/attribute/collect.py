"""What the store links to an incident, turned into evidence items.

The incident is an ``incident`` SDO, or a ``grouping``/``report`` whose ``context`` or
``report_types`` say ``incident``. Its evidence is reached through:

* relationships with the incident at either end (``uses``, ``indicates``, ``related-to``,
  ``targets``…); ``attributed-to`` is a *claim* and is never evidence;
* the container's ``object_refs``, and those of any grouping or report that contains it;
* objects that point at the incident (sightings, ``note`` objects with an artefact);
* sightings reached that way count as the sighted object, reported by the sighter.

Each object is resolved against the knowledge base by STIX id, ATT&CK id or name/alias,
so that evidence produced by another tool with its own ids still counts. The *carrier*
(the relationship, sighting or container that links it) says who reports it: its
``created_by_ref`` gives the source and reliability, its ``confidence`` the credibility,
and the store's provenance the node it came through.

**Artefacts** are recorded as a ``note`` whose ``object_refs`` include the incident, with
``x_accord_artefact: {"kind": "language|timezone|string|…", "value": "…",
"country": "<ISO 3166 alpha-2, optional>"}``. They are always spoofable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from accord.attribute.evidence import (
    EvidenceItem,
    Source,
    artefact_item,
    merge,
    software_items,
    technique_item,
    unknown_software_item,
)
from accord.attribute.grading import Grade, credibility_from_confidence, reliability_of
from accord.attribute.graph import (
    ACTOR_TYPES,
    SOFTWARE_TYPES,
    VALUE_CLASS,
    KnowledgeGraph,
    external_id,
    object_values,
    value_key,
)
from accord.attribute.params import Parameters
from accord.model.errors import InputError, NotFound
from accord.model.incident import incident_timeline
from accord.model.observables import Observable
from accord.model.stix import SCO_TYPES
from accord.model.timestamps import format_micros, stix_micros

CLAIM_RELATIONSHIP = "attributed-to"
CONTAINERS = frozenset({"grouping", "report"})


def is_incident(obj: Mapping[str, Any]) -> bool:
    """An incident SDO, or a grouping/report that stands for one."""
    if obj.get("type") == "incident":
        return True
    if obj.get("type") == "grouping":
        return str(obj.get("context", "")).casefold() == "incident"
    if obj.get("type") == "report":
        return "incident" in [str(t).casefold() for t in obj.get("report_types") or []]
    return False


@dataclass
class Collected:
    """The incident's evidence (merged), what could not be weighed, and its claims."""

    incident: dict[str, Any]
    items: list[EvidenceItem]
    unresolved: list[dict[str, str]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)


class _Collector:
    def __init__(
        self,
        graph: KnowledgeGraph,
        incident: dict[str, Any],
        params: Parameters,
        own_identity: str | None,
        extra_refs: Iterable[str] = (),
        extra_source: Source | None = None,
    ) -> None:
        self.graph = graph
        self.incident = incident
        self.params = params
        self.own = own_identity
        self.items: list[EvidenceItem] = []
        self.unresolved: dict[str, dict[str, str]] = {}
        self.claims: list[dict[str, Any]] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.extra_refs = list(extra_refs)
        self.extra_source = extra_source

    # --- sources -----------------------------------------------------------------------

    def source(self, carrier: Mapping[str, Any], obj: Mapping[str, Any] | None = None) -> Source:
        creator = carrier.get("created_by_ref")
        identity = self.graph.get(creator) if isinstance(creator, str) else None
        own = creator is not None and creator == self.own
        letter = reliability_of(identity, own=own)
        confidence = carrier.get("confidence")
        if confidence is None and obj is not None:
            confidence = obj.get("confidence")
        digit = credibility_from_confidence(confidence)
        name = str(identity.get("name")) if identity else (creator or "unknown source")
        origin = self.graph.origins.get(str(carrier.get("id")), "local")
        return Source(
            identity=creator if isinstance(creator, str) else None,
            name=name,
            origin=origin,
            grade=Grade(letter, digit),
            ref=str(carrier.get("id", "")),
        )

    def skip(self, ref: str, kind: str, label: str, reason: str) -> None:
        entry = {"ref": ref, "kind": kind, "label": label, "reason": reason}
        self.unresolved.setdefault(ref, entry)

    # --- walking -----------------------------------------------------------------------

    def run(self) -> Collected:
        inc_id = self.incident["id"]
        for rel in self.graph.relationships(inc_id):
            if rel.get("relationship_type") == CLAIM_RELATIONSHIP:
                if rel.get("source_ref") == inc_id:
                    self.claims.append(rel)
                continue
            other = rel["target_ref"] if rel["source_ref"] == inc_id else rel["source_ref"]
            self.visit(other, rel)
        for ref in self.incident.get("object_refs") or []:
            self.visit(ref, self.incident)
        for src_id, prop in self.graph.ref_in.get(inc_id, ()):
            carrier = self.graph.get(src_id)
            if carrier is None or carrier.get("revoked") is True:
                continue
            ctype = carrier.get("type")
            if ctype in CONTAINERS and prop == "object_refs":
                for ref in carrier.get("object_refs") or []:
                    if ref != inc_id:
                        self.visit(ref, carrier)
            elif ctype == "note":
                self.note(carrier)
            elif ctype == "sighting":
                self.sighting(carrier)
        if self.extra_refs and self.extra_source is not None:
            self.visit_refs(self.extra_refs, self.extra_source)
        self.timing()
        return Collected(
            incident=self.incident,
            items=merge(self.items),
            unresolved=[self.unresolved[k] for k in sorted(self.unresolved)],
            claims=sorted(self.claims, key=lambda r: r["id"]),
        )

    def visit_refs(self, refs: Iterable[str], source: Source) -> None:
        """References given outside STIX (a claim's ``--evidence``): ids, ATT&CK ids, names."""
        for ref in refs:
            target = self.graph.resolve(ref)
            if target is None:
                self.skip(ref, "reference", ref, "not found in the store or knowledge base")
                continue
            obj = self.graph.get(target) or {}
            self.expand(obj, source)

    def visit(self, ref: str, carrier: Mapping[str, Any]) -> None:
        obj = self.graph.get(ref)
        if obj is None:
            self.skip(ref, "reference", ref, "not in the store")
            return
        if obj.get("revoked") is True and obj.get("type") not in ("attack-pattern",):
            self.skip(ref, obj.get("type", "object"), ref, "revoked")
            return
        if obj.get("type") == "sighting":
            self.sighting(obj)
            return
        if obj.get("type") == "note":
            self.note(obj)
            return
        self.expand(obj, self.source(carrier, obj))

    def sighting(self, sighting: Mapping[str, Any]) -> None:
        for prop, bucket in (("first_seen", self.starts), ("last_seen", self.ends)):
            if isinstance(sighting.get(prop), str):
                bucket.append(stix_micros(sighting[prop]))
        target = self.graph.get(str(sighting.get("sighting_of_ref", "")))
        if target is None:
            self.skip(str(sighting.get("sighting_of_ref")), "sighting", "", "not in the store")
            return
        self.expand(target, self.source(sighting, target))

    def note(self, note: Mapping[str, Any]) -> None:
        artefact = note.get("x_accord_artefact")
        if not isinstance(artefact, Mapping):
            return
        kind, value = artefact.get("kind"), artefact.get("value")
        if not (isinstance(kind, str) and isinstance(value, str)):
            self.skip(str(note["id"]), "artefact", "", "x_accord_artefact needs kind and value")
            return
        country = artefact.get("country")
        item = artefact_item(
            kind,
            value,
            self.source(note),
            self.params,
            country=country if isinstance(country, str) else None,
            ref=str(note["id"]),
        )
        self.items.append(item)

    # --- one object --------------------------------------------------------------------

    def expand(self, obj: Mapping[str, Any], source: Source) -> None:
        obj_type = obj.get("type")
        obj_id = str(obj.get("id"))
        if obj_type == "attack-pattern":
            kb_id = self.kb_object(obj, ("attack-pattern",))
            if kb_id is None:
                self.skip(obj_id, "technique", str(obj.get("name", obj_id)), "unknown technique")
            else:
                self.items.append(technique_item(self.graph, kb_id, source, self.params, obj_id))
        elif obj_type in SOFTWARE_TYPES:
            kb_id = self.kb_object(obj, tuple(SOFTWARE_TYPES))
            if kb_id is None:
                name = str(obj.get("name", obj_id))
                item = unknown_software_item(name, source, self.params, obj_id)
                item.subkind = str(obj_type)
                self.items.append(item)
            else:
                self.items.extend(software_items(self.graph, kb_id, source, self.params, obj_id))
        elif obj_type == "indicator" or obj_type in SCO_TYPES:
            self.values(obj, source)
        elif obj_type == "observed-data":
            for ref in obj.get("object_refs") or []:
                target = self.graph.get(ref)
                if target is not None and target.get("type") in SCO_TYPES:
                    self.values(target, source, carrier_ref=obj_id)
        elif obj_type == "infrastructure":
            self.infrastructure(obj, source)
        elif obj_type in ("identity", "location"):
            features = self.graph.victim_features(obj)
            for feature in features:
                self.items.append(
                    EvidenceItem(
                        key=feature,
                        kind="victimology",
                        label=f"victim {feature.replace(':', ' ')}",
                        ref=obj_id,
                        features={feature: 1.0},
                        spoofability=self.params.spoofability_of("victimology"),
                        sources=[source],
                    )
                )
            if not features:
                self.skip(obj_id, str(obj_type), str(obj.get("name", "")), "no sector or country")
        elif obj_type in ACTOR_TYPES or obj_type == "campaign":
            self.skip(obj_id, str(obj_type), str(obj.get("name", "")), "an actor link is a claim")
        else:
            self.skip(obj_id, str(obj_type), str(obj.get("name", "")), "not a kind of evidence")

    def kb_object(self, obj: Mapping[str, Any], types: tuple[str, ...]) -> str | None:
        """The knowledge-base object this one stands for: by id, ATT&CK id, then name."""
        graph = self.graph
        obj_id = str(obj.get("id"))
        ext = external_id(obj)
        if ext:
            found = graph.resolve(ext, types)
            if found is not None:
                return found
        if obj_id in graph.postings or obj_id in graph.software_techniques:
            return graph.current(obj_id)
        names = [obj.get("name"), *(obj.get("aliases") or []), *(obj.get("x_mitre_aliases") or [])]
        for name in names:
            if isinstance(name, str):
                for candidate in graph.by_name.get(" ".join(name.casefold().split()), ()):
                    target = graph.current(candidate)
                    found = graph.get(target)
                    if target != obj_id and found is not None and found.get("type") in types:
                        return target
        return graph.current(obj_id) if obj_id in graph.objects else None

    def values(
        self, obj: Mapping[str, Any], source: Source, carrier_ref: str | None = None
    ) -> None:
        obj_id = str(obj.get("id"))
        values = object_values(obj)
        name = str(obj.get("name") or "")
        if not values:
            if obj.get("type") == "indicator" and obj_id in self.graph.postings:
                self.items.append(self.value_item(obj_id, None, name, source, obj_id))
            else:
                self.skip(obj_id, "indicator", name or obj_id, "names no value that can be matched")
            return
        for value in values:
            self.items.append(self.value_item(carrier_ref or obj_id, value, name, source, obj_id))

    def value_item(
        self,
        ref: str,
        value: Observable | None,
        name: str,
        source: Source,
        obj_id: str,
    ) -> EvidenceItem:
        features: dict[str, float] = {}
        if value is not None:
            key = value_key(value)
            features[key] = 1.0
            subkind = VALUE_CLASS.get(value.kind, "indicator")
            label = f"{value.kind} {value.value}" + (f" ({name})" if name else "")
        else:
            key = obj_id
            subkind = "indicator"
            label = name or obj_id
        if obj_id in self.graph.postings:
            features[obj_id] = 1.0
        return EvidenceItem(
            key=key,
            kind="indicator",
            label=label,
            ref=ref,
            features=features,
            spoofability=self.params.spoofability_of(subkind),
            sources=[source],
            subkind=subkind,
            rests_on={obj_id},  # the SCO an observed-data (the ref) carries
        )

    def infrastructure(self, obj: Mapping[str, Any], source: Source) -> None:
        obj_id = str(obj.get("id"))
        kb_id = obj_id if obj_id in self.graph.postings else None
        if kb_id is None and isinstance(obj.get("name"), str):
            kb_id = self.graph.resolve(obj["name"], ("infrastructure",))
        paths = self.graph.infrastructure_paths(obj_id)
        if kb_id is not None:
            paths += [(kb_id, (kb_id,))]
            paths += [(f, (kb_id, *via)) for f, via in self.graph.infrastructure_paths(kb_id)]
        features = dict.fromkeys((f for f, _ in paths), 1.0)
        if not features:
            self.skip(obj_id, "infrastructure", str(obj.get("name", "")), "no value to match")
            return
        self.items.append(
            EvidenceItem(
                key=kb_id or obj_id,
                kind="infrastructure",
                label=f"infrastructure {obj.get('name', obj_id)}",
                ref=obj_id,
                features=features,
                spoofability=self.params.spoofability_of("infrastructure"),
                sources=[source],
                subkind="infrastructure",
                rests_on={i for _, via in paths for i in via},
            )
        )

    # --- timing ------------------------------------------------------------------------

    def timing(self) -> None:
        timeline = incident_timeline(self.incident)
        starts = list(self.starts)
        ends = list(self.ends)
        if "reported_start" in timeline:
            starts.append(stix_micros(timeline["reported_start"]))
        if "detected" in timeline:
            ends.append(stix_micros(timeline["detected"]))
        if not starts and not ends:
            return
        start = min(starts) if starts else None
        end = max(ends) if ends else None
        if start is not None and end is not None and end < start:
            end = start
        label = "activity " + " → ".join(
            format_micros(x)[:10] for x in (start, end) if x is not None
        )
        self.items.append(
            EvidenceItem(
                key="timing",
                kind="timing",
                label=label,
                ref=str(self.incident["id"]),
                features={},
                spoofability=self.params.spoofability_of("timing"),
                sources=[self.source(self.incident)],
                period=(start, end),
            )
        )


def find_incident(graph: KnowledgeGraph, ref: str) -> dict[str, Any]:
    """The incident named by ``ref`` (an id, or a name), checked to be one."""
    obj = graph.get(ref)
    if obj is None:
        matches = [
            graph.objects[i]
            for i in graph.by_name.get(" ".join(ref.casefold().split()), ())
            if is_incident(graph.objects[i])
        ]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"no incident {ref!r} in the store")
    if not is_incident(obj):
        raise InputError(ref, f"is a {obj.get('type')}, not an incident (or incident grouping)")
    return obj


def collect(
    graph: KnowledgeGraph,
    incident_id: str,
    params: Parameters,
    *,
    own_identity: str | None = None,
    extra_refs: Iterable[str] = (),
    extra_source: Source | None = None,
) -> Collected:
    """The merged evidence of an incident, plus what could not be weighed and its claims."""
    incident = find_incident(graph, incident_id)
    return _Collector(graph, incident, params, own_identity, extra_refs, extra_source).run()
