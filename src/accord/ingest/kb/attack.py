"""MITRE ATT&CK Enterprise as STIX 2.1, rebuilt offline from the MISP galaxy clusters.

The galaxies ``mitre-intrusion-set``, ``mitre-attack-pattern``, ``mitre-malware`` and
``mitre-tool`` carry ATT&CK's own object UUIDs, so every object keeps its ATT&CK STIX id
(``intrusion-set--<uuid>``…) and stays joinable with MITRE's bundles and with peers' data.
The old ``mitre-enterprise-attack-*`` clusters are frozen and small; they are not used.

Choices, and why:

* **Enterprise only.** A technique is kept when one of its kill-chain entries belongs to
  the Enterprise matrix (``attack-<platform>:<tactic>``, PRE platform included). Mobile
  (``mobile-attack-…``) and the retired PRE-ATT&CK matrix (``pre-attack:…``, replaced by
  Enterprise Reconnaissance and Resource Development) are left out. Software is left out
  when all its platforms are mobile, or when it has no platform and uses only non-Enterprise
  techniques. Groups are cross-domain in ATT&CK and are all kept.
* **Revoked entries are kept, revoked.** Old reports cite revoked ids (T1193 became
  T1566.001): keeping them with ``revoked: true`` and a ``revoked-by`` relationship to the
  replacement, as ATT&CK itself does, lets such ids be resolved instead of being unknown.
  Revoked objects get no ``uses`` or ``subtechnique-of`` relationships.
* **Deprecated entries are kept** with ``x_mitre_deprecated: true`` (ATT&CK's flag),
  detected from the "has been deprecated" notice that starts their description.
* ``uses`` relationships are kept only between objects in the build, for group→technique,
  group→software and software→technique.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pymispgalaxies import Cluster, ClusterValue

from accord.ingest.kb.common import (
    CLEAR_REFS,
    KB_EPOCH,
    aliases,
    galaxy_uuid,
    load_clusters,
    meta_props,
    refs,
    relationship,
    sdo,
    str_list,
    synonyms,
    url_references,
)
from accord.model.errors import InputError
from accord.model.tlp import TLP, marking_definition

MITRE_IDENTITY_ID = "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5"
GROUPS = "mitre-intrusion-set"
TECHNIQUES = "mitre-attack-pattern"
MALWARE = "mitre-malware"
TOOLS = "mitre-tool"
ATTACK_CLUSTERS = (GROUPS, TECHNIQUES, MALWARE, TOOLS)
KILL_CHAIN = "mitre-attack"
DOMAIN = "enterprise-attack"

_TACTICS = (
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
)
_TACTIC_RANK = {tactic: rank for rank, tactic in enumerate(_TACTICS)}
_NON_ENTERPRISE_PLATFORMS = frozenset(
    {
        "Android",
        "iOS",
        "Control Server",
        "Data Historian",
        "Device Configuration/Parameters",
        "Engineering Workstation",
        "Field Controller/RTU/PLC/IED",
        "Human-Machine Interface",
        "Input/Output Server",
        "Safety Instrumented System/Protection Relay",
    }
)
_DEPRECATED = re.compile(
    r"^\W*this (?:technique|object|software|group|tool|malware) (?:has been|is) deprecated",
    re.IGNORECASE,
)
_EXTERNAL_ID = re.compile(r"^(?:G\d{4}|S\d{4}|T\d{4}(?:\.\d{3})?)\Z")
_URL_PATHS = {"G": "groups", "S": "software", "T": "techniques"}


def mitre_identity() -> dict[str, Any]:
    """MITRE's identity, under ATT&CK's own id, so ``created_by_ref`` resolves in the store."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": MITRE_IDENTITY_ID,
        "created": KB_EPOCH,
        "modified": KB_EPOCH,
        "name": "The MITRE Corporation",
        "identity_class": "organization",
        "object_marking_refs": list(CLEAR_REFS),
    }


def attack_version(clusters: Mapping[str, Cluster]) -> str:
    """Cluster versions joined in :data:`ATTACK_CLUSTERS` order, e.g. ``38.33.37.35``."""
    return ".".join(str(clusters[name].version) for name in ATTACK_CLUSTERS)


