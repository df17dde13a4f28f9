"""The MISP threat-actor catalogue as STIX 2.1 intrusion sets, linked to ATT&CK groups.

Each galaxy entry becomes one ``intrusion-set--<galaxy uuid>``, created by a fixed
"MISP Project" identity. What the sources say about a country stays a *claim of the
catalogue*, in custom properties (``x_accord_country``, ``x_accord_cfr_*``) beside
``x_accord_attribution_confidence``, never a ``located-at`` or ``attributed-to``
relationship: attribution is accord's job, on evidence, and must be able to disagree.

The catalogue and ATT&CK name the same groups differently. When the name or a synonym of
a MISP actor equals (case-insensitive, whitespace collapsed) the name, an alias or the
G-number of a live ATT&CK group, a ``duplicate-of`` relationship goes from the MISP actor
to the group, so that attribution can merge the aliases into one hypothesis. The matched
names are listed in the relationship's description. An actor matching several groups gets
one link each: the catalogues disagree there, and hiding that would be wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymispgalaxies import Cluster, ClusterValue

from accord.ingest.kb.attack import build_attack_objects
from accord.ingest.kb.common import (
    CLEAR_REFS,
    KB_EPOCH,
    aliases,
    galaxy_uuid,
    load_clusters,
    meta_props,
    name_key,
    refs,
    relationship,
    sdo,
    stable_id,
    str_list,
    synonyms,
    url_references,
)
from accord.model.errors import InputError
from accord.model.tlp import TLP, marking_definition

ACTORS = "threat-actor"
MISP_IDENTITY_ID = stable_id("identity", "identity", "MISP Project")

# Galaxy meta field → custom property holding a list of strings.
_LIST_PROPS = {
    "cfr-suspected-victims": "x_accord_cfr_suspected_victims",
    "cfr-target-category": "x_accord_cfr_target_category",
    "cfr-type-of-incident": "x_accord_cfr_type_of_incident",
    "targeted-sector": "x_accord_targeted_sectors",
    "threat-actor-classification": "x_accord_classification",
}


def misp_identity() -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": MISP_IDENTITY_ID,
        "created": KB_EPOCH,
        "modified": KB_EPOCH,
        "name": "MISP Project",
        "description": "Community-maintained MISP galaxy catalogues (threat-actor cluster).",
        "identity_class": "organization",
        "external_references": [
            {"source_name": "misp-galaxy", "url": "https://github.com/MISP/misp-galaxy"}
        ],
        "object_marking_refs": list(CLEAR_REFS),
    }


def load_actor_cluster() -> Cluster:
    return load_clusters([ACTORS])[ACTORS]


def actors_version(cluster: Cluster) -> str:
    return str(cluster.version)


def build_actor_objects(
    cluster: Cluster | None = None,
    attack_objects: Iterable[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """MISP actors as intrusion sets plus ``duplicate-of`` links to ATT&CK groups.

    ``attack_objects`` are the ATT&CK objects to match against (their intrusion sets are
    used); by default they are built from the installed galaxies. The list starts with the
    TLP:CLEAR marking definition and the MISP identity.
    """
    if cluster is None:
        cluster = load_actor_cluster()
    if attack_objects is None:
        attack_objects = build_attack_objects()
    groups = _group_index(attack_objects)
    actors: list[dict[str, Any]] = []
    links: dict[str, dict[str, Any]] = {}
    for value in cluster.values():
        actor = _actor(value)
        actors.append(actor)
        for rel in _duplicate_links(actor, groups):
            links[rel["id"]] = rel
    actors.sort(key=lambda o: o["id"])
    return [
        marking_definition(TLP.CLEAR),
        misp_identity(),
        *actors,
        *sorted(links.values(), key=lambda o: o["id"]),
    ]


def _actor(value: ClusterValue) -> dict[str, Any]:
    place = f"galaxy {ACTORS}: {value.value!r}"
    ident = galaxy_uuid(value, ACTORS)
    name = value.value.strip()
    obj = sdo("intrusion-set", ident, MISP_IDENTITY_ID, name, value.description)
    obj["aliases"] = aliases(name, synonyms(value))
    obj["external_references"] = [
        {"source_name": "misp-galaxy", "external_id": f'misp-galaxy:{ACTORS}="{value.value}"'},
        *url_references(refs(value)),
    ]
    meta = value.meta
    props = meta_props(value)
    country = str(meta.country or "").strip() if meta is not None else ""
    if country:
        obj["x_accord_country"] = country.upper()
    sponsor = str(props.get("cfr-suspected-state-sponsor") or "").strip()
    if sponsor:
        obj["x_accord_cfr_suspected_state_sponsor"] = sponsor
    for field, prop in _LIST_PROPS.items():
        items = str_list(props.get(field))
        if items:
            obj[prop] = items
    motive = str(meta.motive or "").strip() if meta is not None else ""
    if motive:
        obj["x_accord_motive"] = motive
    confidence = props.get("attribution-confidence")
    if confidence is not None and str(confidence).strip():
        obj["x_accord_attribution_confidence"] = _confidence(confidence, place)
    return obj


def _confidence(raw: object, place: str) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        raise InputError(place, f"attribution-confidence {raw!r} is not an integer from 0 to 100")
    return value


def _group_index(attack_objects: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """Name key → ``(group id, display name)`` for every live ATT&CK intrusion set."""
    index: dict[str, list[tuple[str, str]]] = {}
    for obj in attack_objects:
        if obj.get("type") != "intrusion-set" or obj.get("revoked"):
            continue
        names = [obj["name"], *obj.get("aliases", [])]
        names += [
            r["external_id"]
            for r in obj.get("external_references", [])
            if r.get("source_name") == "mitre-attack" and r.get("external_id")
        ]
        for key in {name_key(n) for n in names if n}:
            index.setdefault(key, []).append((obj["id"], obj["name"]))
    return index


def _duplicate_links(
    actor: Mapping[str, Any], groups: Mapping[str, list[tuple[str, str]]]
) -> list[dict[str, Any]]:
    matched: dict[str, tuple[str, set[str]]] = {}
    for name in actor["aliases"]:
        key = name_key(name)
        for group_id, group_name in groups.get(key, []):
            matched.setdefault(group_id, (group_name, set()))[1].add(name)
    links = []
    for group_id, (group_name, names) in sorted(matched.items()):
        shared = ", ".join(sorted(names, key=lambda n: (n.casefold(), n)))
        links.append(
            relationship(
                MISP_IDENTITY_ID,
                actor["id"],
                "duplicate-of",
                group_id,
                description=(
                    f"MISP threat actor {actor['name']!r} and ATT&CK group {group_name!r} "
                    f"share the name(s): {shared}"
                ),
            )
        )
    return links
