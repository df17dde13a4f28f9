"""Knowledge-base builders: ATT&CK Enterprise and MISP actors as valid, stable STIX 2.1."""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from typing import Any

import orjson
import pytest
from pymispgalaxies import Cluster
from stix2validator import ValidationOptions, validate_instance

from accord.ingest.kb.actors import MISP_IDENTITY_ID, build_actor_objects, load_actor_cluster
from accord.ingest.kb.attack import (
    MITRE_IDENTITY_ID,
    TECHNIQUES,
    build_attack_objects,
    load_attack_clusters,
)
from accord.ingest.kb.common import KB_NAMESPACE
from accord.model.errors import InputError
from accord.model.stix import check_object
from accord.model.tlp import TLP, TLP2_IDS

APT29 = "intrusion-set--899ce53f-13a0-479b-a0e4-67d46e241542"  # ATT&CK's own STIX id
CLEAR = TLP2_IDS[TLP.CLEAR]

Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def attack_objects() -> Objects:
    return build_attack_objects()


@pytest.fixture(scope="module")
def actor_objects(attack_objects: Objects) -> Objects:
    return build_actor_objects(attack_objects=attack_objects)


def external_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", []):
        if ref.get("source_name") == "mitre-attack":
            return ref.get("external_id")
    return None


def by_external_id(objects: Objects, ident: str) -> dict[str, Any]:
    return next(o for o in objects if external_id(o) == ident)


def live(objects: Objects, *types: str) -> Objects:
    return [o for o in objects if o["type"] in types and not o.get("revoked")]


def rels(objects: Objects, kind: str) -> Objects:
    return [o for o in objects if o["type"] == "relationship" and o["relationship_type"] == kind]


def test_attack_enterprise_has_the_expected_size(attack_objects: Objects) -> None:
    assert len(live(attack_objects, "intrusion-set")) >= 150
    assert len(live(attack_objects, "attack-pattern")) >= 600
    assert len(live(attack_objects, "malware", "tool")) >= 600
    assert len(rels(attack_objects, "uses")) > 10_000


def test_attack_group_keeps_attack_id_name_aliases_and_reference(attack_objects: Objects) -> None:
    group = by_external_id(attack_objects, "G0016")
    assert group["id"] == APT29
    assert group["name"] == "APT29"  # without the galaxy's " - G0016" suffix
    assert group["aliases"][0] == "APT29"
    assert "Cozy Bear" in group["aliases"]
    assert group["external_references"][0] == {
        "source_name": "mitre-attack",
        "external_id": "G0016",
        "url": "https://attack.mitre.org/groups/G0016",
    }
    assert "SVR" in group["description"]


def test_every_attack_object_is_mitre_created_and_clear(attack_objects: Objects) -> None:
    assert attack_objects[0]["id"] == CLEAR
    identity = next(o for o in attack_objects if o["id"] == MITRE_IDENTITY_ID)
    assert identity["type"] == "identity"
    for obj in attack_objects[1:]:
        assert obj["object_marking_refs"] == [CLEAR], obj["id"]
        if obj["type"] != "identity":
            assert obj["created_by_ref"] == MITRE_IDENTITY_ID, obj["id"]


def test_subtechnique_links_to_its_parent(attack_objects: Objects) -> None:
    sub = by_external_id(attack_objects, "T1566.001")
    parent = by_external_id(attack_objects, "T1566")
    assert sub["name"] == "Spearphishing Attachment"
    assert sub["x_mitre_is_subtechnique"] is True
    assert parent["x_mitre_is_subtechnique"] is False
    assert {"kill_chain_name": "mitre-attack", "phase_name": "initial-access"} in sub[
        "kill_chain_phases"
    ]
    assert sub["external_references"][0]["url"] == "https://attack.mitre.org/techniques/T1566/001"
    links = [r for r in rels(attack_objects, "subtechnique-of") if r["source_ref"] == sub["id"]]
    assert [r["target_ref"] for r in links] == [parent["id"]]
    live_subs = [o for o in live(attack_objects, "attack-pattern") if o["x_mitre_is_subtechnique"]]
    linked = {r["source_ref"] for r in rels(attack_objects, "subtechnique-of")}
    assert {o["id"] for o in live_subs} == linked