def load_attack_clusters() -> dict[str, Cluster]:
    return load_clusters(ATTACK_CLUSTERS)


def build_attack_objects(clusters: Mapping[str, Cluster] | None = None) -> list[dict[str, Any]]:
    """Every ATT&CK Enterprise object as STIX 2.1: pure, deterministic, no store access.

    The list starts with the TLP:CLEAR marking definition and MITRE's identity, so it can be
    written as it is.
    """
    clusters = clusters if clusters is not None else load_attack_clusters()
    builder = _Builder()
    builder.add_techniques(clusters[TECHNIQUES].values())
    builder.add_software(clusters[MALWARE].values(), "malware", MALWARE)
    builder.add_software(clusters[TOOLS].values(), "tool", TOOLS)
    builder.add_groups(clusters[GROUPS].values())
    builder.add_relationships()
    return [marking_definition(TLP.CLEAR), mitre_identity(), *builder.objects()]


class _Builder:
    """Two passes: objects first, then relationships between objects that made it in."""

    def __init__(self) -> None:
        self.by_uuid: dict[str, dict[str, Any]] = {}
        self.related: dict[str, list[dict[str, Any]]] = {}
        self.tech_by_external_id: dict[str, str] = {}
        self.relationships: dict[str, dict[str, Any]] = {}
        self.with_parent: set[str] = set()

    def objects(self) -> list[dict[str, Any]]:
        sdos = sorted(self.by_uuid.values(), key=lambda o: o["id"])
        rels = sorted(self.relationships.values(), key=lambda o: o["id"])
        return [*sdos, *rels]

    # -- objects ---------------------------------------------------------------------

    def _common(
        self, value: ClusterValue, stix_type: str, cluster: str
    ) -> tuple[dict[str, Any], str]:
        ident = galaxy_uuid(value, cluster)
        external_id = str(meta_props(value).get("external_id") or "")
        place = f"galaxy {cluster}: {value.value!r}"
        if not _EXTERNAL_ID.match(external_id):
            raise InputError(place, f"missing or invalid ATT&CK external_id {external_id!r}")
        name = _strip_suffix(value.value, external_id)
        obj = sdo(stix_type, ident, MITRE_IDENTITY_ID, name, value.description)
        url = _attack_url(external_id)
        obj["external_references"] = [
            {"source_name": KILL_CHAIN, "external_id": external_id, "url": url},
            *url_references(refs(value), skip=[url]),
        ]
        if value.description and _DEPRECATED.match(value.description):
            obj["x_mitre_deprecated"] = True
        if _is_revoked(value):
            obj["revoked"] = True
        self.by_uuid[ident] = obj
        self.related[ident] = list(value.related)
        return obj, external_id

    def add_techniques(self, values: Iterable[ClusterValue]) -> None:
        for value in values:
            phases = _enterprise_phases(meta_props(value).get("kill_chain"))
            if not phases:
                continue
            obj, external_id = self._common(value, "attack-pattern", TECHNIQUES)
            obj["kill_chain_phases"] = [
                {"kill_chain_name": KILL_CHAIN, "phase_name": phase} for phase in phases
            ]
            obj["x_mitre_is_subtechnique"] = "." in external_id
            _platforms(obj, value)
            data_sources = sorted(set(str_list(meta_props(value).get("mitre_data_sources"))))
            if data_sources:
                obj["x_mitre_data_sources"] = data_sources
            obj["x_mitre_domains"] = [DOMAIN]
            if not obj.get("revoked"):
                self.tech_by_external_id[external_id] = obj["id"]

    def add_software(self, values: Iterable[ClusterValue], stix_type: str, cluster: str) -> None:
        for value in values:
            if not self._is_enterprise_software(value):
                continue
            obj, _ = self._common(value, stix_type, cluster)
            names = aliases(obj["name"], synonyms(value))
            if stix_type == "malware":
                obj["is_family"] = True
            obj["aliases"] = names
            obj["x_mitre_aliases"] = names
            _platforms(obj, value)
            obj["x_mitre_domains"] = [DOMAIN]

    def add_groups(self, values: Iterable[ClusterValue]) -> None:
        for value in values:
            obj, _ = self._common(value, "intrusion-set", GROUPS)
            obj["aliases"] = aliases(obj["name"], synonyms(value))
            obj["x_mitre_domains"] = [DOMAIN]

    def _is_enterprise_software(self, value: ClusterValue) -> bool:
        platforms = set(str_list(meta_props(value).get("mitre_platforms")))
        if platforms:
            return bool(platforms - _NON_ENTERPRISE_PLATFORMS)
        uses = [r.get("dest-uuid") for r in value.related if r.get("type") == "uses"]
        # Techniques are added first, so a use of an Enterprise technique is visible here.
        return not uses or any(
            self.by_uuid.get(str(u), {}).get("type") == "attack-pattern" for u in uses
        )

    # -- relationships ---------------------------------------------------------------

    def add_relationships(self) -> None:
        for ident, related in self.related.items():
            source = self.by_uuid[ident]
            for link in related:
                target = self.by_uuid.get(str(link.get("dest-uuid")))
                kind = link.get("type")
                if target is None:
                    continue
                if kind == "revoked-by" and source.get("revoked"):
                    self._link(source, "revoked-by", target)
                elif kind == "uses" and _uses_allowed(source, target):
                    self._link(source, "uses", target)
                elif kind == "subtechnique-of" and _is_live_sub(source):
                    self._link(source, "subtechnique-of", target)
        # A sub-technique whose galaxy entry lacks the link still gets it, from its id.
        for source in self.by_uuid.values():
            if not _is_live_sub(source) or source["id"] in self.with_parent:
                continue
            parent_id = self.tech_by_external_id.get(_external_id(source).split(".")[0])
            if parent_id:
                self._link(source, "subtechnique-of", {"id": parent_id})

    def _link(self, source: Mapping[str, Any], kind: str, target: Mapping[str, Any]) -> None:
        rel = relationship(MITRE_IDENTITY_ID, source["id"], kind, target["id"])
        self.relationships[rel["id"]] = rel
        if kind == "subtechnique-of":
            self.with_parent.add(source["id"])


