"""Value, type and text search and the relationship graph, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accord.store import Store
from accord.store import schema as s
from accord.store.graph import neighbourhood
from accord.store.search import search_objects, search_value
from tests.store.stix_helpers import (
    BACKENDS,
    RCERT,
    indicator,
    malware,
    new_id,
    open_module_store,
    sdo,
)

SHA256 = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
MD5 = "a3cca2b2aa1e3b5b3b5aad99a8529074"


@pytest.fixture(scope="module", params=BACKENDS)
def mstore(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    yield from open_module_store(request, tmp_path_factory)


@pytest.fixture(scope="module")
def corpus(mstore: Store) -> dict[str, dict[str, Any]]:
    """One store with indicators of every indexed kind, SCOs and a relationship graph."""
    objs = {
        "net": indicator("[ipv4-addr:value = '203.0.113.0/24']", name="Gate network"),
        "net16": indicator("[ipv4-addr:value ISSUBSET '203.0.0.0/16']", name="Wide network"),
        "ip": indicator("[ipv4-addr:value = '203.0.113.9']", name="Gate host"),
        "v6net": indicator("[ipv6-addr:value = '2001:db8:aa::/48']", name="Gate v6 net"),
        "domain": indicator("[domain-name:value = 'evil.example']", name="Evil domain"),
        "idn": indicator("[domain-name:value = 'xn--bcher-kva.example']", name="IDN domain"),
        "url": indicator("[url:value = 'HTTPS://Gate.Evil.Example:443/Path?q=1']", name="Gate URL"),
        "email": indicator("[email-addr:value = 'Boss@Evil.Example']", name="Boss mail"),
        "hashes": indicator(
            f"[file:hashes.'SHA-256' = '{SHA256.upper()}'] OR [file:hashes.'MD5' = '{MD5}']",
            name="Dropper hashes",
        ),
        "either": indicator(
            "[ipv4-addr:value = '192.0.2.44' OR domain-name:value = 'other.example']",
            name="Either",
        ),
        "and": indicator(
            "[ipv4-addr:value = '192.0.2.55' AND ipv4-addr:value != '192.0.2.56']",
            name="Complex AND",
        ),
        "qualified": indicator(
            "[ipv4-addr:value = '192.0.2.66'] WITHIN 60 SECONDS", name="Qualified"
        ),
        "sco_ip": {
            "type": "ipv4-addr",
            "spec_version": "2.1",
            "id": new_id("ipv4-addr"),
            "value": "203.0.113.77",
        },
        "sco_file": {
            "type": "file",
            "spec_version": "2.1",
            "id": new_id("file"),
            "name": "dropper.exe",
            "hashes": {"SHA-256": SHA256},
        },
        "mal": malware("Glassvine Loader", description="Downloader with a teal mutex"),
        "iset": sdo("intrusion-set", name="Copper Lynx", aliases=["Bronze Ocelot"]),
        "ap": sdo(
            "attack-pattern",
            name="Spearphishing attachment",
            external_references=[{"source_name": "mitre-attack", "external_id": "T1566.001"}],
        ),
        "camp": sdo("campaign", name="Winter Invoices", created_by_ref=RCERT),
        "pct": sdo("tool", name="100% _literal_ tool"),
    }
    rels = {
        "ind_mal": sdo(
            "relationship",
            relationship_type="indicates",
            source_ref=objs["domain"]["id"],
            target_ref=objs["mal"]["id"],
        ),
        "iset_mal": sdo(
            "relationship",
            relationship_type="uses",
            source_ref=objs["iset"]["id"],
            target_ref=objs["mal"]["id"],
        ),
        "camp_iset": sdo(
            "relationship",
            relationship_type="attributed-to",
            source_ref=objs["camp"]["id"],
            target_ref=objs["iset"]["id"],
        ),
    }
    objs["report"] = sdo(
        "report",
        name="Copper Lynx report",
        published="2025-01-01T00:00:00Z",
        object_refs=[objs["camp"]["id"], RCERT],
        created_by_ref=RCERT,
    )
    objs.update(rels)
    mstore.put_objects(objs.values())
    return objs


def _ids(store: Store, text: str) -> dict[str, str]:
    return {m.id: m.how for m in search_value(store, text)}


def test_ip_finds_exact_and_containing_networks(mstore: Store, corpus: dict[str, Any]) -> None:
    found = _ids(mstore, "203.0.113.9")
    assert found == {
        corpus["ip"]["id"]: "exact",
        corpus["net"]["id"]: "contained-in",
        corpus["net16"]["id"]: "contained-in",
    }
    assert _ids(mstore, "203.0.113.200") == {
        corpus["net"]["id"]: "contained-in",
        corpus["net16"]["id"]: "contained-in",
    }
    assert _ids(mstore, "203.0.114.1") == {corpus["net16"]["id"]: "contained-in"}
    assert _ids(mstore, "203.1.0.1") == {}
    assert _ids(mstore, "2001:db8:aa:1::5") == {corpus["v6net"]["id"]: "contained-in"}
    assert _ids(mstore, "203.0.113.77") == {
        corpus["sco_ip"]["id"]: "exact",
        corpus["net"]["id"]: "contained-in",
        corpus["net16"]["id"]: "contained-in",
    }


def test_cidr_query_finds_contained_addresses_and_supernets(
    mstore: Store, corpus: dict[str, Any]
) -> None:
    found = _ids(mstore, "203.0.113.0/25")
    assert found[corpus["ip"]["id"]] == "contains"
    assert found[corpus["sco_ip"]["id"]] == "contains"
    assert found[corpus["net"]["id"]] == "contained-in"
    assert found[corpus["net16"]["id"]] == "contained-in"
    assert _ids(mstore, "203.0.113.0/24")[corpus["net"]["id"]] == "exact"


def test_parent_domains_and_urls_on_a_domain(mstore: Store, corpus: dict[str, Any]) -> None:
    assert _ids(mstore, "a.b.evil.example") == {corpus["domain"]["id"]: "parent-domain"}
    assert _ids(mstore, "EVIL.example.") == {corpus["domain"]["id"]: "exact"}
    found = _ids(mstore, "gate.evil.example")
    assert found == {corpus["domain"]["id"]: "parent-domain", corpus["url"]["id"]: "url-on-domain"}
    assert _ids(mstore, "notevil.example") == {}


def test_domain_finds_urls_on_a_non_default_port(mstore: Store) -> None:
    url = indicator("[url:value = 'https://c2.port.example:8443/gate.php']")
    mstore.put_objects([url])
    assert _ids(mstore, "c2.port.example") == {url["id"]: "url-on-domain"}


@pytest.mark.parametrize(
    "query",
    [
        "https://gate.evil.example/Path?q=1",
        "http://GATE.evil.example:80/Path?q=1",
        "gate.evil.example/Path?q=1",
        "https://Gate.Evil.Example:443/Path?q=1",
    ],
)
def test_url_normalisation(mstore: Store, corpus: dict[str, Any], query: str) -> None:
    found = _ids(mstore, query)
    assert found[corpus["url"]["id"]] == "exact"
    assert found[corpus["domain"]["id"]] == "url-host"  # the URL's host is under evil.example


def test_url_path_case_matters(mstore: Store, corpus: dict[str, Any]) -> None:
    assert corpus["url"]["id"] not in _ids(mstore, "https://gate.evil.example/path?q=1")


def test_hash_case_and_email(mstore: Store, corpus: dict[str, Any]) -> None:
    assert _ids(mstore, SHA256) == {
        corpus["hashes"]["id"]: "exact",
        corpus["sco_file"]["id"]: "exact",
    }
    assert _ids(mstore, SHA256.upper()) == _ids(mstore, SHA256)
    assert _ids(mstore, MD5.upper()) == {corpus["hashes"]["id"]: "exact"}
    assert _ids(mstore, "boss@EVIL.example") == {corpus["email"]["id"]: "exact"}


def test_idn_unicode_and_punycode_match(mstore: Store, corpus: dict[str, Any]) -> None:
    assert _ids(mstore, "bücher.example") == {corpus["idn"]["id"]: "exact"}
    assert _ids(mstore, "XN--BCHER-KVA.example") == {corpus["idn"]["id"]: "exact"}
    assert _ids(mstore, "shop.BÜCHER.example") == {corpus["idn"]["id"]: "parent-domain"}


def test_or_observations_are_each_indexed(mstore: Store, corpus: dict[str, Any]) -> None:
    assert _ids(mstore, "192.0.2.44") == {corpus["either"]["id"]: "exact"}
    assert _ids(mstore, "other.example") == {corpus["either"]["id"]: "exact"}


def test_and_and_qualified_patterns_are_not_value_indexed(
    mstore: Store, corpus: dict[str, Any]
) -> None:
    assert _ids(mstore, "192.0.2.55") == {}
    assert _ids(mstore, "192.0.2.66") == {}
    with mstore.engine.connect() as conn:
        for key in ("and", "qualified", "mal"):
            rows = conn.execute(
                s.observables.select().where(s.observables.c.obj_id == corpus[key]["id"])
            ).all()
            assert rows == []


def test_value_index_follows_the_current_version(mstore: Store) -> None:
    v1 = indicator("[domain-name:value = 'old-gate.example']", modified="2025-01-01T00:00:00Z")
    v2 = {**v1, "pattern": "[domain-name:value = 'new-gate.example']"}
    v2["modified"] = "2025-02-01T00:00:00Z"
    mstore.put_objects([v2])
    mstore.put_objects([v1])  # older history arrives later: the index keeps v2's value
    assert _ids(mstore, "new-gate.example") == {v1["id"]: "exact"}
    assert _ids(mstore, "old-gate.example") == {}
    v3 = {**v1, "pattern": "[domain-name:value = 'third-gate.example']"}
    v3["modified"] = "2025-03-01T00:00:00Z"
    mstore.put_objects([v3])
    assert _ids(mstore, "new-gate.example") == {}
    assert _ids(mstore, "third-gate.example") == {v1["id"]: "exact"}


def test_unparseable_value_raises(mstore: Store) -> None:
    with pytest.raises(ValueError):
        search_value(mstore, "not a value at all")


def test_search_by_type_and_text(mstore: Store, corpus: dict[str, Any]) -> None:
    tools = search_objects(mstore, types=["intrusion-set"])
    assert {"id": corpus["iset"]["id"], "type": "intrusion-set", "name": "Copper Lynx"} in tools
    assert all(r["type"] == "intrusion-set" for r in tools)
    by_alias = search_objects(mstore, words=["bronze", "OCELOT"])
    assert [r["id"] for r in by_alias] == [corpus["iset"]["id"]]
    by_description = search_objects(mstore, types=["malware"], words=["teal", "mutex"])
    assert [r["id"] for r in by_description] == [corpus["mal"]["id"]]
    by_attack_id = search_objects(mstore, words=["t1566.001"])
    assert [r["id"] for r in by_attack_id] == [corpus["ap"]["id"]]
    assert search_objects(mstore, types=["malware"], words=["copper"]) == []
    # LIKE metacharacters are literal
    assert [r["id"] for r in search_objects(mstore, words=["100%"])] == [corpus["pct"]["id"]]
    assert search_objects(mstore, words=["_literal_"])[0]["id"] == corpus["pct"]["id"]
    assert corpus["pct"]["id"] not in [r["id"] for r in search_objects(mstore, words=["1000"])]


def test_related_through_relationships(mstore: Store, corpus: dict[str, Any]) -> None:
    one = neighbourhood(mstore, corpus["domain"]["id"], depth=1)
    assert {n["id"]: n["distance"] for n in one.nodes.values()} == {
        corpus["domain"]["id"]: 0,
        corpus["mal"]["id"]: 1,
    }
    assert [e.as_dict() for e in one.edges] == [
        {
            "source": corpus["domain"]["id"],
            "label": "indicates",
            "target": corpus["mal"]["id"],
            "via": corpus["ind_mal"]["id"],
        }
    ]
    two = neighbourhood(mstore, corpus["domain"]["id"], depth=2)
    assert two.nodes[corpus["iset"]["id"]]["distance"] == 2
    assert two.nodes[corpus["iset"]["id"]]["name"] == "Copper Lynx"
    assert corpus["camp"]["id"] not in two.nodes
    three = neighbourhood(mstore, corpus["domain"]["id"], depth=4)
    assert three.nodes[corpus["camp"]["id"]]["distance"] == 3
    assert three.nodes[corpus["report"]["id"]]["distance"] == 4  # via the report's object_refs
    assert not three.truncated


def test_related_follows_refs_and_marks_missing_targets(
    mstore: Store, corpus: dict[str, Any]
) -> None:
    around = neighbourhood(mstore, corpus["report"]["id"], depth=1)
    assert around.nodes[corpus["camp"]["id"]]["distance"] == 1
    edges = {(e.label, e.target) for e in around.edges}
    assert ("object_refs", corpus["camp"]["id"]) in edges
    assert ("object_refs", RCERT) in edges
    assert around.nodes[RCERT]["in_store"] is False
    assert around.nodes[RCERT]["type"] == "identity"


def test_related_is_capped(mstore: Store, corpus: dict[str, Any]) -> None:
    capped = neighbourhood(mstore, corpus["domain"]["id"], depth=4, limit=2)
    assert capped.truncated
    assert len(capped.nodes) == 2