def test_only_enterprise_and_revoked_entries_point_to_replacements(
    attack_objects: Objects,
) -> None:
    ids = {external_id(o) for o in attack_objects}
    assert "T1445" not in ids  # a Mobile-only technique
    assert "T1393" not in ids  # retired PRE-ATT&CK
    old = by_external_id(attack_objects, "T1193")  # Spearphishing Attachment, before 2020
    assert old["revoked"] is True
    replaced_by = [
        r["target_ref"] for r in rels(attack_objects, "revoked-by") if r["source_ref"] == old["id"]
    ]
    assert replaced_by == [by_external_id(attack_objects, "T1566.001")["id"]]
    assert any(o.get("x_mitre_deprecated") for o in attack_objects)
    mobile_only = [
        o
        for o in live(attack_objects, "malware", "tool")
        if set(o.get("x_mitre_platforms", [])) and set(o["x_mitre_platforms"]) <= {"Android", "iOS"}
    ]
    assert mobile_only == []


def test_software_has_aliases_and_family_flag(attack_objects: Objects) -> None:
    mimikatz = by_external_id(attack_objects, "S0002")
    assert mimikatz["type"] == "tool"
    assert mimikatz["name"] == "Mimikatz"
    assert mimikatz["aliases"] == mimikatz["x_mitre_aliases"]
    malware = live(attack_objects, "malware")
    assert all(o["is_family"] is True for o in malware)
    assert all(external_id(o) and external_id(o).startswith("S") for o in malware)


def test_uses_relationships_join_objects_of_the_build(attack_objects: Objects) -> None:
    types = {o["id"]: o["type"] for o in attack_objects}
    revoked = {o["id"] for o in attack_objects if o.get("revoked")}
    shapes = Counter()
    for rel in rels(attack_objects, "uses"):
        source, target = types[rel["source_ref"]], types[rel["target_ref"]]
        assert rel["source_ref"] not in revoked and rel["target_ref"] not in revoked
        shapes[(source, "tool" if target == "malware" else target)] += 1
        # The id is UUIDv5 over source|type|target, so every update finds the same link.
        name = f"{rel['source_ref']}|uses|{rel['target_ref']}"
        assert rel["id"] == f"relationship--{uuid.uuid5(KB_NAMESPACE, name)}"
    assert set(shapes) <= {
        ("intrusion-set", "attack-pattern"),
        ("intrusion-set", "tool"),
        ("malware", "attack-pattern"),
        ("tool", "attack-pattern"),
    }
    assert shapes[("intrusion-set", "attack-pattern")] > 1000
    assert shapes[("intrusion-set", "tool")] > 100
    assert shapes[("malware", "attack-pattern")] > 1000


def test_builds_are_deterministic(attack_objects: Objects, actor_objects: Objects) -> None:
    again = build_attack_objects()
    assert orjson.dumps(again) == orjson.dumps(attack_objects)
    assert orjson.dumps(build_actor_objects(attack_objects=again)) == orjson.dumps(actor_objects)


def test_every_object_passes_the_store_checks(
    attack_objects: Objects, actor_objects: Objects
) -> None:
    for obj in [*attack_objects, *actor_objects]:
        check_object(obj)
    ids = [o["id"] for o in attack_objects]
    assert len(ids) == len(set(ids))


def test_a_sample_passes_the_oasis_validator(
    attack_objects: Objects, actor_objects: Objects
) -> None:
    sample: Objects = []
    for objects in (attack_objects, actor_objects):
        seen: Counter[str] = Counter()
        for obj in objects:
            key = obj.get("relationship_type", obj["type"])
            if seen[key] < 4:
                sample.append(obj)
            seen[key] += 1
    kinds = {o.get("relationship_type", o["type"]) for o in sample}
    assert {"intrusion-set", "attack-pattern", "malware", "tool", "identity"} <= kinds
    assert {"uses", "subtechnique-of", "revoked-by", "duplicate-of"} <= kinds
    options = ValidationOptions(version="2.1")
    for obj in sample:
        result = validate_instance(obj, options)
        assert result.is_valid, (obj["id"], [str(e) for e in result.errors])