def _uses_allowed(source: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    if source.get("revoked") or target.get("revoked"):
        return False
    if source["type"] == "intrusion-set":
        return target["type"] in ("attack-pattern", "malware", "tool")
    if source["type"] in ("malware", "tool"):
        return target["type"] == "attack-pattern"
    return False


def _is_live_sub(obj: Mapping[str, Any]) -> bool:
    return bool(obj.get("x_mitre_is_subtechnique")) and not obj.get("revoked")


def _external_id(obj: Mapping[str, Any]) -> str:
    return str(obj["external_references"][0]["external_id"])


def _is_revoked(value: ClusterValue) -> bool:
    # pymispgalaxies drops the galaxy's "revoked" flag but keeps the "revoked-by" link,
    # which every revoked Enterprise entry carries.
    return any(link.get("type") == "revoked-by" for link in value.related)


def _enterprise_phases(kill_chain: object) -> list[str]:
    phases: set[str] = set()
    for entry in str_list(kill_chain):
        matrix, _, phase = entry.partition(":")
        if matrix.startswith("attack-") and phase:
            phases.add(phase)
    return sorted(phases, key=lambda p: (_TACTIC_RANK.get(p, len(_TACTICS)), p))


def _platforms(obj: dict[str, Any], value: ClusterValue) -> None:
    platforms = sorted(set(str_list(meta_props(value).get("mitre_platforms"))))
    if platforms:
        obj["x_mitre_platforms"] = platforms


def _strip_suffix(value: str, external_id: str) -> str:
    suffix = f" - {external_id}"
    return value[: -len(suffix)].strip() if value.endswith(suffix) else value.strip()


def _attack_url(external_id: str) -> str:
    """ATT&CK's page for an id: T1566.001 → /techniques/T1566/001."""
    return f"https://attack.mitre.org/{_URL_PATHS[external_id[0]]}/{external_id.replace('.', '/')}"
