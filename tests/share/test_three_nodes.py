"""Three accord nodes on loopback, A, B and C, with different policies.

* a property test: whatever the objects, markings and policies, no object above a peer's
  ceiling, nothing unmarked and nothing RED ever reaches it, on any TAXII endpoint;
* A → B → C relays keep A's signatures verifiable at C, and B's policy holds for C.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.model.tlp import TLP, TLP1_IDS, TLP2_IDS, level_of_markings, marking_refs
from accord.share.auth import create_token
from accord.share.peers import save_peer, set_policy
from accord.share.policy import Ceiling
from accord.share.serving import ServerThread
from accord.share.signing import KeyRing
from accord.share.sync import sync_peer
from accord.store.store import Store
from tests.share.helpers import PASSWORD, STAMP, indicator, make_node, new_id, offer

TAXII = {"Accept": "application/taxii+json;version=2.1"}


@pytest.fixture(scope="module")
def node_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("three")
    node = make_node(root, "Node A")
    store = node.open_store()
    key = node.private_key()
    for_b = offer(store, "b", collection="to-b", private_key=key)
    for_c = offer(store, "c", collection="to-c", private_key=key)
    with ServerThread(node, store) as server:
        yield {
            "root": root,
            "node": node,
            "store": store,
            "server": server,
            "colls": {"b": for_b, "c": for_c},
        }
    store.close()


_MARKINGS = st.sampled_from(
    [
        [],
        *[[TLP2_IDS[level]] for level in TLP],
        *[[TLP1_IDS[level]] for level in TLP1_IDS],
        [TLP2_IDS[TLP.GREEN], TLP2_IDS[TLP.RED]],
    ]
)


@st.composite
def _objects(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for n in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["indicator", "malware", "note", "identity"]))
        obj: dict[str, Any]
        if kind == "indicator":
            obj = indicator(n, None)
        elif kind == "malware":
            obj = {
                "type": "malware",
                "spec_version": "2.1",
                "id": new_id("malware"),
                "created": STAMP,
                "modified": STAMP,
                "name": f"m{n}",
                "is_family": True,
            }
        elif kind == "note":
            obj = {
                "type": "note",
                "spec_version": "2.1",
                "id": new_id("note"),
                "created": STAMP,
                "modified": STAMP,
                "content": "a note",
                "object_refs": [new_id("malware")],
            }
        else:
            obj = {
                "type": "identity",
                "spec_version": "2.1",
                "id": new_id("identity"),
                "created": STAMP,
                "modified": STAMP,
                "name": f"org {n}",
                "identity_class": draw(st.sampled_from(["organization", "individual"])),
            }
        refs = draw(_MARKINGS)
        if refs:
            obj["object_marking_refs"] = refs
        if draw(st.booleans()) and kind != "note":
            obj["granular_markings"] = [
                {
                    "selectors": ["name"],
                    "marking_ref": draw(st.sampled_from(list(TLP2_IDS.values()))),
                }
            ]
        out.append(obj)
    return out


_POLICY = st.tuples(
    st.sampled_from([TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT]),
    st.booleans(),
    st.sampled_from(["none", "standard"]),
).map(lambda p: (p[0], p[1] or p[0] is TLP.AMBER_STRICT, p[2]))


def _level(obj: dict[str, Any]) -> TLP | None:
    return level_of_markings(marking_refs(obj))


def _read_all(http: httpx.Client, url: str, key: str) -> list[Any]:
    found: list[Any] = []
    params: dict[str, Any] = {"limit": 3, "match[version]": "all"}
    while True:
        r = http.get(url, params=params, headers=TAXII)
        assert r.status_code == 200, r.text
        body = r.json()
        found += body.get(key, [])
        if not body["more"]:
            return found
        params = {**params, "next": body["next"]}


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(objects=_objects(), policy_b=_POLICY, policy_c=_POLICY)
def test_no_peer_ever_receives_above_its_ceiling(
    node_a: dict[str, Any], objects: list[dict[str, Any]], policy_b: Any, policy_c: Any
) -> None:
    store: Store = node_a["store"]
    store.put_objects(objects, "file", "random.json")
    api = node_a["server"].api_root
    for peer, (tlp_max, same_org, redact) in (("b", policy_b), ("c", policy_c)):
        set_policy(store, peer, tlp_max=tlp_max, same_org=same_org, redact=redact)
        ceiling = Ceiling(tlp_max, same_org)
        coll = f"{api}collections/{node_a['colls'][peer]}/"
        with httpx.Client(auth=(peer, PASSWORD)) as http:
            received = _read_all(http, coll + "objects/", "objects")
            for obj in received:
                level = _level(obj)
                # The node's own identity is public by design (it carries the node's key).
                public = (
                    obj["type"] == "marking-definition" or obj["id"] == node_a["node"].identity_id
                )
                assert public or level is not None, obj
                assert level is None or ceiling.allows(level), (peer, ceiling, obj)
            manifest = _read_all(http, coll + "manifest/", "objects")
            assert {(m["id"], m["version"]) for m in manifest} == {
                (o["id"], o.get("modified") or o.get("created")) for o in received
            }
            for obj in objects:
                r = http.get(f"{coll}objects/{obj['id']}/", headers=TAXII)
                v = http.get(f"{coll}objects/{obj['id']}/versions/", headers=TAXII)
                level = _level(obj)
                if level is None or not ceiling.allows(level):
                    assert r.status_code == 404 and v.status_code == 404, (peer, obj)
                    assert obj["id"] not in r.text and obj["id"] not in v.text
                else:
                    for got in r.json().get("objects", []):
                        got_level = _level(got)
                        assert got_level is not None and ceiling.allows(got_level)


def test_relay_a_to_b_to_c_keeps_a_signatures_and_b_policy(tmp_path: Path) -> None:
    a, b, c = (make_node(tmp_path, n) for n in ("Node A", "Node B", "Node C"))
    with a.open_store() as sa, b.open_store() as sb, c.open_store() as sc:
        own = [
            indicator(i, lv, creator=a.identity_id)
            for i, lv in enumerate([TLP.GREEN, TLP.GREEN, TLP.AMBER, TLP.RED])
        ]
        sa.put_objects(own, "user", "analyst")
        offer(sa, "b", tlp_max=TLP.AMBER, private_key=a.private_key())
        token_b = create_token(sa, "b")
        offer(sb, "c", tlp_max=TLP.GREEN, private_key=b.private_key())
        token_c = create_token(sb, "c")
        with ServerThread(a, sa) as server_a, ServerThread(b, sb) as server_b:
            save_peer(sb, b.private_key(), "a", server_a.discovery, token=token_b)
            report_b = sync_peer(b, sb, "a")
            assert report_b.error is None and report_b.totals.quarantined == 0
            assert sb.get(own[2]["id"]) is not None, "B may read AMBER"
            assert sb.get(own[3]["id"]) is None, "RED never leaves A"
            save_peer(sc, c.private_key(), "b", server_b.discovery, token=token_c)
            report_c = sync_peer(c, sc, "b")
            assert report_c.error is None and report_c.totals.quarantined == 0
            assert report_c.totals.flagged == 0
        ring = KeyRing.from_store(sc)
        for obj in own[:2]:
            got = sc.get(obj["id"])
            assert got is not None
            verdict = ring.verify(got)
            assert verdict.status == "valid" and verdict.signer == a.identity_id
        assert sc.get(own[2]["id"]) is None, "B's GREEN ceiling holds for what it relays"
        assert a.identity_id in {k.identity_id for k in ring.keys.values()}
        assert sc.provenance(own[0]["id"])[0]["source_name"] == "b"
