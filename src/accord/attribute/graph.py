"""The knowledge graph attribution reasons over: actors, their profiles, and name resolution.

Built in memory from any iterable of STIX 2.1 dicts (the store, a bundle, a test fixture),
so the engine is testable without a database and fast in the evaluation harness.

**Actors and merging.** Every ``intrusion-set`` and ``threat-actor`` is an actor, except a
threat actor that an intrusion set is ``attributed-to`` (that is a sponsor or persona, a
level above, recorded as the set's sponsor). Actors that are the same are merged into one
*hypothesis*, so that one actor never splits its own probability:

* ``duplicate-of`` relationships (the MISP catalogue → ATT&CK links), then
* equal names or aliases (case-insensitive, whitespace collapsed).

A merge never joins two different ATT&CK groups (two distinct ``G`` numbers): ATT&CK keeps
them apart on purpose, and a catalogue synonym that bridges them is recorded as a conflict
instead. Campaigns ``attributed-to`` an actor lend it their ``uses``.

**Profiles.** A hypothesis' profile maps *features* to a strength in (0, 1]:

* techniques it ``uses`` (a sub-technique also gives its parent);
* software it ``uses``;
* values (domains, addresses, hashes…) and the ids of indicators and infrastructure tied
  to it: ``uses`` infrastructure (and what it ``consists-of``), indicators that
  ``indicate`` it or its software;
* victimology: what it ``targets`` (identity sectors and countries, location countries)
  and the catalogue's ``x_accord_targeted_sectors``;
* artefact origins: ``origin:<CC>`` from the catalogue's ``x_accord_country`` and
  ``artefact:<kind>:<value>`` from an optional ``x_accord_artefacts`` list;
* an activity period from ``first_seen``/``last_seen``.

**Provenance.** :meth:`KnowledgeGraph.trace` says which stored objects produced each entry
of an actor's profile (the member or campaign, the ``uses``/``indicates``/``targets``/
``attributed-to`` relationships on the way, the software, indicator or infrastructure at
the end). A result that weighs evidence against a profile rests on those objects as much
as on the evidence, so their TLP counts towards the result's (``marking.py``). It is
computed on demand, per actor, because only the few hypotheses a result shows need it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from accord.attribute.params import DEFAULT_PARAMETERS
from accord.model.observables import Observable, pattern_observables, sco_observables
from accord.model.timestamps import stix_micros

ACTOR_TYPES = frozenset({"intrusion-set", "threat-actor"})
SOFTWARE_TYPES = frozenset({"malware", "tool"})
ATTACK_SOURCES = frozenset({"mitre-attack", "mitre-mobile-attack", "mitre-ics-attack"})

TECHNIQUE = "technique"
SOFTWARE = "software"
VALUE = "value"
VICTIM = "victimology"
ARTEFACT = "artefact"
TIMING = "timing"
CHANNELS = (TECHNIQUE, SOFTWARE, VALUE, VICTIM, ARTEFACT, TIMING)
# Strength of a technique an actor is known to use only through its software (fitted on the
# evaluation harness with the engine's parameters; see params.py and docs/attribution.md).
SOFTWARE_TECHNIQUE_WEIGHT = DEFAULT_PARAMETERS.software_technique_weight
# Channels whose mismatch counts against every actor we hold a technical profile of. A value
# (hash, domain, address) tied to one actor weighs against every other profiled actor; a
# technique only against actors whose techniques are known: for an actor known only by its
# malware, an observed technique says nothing.
PROFILED_CHANNELS = frozenset({VALUE})

# Observable kinds (accord.model.observables) → the value classes the parameters know.
VALUE_CLASS = {
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
    "sha512": "hash",
    "ipv4": "ip",
    "ipv6": "ip",
    "ipv4-net": "ip",
    "ipv6-net": "ip",
    "domain": "domain",
    "url": "url",
    "email": "email",
}
# Pseudo-features of a trace (never in a profile): the objects that dated the actor
# (``first_seen``/``last_seen``, what timing evidence is weighed against) and those that
# named its sponsors or countries (what a summary or a state claim quotes).
PERIOD = "@period"
SPONSORS = "@sponsors"
_GROUP_ID = re.compile(r"^G\d{4}\Z")
_PREFIX_CHANNEL = {
    "value": VALUE,
    "sector": VICTIM,
    "country": VICTIM,
    "origin": ARTEFACT,
    "artefact": ARTEFACT,
}
_TYPE_CHANNEL = {
    "attack-pattern": TECHNIQUE,
    "malware": SOFTWARE,
    "tool": SOFTWARE,
    "indicator": VALUE,
    "infrastructure": VALUE,
}


def name_key(text: str) -> str:
    """How names are compared: case-insensitive, whitespace collapsed."""
    return " ".join(str(text).casefold().split())


def slug(text: str) -> str:
    """A sector or artefact value in a comparable form: ``Government, Admin`` → words."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).casefold()).strip("-")


