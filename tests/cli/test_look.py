"""``accord show``, ``accord search`` and ``accord related``, in text and ``--json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accord.store.home import NodeHome
from tests.cli.test_node import assert_error, run, squeeze
from tests.store.stix_helpers import FIXTURES, load_objects

OBJS = {o["id"]: o for o in load_objects("all_types.json")}


def _first(obj_type: str, **match: Any) -> dict[str, Any]:
    return next(
        o
        for o in OBJS.values()
        if o["type"] == obj_type and all(o.get(k) == v for k, v in match.items())
    )


@pytest.fixture
def home(node_home: NodeHome) -> NodeHome:
    for name in ("all_types.json", "versions.json"):
        result = run("import", "--home", str(node_home.path), str(FIXTURES / name))
        assert result.exit_code == 0, result.stderr
    # the same file again from a peer: provenance gains a second source
    versions = str(FIXTURES / "versions.json")
    again = run("import", "--home", str(node_home.path), "--source", "peer:cert-b", versions)
    assert again.exit_code == 0
    return node_home


def _json(home: NodeHome, *args: str) -> Any:
    result = run(*args, "--home", str(home.path), "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def test_show_json_with_provenance_and_versions(home: NodeHome) -> None:
    actor = next(o for o in load_objects("versions.json") if o["type"] == "threat-actor")
    history = sorted(
        (o for o in load_objects("versions.json") if o["id"] == actor["id"]),
        key=lambda o: o["modified"],
    )
    info = _json(home, "show", actor["id"])
    assert set(info) == {
        "id", "tlp", "date_added", "source", "versions", "provenance", "object",
    }  # fmt: skip
    assert info["id"] == actor["id"]
    assert info["object"] == history[-1]
    assert info["tlp"] == "GREEN"
    assert info["versions"] == 4
    assert info["source"] == {"kind": "file", "name": str(FIXTURES / "versions.json")}
    assert info["date_added"].endswith("Z") and len(info["date_added"]) == 27  # microseconds
    prov = info["provenance"]
    assert {p["source_name"] for p in prov} == {str(FIXTURES / "versions.json"), "peer:cert-b"}
    assert len(prov) == 8  # 4 versions, each delivered by the file and by the peer
    assert all(set(p) == {"modified", "source_kind", "source_name", "received"} for p in prov)
    assert {p["modified"] for p in prov} == {
        "2025-01-10T12:00:00.000000Z",
        "2025-02-01T08:30:00.000000Z",
        "2025-02-01T08:30:00.123456Z",
        "2025-03-15T00:00:00.000000Z",
    }

    every = _json(home, "show", actor["id"], "--all-versions")
    assert "object" not in every
    assert every["objects"] == history


def test_show_unversioned_and_text(home: NodeHome) -> None:
    ip = _first("ipv4-addr", value="198.51.100.23")
    info = _json(home, "show", ip["id"])
    assert info["object"] == ip
    assert info["provenance"][0]["modified"] is None
    assert info["tlp"] == "AMBER"
    result = run("show", ip["id"], "--home", str(home.path))
    assert result.exit_code == 0
    assert "TLP:AMBER" in result.stdout and "198.51.100.23" in result.stdout


def test_show_unknown_id(home: NodeHome) -> None:
    missing = "malware--00000000-0000-4000-8000-000000000000"
    assert_error(run("show", missing, "--home", str(home.path)), f"{missing} is not in this store")


def test_search_value_json(home: NodeHome) -> None:
    indicator = _first("indicator", name="Glassvine gate IP")
    ip = _first("ipv4-addr", value="198.51.100.23")
    found = _json(home, "search", "198.51.100.23")
    assert found["query"] == "198.51.100.23"
    results = {r["id"]: r for r in found["results"]}
    assert set(results) == {indicator["id"], ip["id"]}
    assert results[indicator["id"]] == {
        "id": indicator["id"],
        "type": "indicator",
        "kind": "ipv4",
        "value": "198.51.100.23",
        "how": "exact",
        "name": "Glassvine gate IP",
    }
    only = _json(home, "search", "198.51.100.23", "--type", "ipv4-addr")
    assert [r["id"] for r in only["results"]] == [ip["id"]]


def test_search_understands_domains_urls_and_hashes(home: NodeHome) -> None:
    url = _first("url")
    domain = _first("domain-name")
    under = _json(home, "search", "cdn.update.glassvine.example")["results"]
    assert {r["id"]: r["how"] for r in under} == {domain["id"]: "parent-domain"}
    by_url = _json(home, "search", "HTTPS://Update.Glassvine.Example:8443/gate.php?id=42")
    hows = {r["id"]: r["how"] for r in by_url["results"]}
    assert hows[url["id"]] == "exact" and hows[domain["id"]] == "url-host"
    digest = "3F79BB7B435B05321651DAEFD374CDC681DC06FAA65E374E38337B88CA046DEA"
    hits = {r["id"] for r in _json(home, "search", digest)["results"]}
    assert _first("file")["id"] in hits
    assert _first("indicator", name="Glassvine dropper")["id"] in hits


def test_search_type_and_text(home: NodeHome) -> None:
    found = _json(home, "search", "--type", "intrusion-set")
    assert found["results"] == [
        {"id": _first("intrusion-set")["id"], "type": "intrusion-set", "name": "Copper Lynx"}
    ]
    text = _json(home, "search", "--text", "bronze ocelot")["results"]
    assert {r["type"] for r in text} == {"intrusion-set", "threat-actor"}
    narrowed = _json(home, "search", "--text", "bronze ocelot", "--type", "threat-actor")
    assert [r["name"] for r in narrowed["results"]] == ["Copper Lynx"]
    assert _json(home, "search", "--text", "no-such-word-anywhere")["results"] == []
    limited = _json(home, "search", "--type", "indicator", "--limit", "2")
    assert len(limited["results"]) == 2


def test_search_text_output(home: NodeHome) -> None:
    result = run("search", "198.51.100.23", "--home", str(home.path))
    assert result.exit_code == 0
    assert "Glassvine" in result.stdout and "exact" in result.stdout  # a table, folded to 80
    none = run("search", "192.0.2.200", "--home", str(home.path))
    assert none.exit_code == 0 and "no match" in none.stdout


def test_search_errors(home: NodeHome) -> None:
    assert_error(run("search", "--home", str(home.path)), "give a VALUE, --type or --text")
    assert_error(
        run("search", "not a value", "--home", str(home.path)), "cannot search for 'not a value'"
    )


def test_related_depth_two_json(home: NodeHome) -> None:
    ind = _first("indicator", name="Glassvine gate IP")
    mal = _first("malware")
    iset = _first("intrusion-set")
    camp = _first("campaign")
    one = _json(home, "related", ind["id"])
    assert set(one) == {"root", "nodes", "edges", "truncated"}
    assert one["root"] == ind["id"]
    distances = {n["id"]: n["distance"] for n in one["nodes"]}
    assert distances[ind["id"]] == 0 and distances[mal["id"]] == 1
    assert iset["id"] not in distances
    assert all(set(n) == {"id", "type", "name", "distance", "in_store"} for n in one["nodes"])
    two = _json(home, "related", ind["id"], "--depth", "2")
    distances = {n["id"]: n["distance"] for n in two["nodes"]}
    assert distances[iset["id"]] == 2
    assert camp["id"] not in distances or distances[camp["id"]] >= 2
    edge = {"source": iset["id"], "label": "uses", "target": mal["id"]}
    assert any({k: e[k] for k in ("source", "label", "target")} == edge for e in two["edges"])
    assert all(e.get("via", "relationship--").startswith("relationship--") for e in two["edges"])
    assert two["truncated"] is False


def test_related_text_and_errors(home: NodeHome) -> None:
    ind = _first("indicator", name="Glassvine gate IP")
    result = run("related", ind["id"], "--home", str(home.path))
    assert result.exit_code == 0
    assert "GLASSVINE" in result.stdout
    assert squeeze("--indicates-->") in squeeze(result.stdout)
    assert_error(
        run("related", ind["id"], "--depth", "0", "--home", str(home.path)),
        "--depth must be at least 1",
    )
    missing = "malware--00000000-0000-4000-8000-000000000000"
    assert_error(run("related", missing, "--home", str(home.path)), "is not in this store")


def test_json_output_is_pure_json(home: NodeHome, tmp_path: Path) -> None:
    """Every command's --json output parses, with nothing else on stdout."""
    ind = _first("indicator", name="Glassvine gate IP")
    out = tmp_path / "e.json"
    for args in (
        ["status"],
        ["show", ind["id"]],
        ["search", "evil.example"],
        ["search", "--text", "glassvine"],
        ["related", ind["id"], "--depth", "3"],
        ["export", "-o", str(out)],
        ["import", str(FIXTURES / "versions.json")],
    ):
        result = run(*args, "--home", str(home.path), "--json")
        assert result.exit_code == 0, (args, result.stderr)
        assert isinstance(json.loads(result.stdout), dict), args
