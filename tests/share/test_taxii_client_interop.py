"""The OASIS taxii2-client against a real ``accord`` TAXII server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from accord.model.tlp import TLP
from accord.share.serving import ServerThread
from tests.share.helpers import PASSWORD, STAMP, indicator, make_node, offer

BULK = 10_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("interop")
    node = make_node(root, "Interop Node")
    store = node.open_store()
    bulk = [indicator(i, TLP.GREEN) for i in range(BULK)]
    store.put_objects(bulk, "file", "bulk.json")
    versions_id = bulk[0]["id"]
    store.put_objects(
        [indicator(0, TLP.GREEN, obj_id=versions_id, modified="2025-12-02T10:00:00.000Z")],
        "file",
        "bulk.json",
    )
    store.put_objects([indicator(1, TLP.RED), indicator(2, TLP.AMBER)], "file", "secret.json")
    key = node.private_key()
    bulk_id = offer(
        store, "reader", query="source=file:bulk.json", collection="bulk", private_key=key
    )
    all_id = offer(store, "reader", collection="everything", private_key=key)
    inbox_id = offer(store, "reader", collection="inbox", inbox=True, private_key=key)
    with ServerThread(node, store) as server:
        yield {
            "server": server,
            "store": store,
            "node": node,
            "bulk": bulk,
            "bulk_id": bulk_id,
            "all_id": all_id,
            "inbox_id": inbox_id,
            "versions_id": versions_id,
        }
    store.close()


def _collection(served: dict[str, Any], key: str) -> Collection:
    url = f"{served['server'].api_root}collections/{served[key]}/"
    return Collection(url, user="reader", password=PASSWORD)


def test_discovery_api_root_and_collections(served: dict[str, Any]) -> None:
    server = Server(served["server"].discovery, user="reader", password=PASSWORD)
    assert server.title.startswith("accord node")
    assert [r.url for r in server.api_roots] == [served["server"].api_root]
    root: ApiRoot = server.default
    assert root.versions == ["application/taxii+json;version=2.1"]
    assert root.max_content_length > 0
    assert root.custom_properties["x_accord_identity"]["id"] == served["node"].identity_id
    titles = {c.title: c for c in root.collections}
    assert set(titles) == {"bulk", "everything", "inbox"}
    assert titles["inbox"].can_write and not titles["bulk"].can_write
    assert all(c.can_read for c in titles.values())


def test_as_pages_reads_every_object_once(served: dict[str, Any]) -> None:
    coll = _collection(served, "bulk_id")
    ids: list[str] = []
    pages = 0
    for envelope in as_pages(coll.get_objects, per_request=100):
        pages += 1
        ids += [o["id"] for o in envelope.get("objects", [])]
    assert pages == BULK // 100
    assert len(ids) == len(set(ids)) == BULK
    assert set(ids) == {o["id"] for o in served["bulk"]}


def test_manifest_versions_object_and_filters(served: dict[str, Any]) -> None:
    coll = _collection(served, "bulk_id")
    vid = served["versions_id"]
    manifest = coll.get_manifest(limit=5)
    assert manifest["more"] is True and len(manifest["objects"]) == 5
    entry = manifest["objects"][0]
    assert entry["media_type"] == "application/stix+json;version=2.1"
    versions = coll.object_versions(vid)
    assert versions["versions"] == [STAMP, "2025-12-02T10:00:00.000Z"]
    last = coll.get_object(vid)["objects"]
    assert [o["modified"] for o in last] == ["2025-12-02T10:00:00.000Z"]
    first = coll.get_object(vid, version="first")["objects"]
    assert [o["modified"] for o in first] == [STAMP]
    both = coll.get_object(vid, version="all")["objects"]
    assert len(both) == 2
    exact = coll.get_objects(version=STAMP, id=vid)["objects"]
    assert [o["modified"] for o in exact] == [STAMP]
    by_type = coll.get_objects(type="malware")
    assert "objects" not in by_type and by_type["more"] is False
    late = coll.get_objects(added_after="2999-01-01T00:00:00Z")
    assert "objects" not in late
    ids = [served["bulk"][5]["id"], served["bulk"][6]["id"]]
    assert {o["id"] for o in coll.get_objects(id=ids)["objects"]} == set(ids)
    assert coll.get_objects(spec_version="2.0").get("objects") is None


def test_add_objects_wait_get_and_delete(served: dict[str, Any]) -> None:
    coll = _collection(served, "inbox_id")
    new = [indicator(i, TLP.GREEN) for i in range(3)]
    bad = {"type": "indicator", "id": "indicator--not-a-uuid"}
    status = coll.add_objects({"objects": [*new, bad]}, wait_for_completion=True)
    assert status.status == "complete"
    assert (status.success_count, status.failure_count, status.pending_count) == (3, 1, 0)
    assert status.total_count == 4
    assert {s["id"] for s in status.successes} == {o["id"] for o in new}
    got = coll.get_object(new[0]["id"])["objects"][0]
    assert got == new[0]
    assert served["store"].provenance(new[0]["id"])[0]["source_name"] == "reader"
    coll.delete_object(new[0]["id"])
    with pytest.raises(Exception, match="404"):
        coll.get_object(new[0]["id"])
    # Deleting from the inbox never erases the store's history.
    assert served["store"].get(new[0]["id"]) == new[0]
    remaining = {o["id"] for o in coll.get_objects()["objects"]}
    assert remaining == {new[1]["id"], new[2]["id"]}


def test_policy_applies_to_taxii_reads(served: dict[str, Any]) -> None:
    coll = _collection(served, "all_id")
    levels = set()
    for envelope in as_pages(coll.get_objects, per_request=1000):
        for obj in envelope.get("objects", []):
            levels.update(obj.get("object_marking_refs", []))
    assert "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" not in levels
    assert "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" not in levels


def test_protocol_errors(served: dict[str, Any]) -> None:
    url = f"{served['server'].api_root}collections/{served['inbox_id']}/objects/"
    auth = ("reader", PASSWORD)
    taxii = "application/taxii+json;version=2.1"
    with httpx.Client(auth=auth) as http:
        r = http.get(url, headers={"Accept": "application/xml"})
        assert r.status_code == 406 and r.json()["http_status"] == "406"
        assert r.headers["content-type"].startswith("application/taxii+json")
        r = http.get(url, headers={"Accept": "application/taxii+json"})
        assert r.status_code == 200
        r = http.post(url, content=b"{}", headers={"Content-Type": "application/json"})
        assert r.status_code == 415
        r = http.post(url, content=b"{not json", headers={"Content-Type": taxii})
        assert r.status_code == 400
        r = http.post(url, content=b'{"objects": 3}', headers={"Content-Type": taxii})
        assert r.status_code == 422 and "title" in r.json()
        r = http.post(url, content=b" " * (70 * 1024 * 1024), headers={"Content-Type": taxii})
        assert r.status_code == 413
        for params in (
            {"limit": "0"},
            {"limit": "x"},
            {"added_after": "yesterday"},
            {"next": "garbage!"},
            {"match[version]": "latest"},
        ):
            r = http.get(url, params=params)
            assert r.status_code == 400, params
        # A collection that holds objects whichever tests ran before on this worker.
        everything = f"{served['server'].api_root}collections/{served['all_id']}/objects/"
        r = http.get(everything, params={"limit": "1"})
        assert len(r.json()["objects"]) == 1
        assert r.headers["X-TAXII-Date-Added-First"] == r.headers["X-TAXII-Date-Added-Last"]