def value_key(observable: Observable) -> str:
    return f"value:{observable.kind}:{observable.value}"


def channel_of(feature: str) -> str:
    """The evidence channel a feature key belongs to."""
    prefix, sep, _ = feature.partition(":")
    if sep and prefix in _PREFIX_CHANNEL:
        return _PREFIX_CHANNEL[prefix]
    return _TYPE_CHANNEL.get(feature.split("--", 1)[0], VALUE)


def external_id(obj: Mapping[str, Any]) -> str | None:
    """The ATT&CK id (``T1566.001``, ``S0154``, ``G0016``) of an object, if it has one."""
    for ref in obj.get("external_references") or []:
        if isinstance(ref, Mapping) and ref.get("source_name") in ATTACK_SOURCES:
            ext = ref.get("external_id")
            if isinstance(ext, str) and ext:
                return ext
    return None


def object_values(obj: Mapping[str, Any]) -> list[Observable]:
    """Typed values an indicator's pattern or an SCO names."""
    if obj.get("type") == "indicator":
        pattern = obj.get("pattern")
        if obj.get("pattern_type") == "stix" and isinstance(pattern, str):
            return pattern_observables(pattern)
        return []
    try:
        return sco_observables(obj)
    except ValueError:
        return []


def _micros(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return stix_micros(value)
    except ValueError:
        return None


# A path of stored object ids, from the actor's member to the object that yields a feature.
Via = tuple[str, ...]
# ``add(feature, strength, via)``: what the profile walk reports for each feature it finds.
_Add = Callable[[str, float, Via], None]


@dataclass(slots=True)
class Actor:
    """One hypothesis: a merged actor with its profile.

    ``sources`` are the objects whose links make up the profile, each with the path that
    makes it the actor's: ``()`` for a member, ``(attributed-to relationship,)`` for a
    campaign attributed to one.
    """

    index: int
    id: str
    name: str
    aliases: tuple[str, ...]
    members: tuple[str, ...]
    external_id: str | None
    countries: tuple[str, ...] = ()
    sponsors: tuple[str, ...] = ()
    first_seen_us: int | None = None
    last_seen_us: int | None = None
    profile: dict[str, float] = field(default_factory=dict)
    sources: tuple[tuple[str, Via], ...] = ()

    @property
    def has_period(self) -> bool:
        return self.first_seen_us is not None or self.last_seen_us is not None


class _Components:
    """Union-find over actor ids that refuses to join two different ATT&CK groups."""

    def __init__(self, ids: Iterable[str], groups: Mapping[str, str]) -> None:
        self.parent = {i: i for i in ids}
        self.groups: dict[str, set[str]] = {i: ({groups[i]} if i in groups else set()) for i in ids}
        self.conflicts: list[tuple[str, str, str]] = []

    def find(self, item: str) -> str:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str, why: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        ga, gb = self.groups[ra], self.groups[rb]
        if ga and gb and ga != gb:
            self.conflicts.append((a, b, why))
            return
        keep, drop = (ra, rb) if ra < rb else (rb, ra)
        self.parent[drop] = keep
        self.groups[keep] = ga | gb


class KnowledgeGraph:
    """STIX objects indexed for attribution; immutable once built.

    ``origins`` maps an object id to the node that delivered it (``local``, ``peer:<name>``,
    ``file:<name>``…), which the evidence collector uses to judge independence.

    ``software_technique_weight`` is the strength with which an actor that uses a piece of
    software is taken to use the techniques that software is known for (ATT&CK lists a
    group's own procedures apart from its tools', so a group's Mimikatz implies its
    credential dumping even when the group entry does not say so).
    """

    def __init__(
        self,
        objects: Iterable[Mapping[str, Any]],
        origins: Mapping[str, str] | None = None,
        *,
        software_technique_weight: float = SOFTWARE_TECHNIQUE_WEIGHT,
    ) -> None:
        self.software_technique_weight = software_technique_weight
        self.objects: dict[str, dict[str, Any]] = {}
        stamps: dict[str, int] = {}
        for obj in objects:
            obj_id = obj.get("id")
            if not isinstance(obj_id, str):
                continue
            stamp = _micros(obj.get("modified")) or 0
            if obj_id not in self.objects or stamp >= stamps[obj_id]:
                self.objects[obj_id] = dict(obj)
                stamps[obj_id] = stamp
        self.origins: dict[str, str] = dict(origins or {})
        self.out_rels: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.in_rels: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ref_in: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.revoked_by: dict[str, str] = {}
        self._index_links()
        self.by_external: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = defaultdict(list)
        self._index_names()
        self.parent_of: dict[str, str] = {}
        # The ``subtechnique-of`` relationship behind ``parent_of`` (absent when the parent
        # was inferred from the ATT&CK id).
        self.parent_rel: dict[str, str] = {}
        self.software_techniques: dict[str, list[str]] = defaultdict(list)
        self._index_techniques()
        self.actors: list[Actor] = []
        self.actor_of: dict[str, int] = {}
        self.merge_conflicts: list[tuple[str, str, str]] = []
        self._build_actors()
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.populations: dict[str, frozenset[int]] = {}
        self._index_profiles()
        self._digest: str | None = None
        self._size_gaps: dict[tuple[str, float], list[float]] = {}
        self._traces: dict[int, dict[str, frozenset[str]]] = {}

    # --- indexes -----------------------------------------------------------------------

    def _index_links(self) -> None:
        for obj_id, obj in self.objects.items():
            if obj.get("revoked") is True and obj.get("type") in ("relationship", "sighting"):
                continue
            if obj.get("type") == "relationship":
                src, dst = obj.get("source_ref"), obj.get("target_ref")
                if not (isinstance(src, str) and isinstance(dst, str)):
                    continue
                if obj.get("relationship_type") == "revoked-by":
                    self.revoked_by[src] = dst
                self.out_rels[src].append(obj)
                self.in_rels[dst].append(obj)
                continue
            for key, value in obj.items():
                if key in ("created_by_ref", "object_marking_refs"):
                    continue
                if key.endswith("_ref") and isinstance(value, str):
                    self.ref_in[value].append((obj_id, key))
                elif key.endswith("_refs") and isinstance(value, list):
                    for target in value:
                        if isinstance(target, str):
                            self.ref_in[target].append((obj_id, key))
        for rels in (*self.out_rels.values(), *self.in_rels.values()):
            rels.sort(key=lambda r: r["id"])

    def _index_names(self) -> None:
        claimants: dict[str, list[str]] = defaultdict(list)
        for obj_id in sorted(self.objects):
            obj = self.objects[obj_id]
            ext = external_id(obj)
            if ext:
                claimants[ext.upper()].append(obj_id)
            for name in self._names(obj):
                self.by_name[name_key(name)].append(obj_id)
        # Several objects may carry one ATT&CK id (a tool's copy of a technique): the
        # knowledge base's own object is the live one with the most relationships.
        for key, ids in claimants.items():
            self.by_external[key] = min(
                ids,
                key=lambda i: (
                    bool(self.objects[i].get("revoked")),
                    -(len(self.out_rels.get(i, ())) + len(self.in_rels.get(i, ()))),
                    i,
                ),
            )

    @staticmethod
    def _names(obj: Mapping[str, Any]) -> list[str]:
        names: list[str] = []
        if isinstance(obj.get("name"), str):
            names.append(obj["name"])
        for prop in ("aliases", "x_mitre_aliases"):
            values = obj.get(prop)
            if isinstance(values, list):
                names.extend(v for v in values if isinstance(v, str) and v.strip())
        return names

    def _index_techniques(self) -> None:
        for obj_id, obj in self.objects.items():
            obj_type = obj.get("type")
            if obj_type == "attack-pattern":
                for rel in self.out_rels.get(obj_id, ()):
                    if rel["relationship_type"] == "subtechnique-of":
                        self.parent_of[obj_id] = rel["target_ref"]
                        self.parent_rel[obj_id] = rel["id"]
                if obj_id not in self.parent_of:
                    ext = external_id(obj)
                    if ext and "." in ext:
                        parent = self.by_external.get(ext.split(".", 1)[0].upper())
                        if parent:
                            self.parent_of[obj_id] = parent
            elif obj_type in SOFTWARE_TYPES:
                for rel in self.out_rels.get(obj_id, ()):
                    target = rel["target_ref"]
                    if rel["relationship_type"] == "uses" and target.startswith("attack-pattern--"):
                        self.software_techniques[obj_id].append(target)

    # --- actors ------------------------------------------------------------------------

    def _is_actor(self, obj: Mapping[str, Any]) -> bool:
        if obj.get("type") not in ACTOR_TYPES or obj.get("revoked") is True:
            return False
        if obj.get("type") == "threat-actor":
            for rel in self.in_rels.get(obj["id"], ()):
                if rel["relationship_type"] == "attributed-to" and rel["source_ref"].startswith(
                    "intrusion-set--"
                ):
                    return False
        return True

    def _build_actors(self) -> None:
        actor_ids = sorted(i for i, o in self.objects.items() if self._is_actor(o))
        groups = {}
        for i in actor_ids:
            ext = external_id(self.objects[i])
            if ext and _GROUP_ID.match(ext.upper()):
                groups[i] = ext.upper()
        comps = _Components(actor_ids, groups)
        actor_set = set(actor_ids)
        links: list[tuple[int, str, str]] = []
        for i in actor_ids:
            for rel in self.out_rels.get(i, ()):
                target = rel["target_ref"]
                if rel["relationship_type"] == "duplicate-of" and target in actor_set:
                    same_name = name_key(self.objects[i].get("name", "")) == name_key(
                        self.objects[target].get("name", "")
                    )
                    links.append((0 if same_name else 1, target, i))
        for _, target, source in sorted(links):
            comps.union(source, target, "duplicate-of")
        for key in sorted(self.by_name):
            same = [i for i in self.by_name[key] if i in actor_set]
            if len(key) < 3 or len(same) < 2:
                continue
            for other in same[1:]:
                comps.union(same[0], other, f"alias {key!r}")
        self.merge_conflicts = comps.conflicts
        members: dict[str, list[str]] = defaultdict(list)
        for i in actor_ids:
            members[comps.find(i)].append(i)
        campaigns = self._campaigns_by_actor()
        built: list[Actor] = []
        for root in sorted(members):
            ids = members[root]
            built.append(self._make_actor(ids, campaigns))
        built.sort(key=lambda a: (name_key(a.name), a.id))
        for index, actor in enumerate(built):
            actor.index = index
            for member in actor.members:
                self.actor_of[member] = index
        self.actors = built

    def _campaigns_by_actor(self) -> dict[str, list[tuple[str, str]]]:
        """``actor id -> [(campaign id, attributed-to relationship id)]``."""
        found: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for obj_id, obj in self.objects.items():
            if obj.get("type") != "campaign" or obj.get("revoked") is True:
                continue
            for rel in self.out_rels.get(obj_id, ()):
                if rel["relationship_type"] == "attributed-to":
                    found[rel["target_ref"]].append((obj_id, rel["id"]))
        return found

    def _representative(self, ids: list[str]) -> str:
        def rank(i: str) -> tuple[int, int, str]:
            obj = self.objects[i]
            uses = sum(1 for r in self.out_rels.get(i, ()) if r["relationship_type"] == "uses")
            return (0 if external_id(obj) else 1, -uses, i)

        return min(ids, key=rank)

    def _make_actor(self, ids: list[str], campaigns: Mapping[str, list[tuple[str, str]]]) -> Actor:
        rep = self._representative(ids)
        rep_obj = self.objects[rep]
        names: dict[str, str] = {}
        for i in [rep, *sorted(x for x in ids if x != rep)]:
            for name in self._names(self.objects[i]):
                names.setdefault(name_key(name), name.strip())
        primary = str(rep_obj.get("name") or rep)
        aliases = tuple(n for k, n in sorted(names.items()) if k != name_key(primary))
        sources: list[tuple[str, Via]] = [(i, ()) for i in ids]
        for i in ids:
            sources.extend((campaign, (rel,)) for campaign, rel in campaigns.get(i, ()))
        actor = Actor(
            index=-1,
            id=rep,
            name=primary,
            aliases=aliases,
            members=tuple(sorted(ids)),
            external_id=external_id(rep_obj),
            sources=tuple(sources),
        )
        self._fill_profile(actor)
        return actor

    def _fill_profile(self, actor: Actor, trace: dict[str, set[str]] | None = None) -> None:
        """Walk the actor's sources into its profile; with ``trace``, also record for every
        feature (and the :data:`PERIOD` and :data:`SPONSORS` pseudo-features) the ids of
        every object on every path that yields it."""
        profile = actor.profile
        countries: dict[str, list[Via]] = {}
        sponsors: set[str] = set()
        firsts: list[int] = []
        lasts: list[int] = []

        def add(feature: str, strength: float = 1.0, via: Via = ()) -> None:
            if strength > profile.get(feature, 0.0):
                profile[feature] = strength
            if trace is not None:
                trace.setdefault(feature, set()).update(via)

        def mark(key: str, via: Via) -> None:
            if trace is not None:
                trace.setdefault(key, set()).update(via)

        for source, chain in actor.sources:
            obj = self.objects[source]
            here = (*chain, source)
            for rel in self.out_rels.get(source, ()):
                kind, target = rel["relationship_type"], rel["target_ref"]
                via = (*here, rel["id"])
                if kind == "uses":
                    self._add_used(target, add, via)
                elif kind == "targets":
                    for feature in self.victim_features(self.objects.get(target)):
                        add(feature, 1.0, (*via, target))
                elif kind == "attributed-to":
                    sponsor = self.objects.get(target)
                    if sponsor is not None and sponsor.get("type") not in ("campaign",):
                        if isinstance(sponsor.get("name"), str):
                            sponsors.add(sponsor["name"])
                            mark(SPONSORS, (*via, target))
                        code = sponsor.get("country") or sponsor.get("x_accord_country")
                        if isinstance(code, str):
                            countries.setdefault(code.upper(), []).append((*via, target))
                            mark(SPONSORS, (*via, target))
            for rel in self.in_rels.get(source, ()):
                if rel["relationship_type"] == "indicates":
                    self._add_indicator(rel["source_ref"], add, (*here, rel["id"]))
            code = obj.get("x_accord_country")
            if isinstance(code, str) and code.strip():
                countries.setdefault(code.strip().upper(), []).append(here)
                mark(SPONSORS, here)
            sponsor_name = obj.get("x_accord_cfr_suspected_state_sponsor")
            if isinstance(sponsor_name, str) and sponsor_name.strip():
                sponsors.add(sponsor_name.strip())
                mark(SPONSORS, here)
            for prop in ("x_accord_targeted_sectors", "x_accord_cfr_target_category"):
                for sector in obj.get(prop) or []:
                    for part in re.split(r",|/|\band\b", str(sector)):
                        if slug(part):
                            add(f"sector:{slug(part)}", 1.0, here)
            for artefact in obj.get("x_accord_artefacts") or []:
                if isinstance(artefact, Mapping) and artefact.get("kind") and artefact.get("value"):
                    add(f"artefact:{slug(artefact['kind'])}:{slug(artefact['value'])}", 1.0, here)
            first, last = _micros(obj.get("first_seen")), _micros(obj.get("last_seen"))
            if first is not None:
                firsts.append(first)
            if last is not None:
                lasts.append(last)
            if first is not None or last is not None:
                mark(PERIOD, here)
        for code, vias in countries.items():
            for via in vias:
                add(f"origin:{code}", 1.0, via)
        actor.countries = tuple(sorted(countries))
        actor.sponsors = tuple(sorted(sponsors))
        actor.first_seen_us = min(firsts) if firsts else None
        actor.last_seen_us = max(lasts) if lasts else None

    def _add_used(self, target: str, add: _Add, via: Via) -> None:
        obj = self.objects.get(target)
        if obj is None:
            return
        obj_type = obj.get("type")
        here = (*via, target)
        if obj_type == "attack-pattern":
            add(target, 1.0, here)
            parent = self.parent_of.get(target)
            if parent:
                add(parent, 1.0, (*here, *self._parent_link(target), parent))
        elif obj_type in SOFTWARE_TYPES:
            add(target, 1.0, here)
            weight = self.software_technique_weight
            if weight > 0.0:
                for rel in self.out_rels.get(target, ()):
                    technique = rel["target_ref"]
                    if rel["relationship_type"] != "uses" or not technique.startswith(
                        "attack-pattern--"
                    ):
                        continue
                    path = (*here, rel["id"], technique)
                    add(technique, weight, path)
                    parent = self.parent_of.get(technique)
                    if parent:
                        add(parent, weight, (*path, *self._parent_link(technique), parent))
            for rel in self.in_rels.get(target, ()):
                if rel["relationship_type"] == "indicates":
                    self._add_indicator(rel["source_ref"], add, (*here, rel["id"]))
        elif obj_type == "infrastructure":
            add(target, 1.0, here)
            for feature, path in self.infrastructure_paths(target):
                add(feature, 1.0, (*here, *path))
            for rel in self.in_rels.get(target, ()):
                if rel["relationship_type"] == "indicates":
                    self._add_indicator(rel["source_ref"], add, (*here, rel["id"]))
        elif obj_type == "indicator":
            self._add_indicator(target, add, via)
        else:
            for value in object_values(obj):
                add(value_key(value), 1.0, here)

    def _add_indicator(self, indicator_id: str, add: _Add, via: Via) -> None:
        obj = self.objects.get(indicator_id)
        if obj is None or obj.get("type") != "indicator" or obj.get("revoked") is True:
            return
        here = (*via, indicator_id)
        add(indicator_id, 1.0, here)
        for value in object_values(obj):
            add(value_key(value), 1.0, here)

    def _parent_link(self, technique: str) -> Via:
        rel = self.parent_rel.get(technique)
        return (rel,) if rel else ()

    def infrastructure_paths(self, infra_id: str) -> list[tuple[str, Via]]:
        """Value features of what an infrastructure ``consists-of`` (SCOs, indicators),
        each with the relationship and object that yield it."""
        found: list[tuple[str, Via]] = []
        for rel in self.out_rels.get(infra_id, ()):
            if rel["relationship_type"] not in ("consists-of", "has"):
                continue
            target = self.objects.get(rel["target_ref"])
            if target is not None:
                path = (rel["id"], rel["target_ref"])
                found.extend((value_key(v), path) for v in object_values(target))
        return found

    def infrastructure_values(self, infra_id: str) -> list[str]:
        """Value features of what an infrastructure ``consists-of`` (SCOs, indicators)."""
        return [feature for feature, _ in self.infrastructure_paths(infra_id)]

    def trace(self, actor: int) -> Mapping[str, frozenset[str]]:
        """For each entry of an actor's profile (and :data:`PERIOD`, :data:`SPONSORS`), the
        ids of the stored objects that produced it: every path, not only the strongest,
        since a result that weighs the entry cannot tell which one it rests on."""
        found = self._traces.get(actor)
        if found is None:
            paths: dict[str, set[str]] = {}
            self._fill_profile(dataclasses.replace(self.actors[actor], profile={}), paths)
            found = {key: frozenset(ids) for key, ids in paths.items()}
            self._traces[actor] = found
        return found

    def technique_links(self, software: str, technique: str) -> list[str]:
        """The ``uses`` relationships from a piece of software to a technique."""
        return [
            rel["id"]
            for rel in self.out_rels.get(software, ())
            if rel["relationship_type"] == "uses" and rel["target_ref"] == technique
        ]

    @staticmethod
    def victim_features(obj: Mapping[str, Any] | None) -> list[str]:
        """Victimology features of an identity or location (sectors and country)."""
        if obj is None:
            return []
        found: list[str] = []
        if obj.get("type") == "identity":
            for sector in obj.get("sectors") or []:
                found.append(f"sector:{slug(sector)}")
            code = obj.get("x_accord_country")
        elif obj.get("type") == "location":
            code = obj.get("country")
        else:
            return []
        if isinstance(code, str) and code.strip():
            found.append(f"country:{code.strip().upper()}")
        return found

    def _index_profiles(self) -> None:
        members: dict[str, set[int]] = {c: set() for c in CHANNELS}
        for actor in self.actors:
            for feature in sorted(actor.profile):
                self.postings[feature].append((actor.index, actor.profile[feature]))
                members[channel_of(feature)].add(actor.index)
            if actor.has_period:
                members[TIMING].add(actor.index)
        # Repertoire size per channel (sum of strengths) and the log of its population mean:
        # the engine normalises large repertoires on specific items (see engine.py).
        self.repertoire: dict[str, list[float]] = {c: [0.0] * len(self.actors) for c in CHANNELS}
        for actor in self.actors:
            for feature, strength in actor.profile.items():
                self.repertoire[channel_of(feature)][actor.index] += strength
        self.log_mean_repertoire: dict[str, float] = {}
        self.log_repertoire: dict[str, list[float]] = {}
        for channel in CHANNELS:
            sizes = [self.repertoire[channel][a] for a in members[channel]]
            mean = sum(sizes) / len(sizes) if sizes else 1.0
            self.log_mean_repertoire[channel] = math.log(max(mean, 1e-9))
            self.log_repertoire[channel] = [
                math.log(max(size, 1.0)) for size in self.repertoire[channel]
            ]
        profiled = members[TECHNIQUE] | members[SOFTWARE] | members[VALUE]
        self.profiled: frozenset[int] = frozenset(profiled)
        for channel in CHANNELS:
            pool = profiled if channel in PROFILED_CHANNELS else members[channel]
            self.populations[channel] = frozenset(pool)
        # Actors grouped by the channels they belong to: the engine adds one offset per group.
        signatures: dict[frozenset[str], int] = {}
        self.signature_of: list[int] = []
        for actor in self.actors:
            sig = frozenset(c for c in CHANNELS if actor.index in self.populations[c])
            self.signature_of.append(signatures.setdefault(sig, len(signatures)))
        self.signatures: list[frozenset[str]] = sorted(signatures, key=signatures.__getitem__)

    # --- lookups -----------------------------------------------------------------------

    def get(self, obj_id: str) -> dict[str, Any] | None:
        return self.objects.get(obj_id)

    def current(self, obj_id: str) -> str:
        """Follow ``revoked-by`` to the object that replaced a revoked one."""
        seen = {obj_id}
        while obj_id in self.revoked_by and self.objects.get(obj_id, {}).get("revoked"):
            obj_id = self.revoked_by[obj_id]
            if obj_id in seen:
                break
            seen.add(obj_id)
        return obj_id

    def resolve(self, ref: str, types: Iterable[str] | None = None) -> str | None:
        """An object id for a STIX id, an ATT&CK id or a name/alias (case-insensitive)."""
        wanted = frozenset(types) if types is not None else None

        def ok(obj_id: str) -> bool:
            obj = self.objects.get(obj_id)
            return obj is not None and (wanted is None or obj.get("type") in wanted)

        text = ref.strip()
        if text in self.objects:
            target = self.current(text)
            return target if ok(target) else None
        ext = self.by_external.get(text.upper())
        if ext is not None:
            target = self.current(ext)
            if ok(target):
                return target
        candidates = [c for c in self.by_name.get(name_key(text), ()) if ok(c)]
        if not candidates:
            return None
        live = [c for c in candidates if not self.objects[c].get("revoked")]
        return self.current(sorted(live or candidates)[0])

    def actor_index(self, ref: str) -> int | None:
        """The hypothesis an id, ATT&CK id, name or alias names, if any."""
        target = self.resolve(ref, ACTOR_TYPES)
        if target is not None and target in self.actor_of:
            return self.actor_of[target]
        key = name_key(ref)
        for actor in self.actors:
            if key == name_key(actor.name) or key in (name_key(a) for a in actor.aliases):
                return actor.index
        return None

    def label(self, obj_id: str) -> str:
        """``T1566.001 Spearphishing Attachment``-style label of a KB object."""
        obj = self.objects.get(obj_id)
        if obj is None:
            return obj_id
        ext = external_id(obj)
        name = obj.get("name") or obj.get("value") or obj_id
        return f"{ext} {name}" if ext else str(name)

    def relationships(self, obj_id: str) -> list[dict[str, Any]]:
        """Every relationship with ``obj_id`` at either end, sorted by id."""
        rels = {r["id"]: r for r in (*self.out_rels.get(obj_id, ()), *self.in_rels.get(obj_id, ()))}
        return [rels[k] for k in sorted(rels)]

    @property
    def digest(self) -> str:
        """SHA-256 over the sorted ``id|modified`` of every object: what the result rests on."""
        if self._digest is None:
            h = hashlib.sha256()
            for obj_id in sorted(self.objects):
                h.update(f"{obj_id}|{self.objects[obj_id].get('modified', '')}\n".encode())
            self._digest = h.hexdigest()
        return self._digest

    def population(self, channel: str) -> frozenset[int]:
        return self.populations.get(channel, frozenset())

    def size_gaps(self, channel: str, cap: float) -> list[float]:
        """``min(log n̄_c − log n_a, log cap)`` for every actor: the repertoire-size term
        of the engine's ν, computed once per channel and cap rather than once per item."""
        key = (channel, cap)
        found = self._size_gaps.get(key)
        if found is None:
            log_mean = self.log_mean_repertoire[channel]
            limit = math.log(cap)
            found = [min(log_mean - size, limit) for size in self.log_repertoire[channel]]
            self._size_gaps[key] = found
        return found
