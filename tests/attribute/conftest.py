"""A small synthetic knowledge base in the shape the KB builders produce (ATT&CK ids, MISP
catalogue duplicates) plus partner intelligence, and incidents built on it.

Actors:

* ``APT-A`` (G9001): T9001 (everyone's technique), T9002.001, T9003; malware AlphaRAT (only
  APT-A); tool SharedTool. The MISP catalogue has "Alpha Bear" (duplicate-of APT-A) and
  "Alpha Panda" (alias "Alpha Bear": merged by alias too).
* ``APT-B`` (G9002): T9001, T9004, T9005; tool SharedTool; country XB in the catalogue.
* ``APT-C`` (G9003): T9001, T9004, T9006; malware GammaLoader.
* ``HERON`` (partner intel, no ATT&CK id): malware HeronLoader, infrastructure with domain
  ``c2.heron.example`` and an indicator for ``198.51.100.7`` that indicates it.
* 100 filler groups (G8000…), so that the knowledge base has the size of a real one: each
  uses T9001, four of 40 filler techniques (T8001…) and a malware family of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

NS = uuid.UUID("8a1b3c4d-0000-4000-8000-00000000abcd")
FILLERS = 100
TS = "2024-01-01T00:00:00.000Z"
KB_CREATOR = "identity--" + str(uuid.uuid5(NS, "kb-creator"))
PARTNER = "identity--" + str(uuid.uuid5(NS, "partner"))
OTHER_PARTNER = "identity--" + str(uuid.uuid5(NS, "other-partner"))
RESPONDER = "identity--" + str(uuid.uuid5(NS, "responder"))


def sid(kind: str, name: str) -> str:
    return f"{kind}--{uuid.uuid5(NS, kind + '|' + name)}"


def obj(kind: str, name: str, creator: str = KB_CREATOR, **props: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "spec_version": "2.1",
        "id": sid(kind, name),
        "created": TS,
        "modified": TS,
        "created_by_ref": creator,
    }
    if kind not in ("relationship", "sighting", "note", "opinion"):
        body["name"] = name
    body.update(props)
    return body


def ext(external_id: str) -> list[dict[str, str]]:
    return [{"source_name": "mitre-attack", "external_id": external_id}]


def rel(src: dict[str, Any], kind: str, dst: dict[str, Any], creator: str = KB_CREATOR, **p: Any):
    return obj(
        "relationship",
        f"{src['id']}|{kind}|{dst['id']}|{creator}",
        creator,
        relationship_type=kind,
        source_ref=src["id"],
        target_ref=dst["id"],
        **p,
    )


def technique(code: str, name: str) -> dict[str, Any]:
    return obj(
        "attack-pattern",
        name,
        external_references=ext(code),
        x_mitre_is_subtechnique="." in code,
    )


TECH = {
    "T9001": technique("T9001", "Command Everything"),
    "T9002": technique("T9002", "Phish"),
    "T9002.001": technique("T9002.001", "Phish Attachment"),
    "T9002.002": technique("T9002.002", "Phish Link"),
    "T9003": technique("T9003", "Dump Credentials"),
    "T9004": technique("T9004", "Remote Services"),
    "T9005": technique("T9005", "Exfiltrate"),
    "T9006": technique("T9006", "Wipe"),
}


def knowledge_base() -> list[dict[str, Any]]:
    """The synthetic KB: identities, techniques, software, actors and relationships."""
    kb_identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": KB_CREATOR,
        "created": TS,
        "modified": TS,
        "name": "Test KB",
        "identity_class": "organization",
    }
    alpha_rat = obj("malware", "AlphaRAT", is_family=True, external_references=ext("S9001"))
    shared = obj("tool", "SharedTool", external_references=ext("S9002"), x_mitre_aliases=["ST"])
    gamma = obj("malware", "GammaLoader", is_family=True, external_references=ext("S9003"))
    orphan = obj("malware", "OrphanWare", is_family=True, external_references=ext("S9004"))
    a = obj("intrusion-set", "APT-A", aliases=["APT-A", "Alpha"], external_references=ext("G9001"))
    b = obj("intrusion-set", "APT-B", external_references=ext("G9002"))
    c = obj("intrusion-set", "APT-C", external_references=ext("G9003"))
    misp_a = obj("intrusion-set", "Alpha Bear", aliases=["Alpha Bear", "Bear A"])
    misp_a2 = obj("intrusion-set", "Alpha Panda", aliases=["Alpha Bear"], x_accord_country="XA")
    misp_b = obj("intrusion-set", "Bravo Kitten", aliases=["APT-B"], x_accord_country="XB")
    objects = [kb_identity, *TECH.values(), alpha_rat, shared, gamma, orphan, a, b, c]
    objects += [misp_a, misp_a2, misp_b]
    objects += [
        rel(TECH["T9002.001"], "subtechnique-of", TECH["T9002"]),
        rel(TECH["T9002.002"], "subtechnique-of", TECH["T9002"]),
        rel(misp_a, "duplicate-of", a),
        rel(misp_b, "duplicate-of", b),
        rel(orphan, "uses", TECH["T9006"]),
        rel(orphan, "uses", TECH["T9004"]),
    ]
    pool = [technique(f"T{8001 + k}", f"Filler Technique {k}") for k in range(40)]
    objects += pool
    for i in range(FILLERS):
        group = obj(
            "intrusion-set", f"Filler Group {i:03d}", external_references=ext(f"G{8000 + i}")
        )
        family = obj(
            "malware", f"FillerMal {i:03d}", is_family=True, external_references=ext(f"S{8000 + i}")
        )
        objects += [group, family, rel(group, "uses", TECH["T9001"]), rel(group, "uses", family)]
        for k in range(4):
            objects.append(rel(group, "uses", pool[(i * 7 + k * 3) % len(pool)]))
    uses = {
        a["id"]: [TECH["T9001"], TECH["T9002.001"], TECH["T9003"], alpha_rat, shared],
        b["id"]: [TECH["T9001"], TECH["T9004"], TECH["T9005"], shared],
        c["id"]: [TECH["T9001"], TECH["T9004"], TECH["T9006"], gamma],
    }
    for actor in (a, b, c):
        objects += [rel(actor, "uses", target) for target in uses[actor["id"]]]
    return objects


def partner_intel(creator: str = PARTNER) -> list[dict[str, Any]]:
    """A partner's intrusion set with private malware, infrastructure and an indicator."""
    partner = {
        "type": "identity",
        "spec_version": "2.1",
        "id": creator,
        "created": TS,
        "modified": TS,
        "name": "Partner CERT",
        "identity_class": "organization",
        "x_accord_reliability": "B",
    }
    heron = obj(
        "intrusion-set", "HERON", creator, aliases=["Heron"], first_seen="2019-01-01T00:00:00.000Z"
    )
    loader = obj("malware", "HeronLoader", creator, is_family=True)
    domain = {"type": "domain-name", "spec_version": "2.1", "id": sid("domain-name", "c2")}
    domain["value"] = "c2.heron.example"
    infra = obj("infrastructure", "Heron C2", creator)
    indicator = obj(
        "indicator",
        "Heron C2 address",
        creator,
        pattern="[ipv4-addr:value = '198.51.100.7']",
        pattern_type="stix",
        valid_from=TS,
    )
    loader_hash = obj(
        "indicator",
        "HeronLoader hash",
        creator,
        pattern="[file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
        pattern_type="stix",
        valid_from=TS,
    )
    return [
        partner,
        heron,
        loader,
        domain,
        infra,
        indicator,
        loader_hash,
        rel(heron, "uses", loader, creator),
        rel(heron, "uses", infra, creator),
        rel(infra, "consists-of", domain, creator),
        rel(indicator, "indicates", heron, creator),
        rel(loader_hash, "indicates", loader, creator),
    ]