def test_actors_carry_the_catalogue_claims(actor_objects: Objects) -> None:
    actors = [o for o in actor_objects if o["type"] == "intrusion-set"]
    assert len(actors) >= 800
    assert all(o["created_by_ref"] == MISP_IDENTITY_ID for o in actors)
    assert all(o["object_marking_refs"] == [CLEAR] for o in actor_objects[1:])
    apt29 = next(o for o in actors if o["name"] == "APT29")
    assert apt29["x_accord_country"] == "RU"
    assert apt29["x_accord_attribution_confidence"] == 50
    assert apt29["x_accord_cfr_suspected_state_sponsor"] == "Russian Federation"
    assert "COZY BEAR" in apt29["aliases"]
    assert apt29["external_references"][0]["external_id"] == 'misp-galaxy:threat-actor="APT29"'
    assert all(isinstance(o.get("x_accord_attribution_confidence", 0), int) for o in actors)


def test_actors_are_linked_to_attack_groups_by_name(actor_objects: Objects) -> None:
    apt29 = next(o for o in actor_objects if o.get("name") == "APT29" and "aliases" in o)
    links = [r for r in rels(actor_objects, "duplicate-of") if r["source_ref"] == apt29["id"]]
    assert [r["target_ref"] for r in links] == [APT29]
    assert "COZY BEAR" in links[0]["description"]
    assert len(rels(actor_objects, "duplicate-of")) >= 150


def _actor_cluster(values: list[dict[str, Any]]) -> Cluster:
    return Cluster(
        {
            "name": "Threat Actor",
            "type": "threat-actor",
            "source": "test",
            "authors": ["test"],
            "description": "test",
            "uuid": "7cdff317-a673-4474-84ec-4f1754947823",
            "version": 1,
            "category": "actor",
            "values": values,
        }
    )


def test_actor_match_ignores_case_and_spacing(attack_objects: Objects) -> None:
    cluster = _actor_cluster(
        [
            {
                "value": "Some Local Name",
                "uuid": "0b6d5a3c-1f7e-4a2b-9c8d-3e4f5a6b7c8d",
                "meta": {"synonyms": ["cozy   BEAR"]},
            },
            {"value": "Nobody", "uuid": "1c7e6b4d-2a8f-4b3c-8d9e-4f5a6b7c8d9e"},
        ]
    )
    objects = build_actor_objects(cluster, attack_objects)
    links = rels(objects, "duplicate-of")
    assert [(r["source_ref"], r["target_ref"]) for r in links] == [
        ("intrusion-set--0b6d5a3c-1f7e-4a2b-9c8d-3e4f5a6b7c8d", APT29)
    ]


def test_bad_attribution_confidence_names_the_actor(attack_objects: Objects) -> None:
    cluster = _actor_cluster(
        [
            {
                "value": "Broken Actor",
                "uuid": "2d8f7c5e-3b9a-4c4d-9e0f-5a6b7c8d9e0f",
                "meta": {"attribution-confidence": "high"},
            }
        ]
    )
    with pytest.raises(InputError) as caught:
        build_actor_objects(cluster, attack_objects)
    assert "Broken Actor" in str(caught.value)
    assert "attribution-confidence" in str(caught.value)


def test_bad_galaxy_uuid_is_refused_with_its_place() -> None:
    clusters = load_attack_clusters()
    broken = copy.deepcopy(clusters[TECHNIQUES].cluster)
    first = next(v for v in broken["values"] if "attack-Windows" in str(v["meta"]))
    broken["values"] = [dict(first, uuid="not-a-uuid")]
    clusters = {**clusters, TECHNIQUES: Cluster(broken)}
    with pytest.raises(InputError) as caught:
        build_attack_objects(clusters)
    assert "mitre-attack-pattern" in str(caught.value)
    assert "not-a-uuid" in str(caught.value)


def test_loaders_read_the_installed_galaxies() -> None:
    clusters = load_attack_clusters()
    assert clusters[TECHNIQUES].version >= 1
    assert load_actor_cluster().version >= 1