def responder_identity(identity_id: str = RESPONDER, reliability: str | None = "B") -> dict:
    body: dict[str, Any] = {
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id,
        "created": TS,
        "modified": TS,
        "name": f"Responder {identity_id[-4:]}",
        "identity_class": "organization",
    }
    if reliability:
        body["x_accord_reliability"] = reliability
    return body


def incident(name: str = "Test incident", creator: str = RESPONDER) -> dict[str, Any]:
    return obj("incident", name, creator)


def link(inc: dict[str, Any], target: dict[str, Any], creator: str = RESPONDER, **p: Any) -> dict:
    kind = "uses" if target["type"] in ("attack-pattern", "malware", "tool") else "related-to"
    return rel(inc, kind, target, creator, **p)


def observed_indicator(name: str, pattern: str, creator: str = RESPONDER) -> dict[str, Any]:
    return obj("indicator", name, creator, pattern=pattern, pattern_type="stix", valid_from=TS)


def artefact_note(inc: dict[str, Any], kind: str, value: str, country: str | None, n: int = 0):
    artefact = {"kind": kind, "value": value}
    if country:
        artefact["country"] = country
    return obj(
        "note",
        f"artefact {kind} {value} {n}",
        RESPONDER,
        content=f"{kind} artefact {value}",
        object_refs=[inc["id"]],
        x_accord_artefact=artefact,
    )


@pytest.fixture
def kb() -> list[dict[str, Any]]:
    return knowledge_base()


@pytest.fixture
def make_graph() -> Iterator[Callable[..., Any]]:
    from accord.attribute.graph import KnowledgeGraph

    def build(*extra: list[dict[str, Any]], origins: dict[str, str] | None = None):
        objects = [*knowledge_base(), *partner_intel(), responder_identity()]
        for chunk in extra:
            objects.extend(chunk)
        return KnowledgeGraph(objects, origins)

    yield build
