"""The fixed sharing rules and the emitting view (policy, redaction, paging, signing)."""

from __future__ import annotations

import pytest

from accord.model.errors import AccordError
from accord.model.tlp import TLP, level_of_markings, marking_refs
from accord.share.collections import add_collection, parse_query
from accord.share.egress import objects_for_peer, preview
from accord.share.peers import save_peer, set_policy
from accord.share.policy import Ceiling, check_tlp_max
from accord.share.redaction import Profile
from accord.share.signing import KEY_ID, SIGNATURE, Signer, ensure_own_keys
from accord.share.view import Audience, Filters, View
from accord.store.home import NodeHome
from accord.store.store import Store
from tests.share.helpers import indicator, new_id


def test_ceiling_rules() -> None:
    green = Ceiling(TLP.GREEN)
    assert green.levels == [TLP.CLEAR, TLP.GREEN]
    amber = Ceiling(TLP.AMBER)
    assert TLP.AMBER_STRICT not in amber.levels
    strict_other_org = Ceiling(TLP.AMBER_STRICT, same_org=False)
    assert not strict_other_org.allows(TLP.AMBER_STRICT)
    strict_same_org = Ceiling(TLP.AMBER_STRICT, same_org=True)
    assert strict_same_org.allows(TLP.AMBER_STRICT)
    for ceiling in (green, amber, strict_same_org, Ceiling(TLP.RED, True)):
        assert not ceiling.allows(TLP.RED)
    with pytest.raises(AccordError, match="RED never leaves"):
        check_tlp_max(TLP.RED, True)
    with pytest.raises(AccordError, match="same-org"):
        check_tlp_max(TLP.AMBER_STRICT, False)


def test_collection_queries() -> None:
    sel = parse_query("types=indicator,malware creator=self tlp<=green source=peer:partner")
    assert sel.types == ("indicator", "malware")
    assert sel.creator == "self" and sel.tlp_max is TLP.GREEN
    assert (sel.source_kind, sel.source_name) == ("peer", "partner")
    for bad in ("colour=blue", "tlp<=purple", "creator=someone", "source=mail", "types"):
        with pytest.raises(AccordError):
            parse_query(bad)


def _view(node: NodeHome, store: Store, ceiling: Ceiling, query: str = "", redact: str = "none"):
    coll = add_collection(store, f"c-{id(ceiling)}-{redact}-{len(query)}", query=query)
    signer = Signer.from_home(node)
    ensure_own_keys(signer, store)
    profile = Profile(redact, node.identity_id, ["csro.example"])
    return View(store, signer, coll, Audience("peer", ceiling, profile))


def test_view_enforces_tlp_unmarked_and_red(node_a: NodeHome, store_a: Store) -> None:
    levels = [None, TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
    objs = [indicator(i, level) for i, level in enumerate(levels * 3)]
    objs.append(indicator(99, TLP.RED, tlp1=True))
    # A granular RED marking on one property makes the whole object RED.
    granular = indicator(98, TLP.GREEN)
    granular["granular_markings"] = [
        {
            "selectors": ["name"],
            "marking_ref": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    ]
    objs.append(granular)
    store_a.put_objects(objs, "file", "mixed.json")
    for ceiling in (
        Ceiling(TLP.GREEN),
        Ceiling(TLP.AMBER),
        Ceiling(TLP.AMBER_STRICT, True),
    ):
        items = list(_view(node_a, store_a, ceiling, "types=indicator").iter_items())
        seen = [level_of_markings(marking_refs(i.parsed())) for i in items]
        assert None not in seen, "unmarked data left the node"
        # No creator named: this node only received them (AMBER stays within the org).
        assert all(ceiling.allows(lv, third_party=True) for lv in seen if lv is not None)
        assert TLP.RED not in seen
        expected = sum(
            1
            for o in objs
            if (lv := level_of_markings(marking_refs(o))) is not None
            and ceiling.allows(lv, third_party=True)
        )
        assert len(items) == expected


def test_paging_is_exact_and_signs_own_objects(node_a: NodeHome, store_a: Store) -> None:
    own = [indicator(i, TLP.GREEN, creator=node_a.identity_id) for i in range(30)]
    store_a.put_objects(own, "user", "analyst")
    view = _view(node_a, store_a, Ceiling(TLP.GREEN), "types=indicator")
    seen: list[str] = []
    position = None
    pages = 0
    while True:
        page = view.page(Filters(), position, 7)
        pages += 1
        assert len(page.items) == 7 or not page.more
        seen += [i.id for i in page.items]
        for item in page.items:
            obj = item.parsed()
            assert obj[KEY_ID] and obj[SIGNATURE]
        if not page.more:
            break
        position = view.open_cursor(page.next or "")
    assert pages == 5
    assert sorted(seen) == sorted(o["id"] for o in own)


def test_redaction_derives_new_objects_and_withholds(node_a: NodeHome, store_a: Store) -> None:
    victim = {
        "type": "identity",
        "spec_version": "2.1",
        "id": new_id("identity"),
        "created": "2025-12-01T10:00:00.000Z",
        "modified": "2025-12-01T10:00:00.000Z",
        "name": "Civil Service Records Office",
        "identity_class": "organization",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }
    attacker = indicator(1, TLP.GREEN, value="203.0.113.47")
    internal = indicator(2, TLP.GREEN, value="10.20.30.40")
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": new_id("sighting"),
        "created": "2025-12-01T10:00:00.000Z",
        "modified": "2025-12-01T10:00:00.000Z",
        "sighting_of_ref": attacker["id"],
        "where_sighted_refs": [victim["id"]],
        "description": (
            "seen by jane.doe@csro.example on fs01.csro.example (10.1.2.3), 203.0.113.47"
        ),
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }
    note = {
        "type": "note",
        "spec_version": "2.1",
        "id": new_id("note"),
        "created": "2025-12-01T10:00:00.000Z",
        "modified": "2025-12-01T10:00:00.000Z",
        "content": "our guess",
        "object_refs": [attacker["id"]],
        "labels": ["internal"],
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }
    store_a.put_objects([victim, attacker, internal, sighting, note], "file", "case.json")
    view = _view(node_a, store_a, Ceiling(TLP.GREEN), redact="standard")
    items = {i.id: i for i in view.iter_items()}
    assert attacker["id"] in items, "a public C2 address is not internal"
    for withheld in (victim["id"], internal["id"], note["id"], sighting["id"]):
        assert withheld not in items
    derived = [i for i in items.values() if i.action == "redacted"]
    assert len(derived) == 1
    red = derived[0].parsed()
    assert red["type"] == "sighting" and red["id"] != sighting["id"]
    assert red["created_by_ref"] == node_a.identity_id
    assert "where_sighted_refs" not in red
    assert "csro.example" not in red["description"] and "10.1.2.3" not in red["description"]
    assert "203.0.113.47" in red["description"]
    assert red["object_marking_refs"] == sighting["object_marking_refs"]
    relation = [i.parsed() for i in items.values() if i.action == "derived-from"]
    assert relation == [
        {
            **relation[0],
            "source_ref": red["id"],
            "target_ref": sighting["id"],
            "relationship_type": "derived-from",
        }
    ]
    # Deterministic: the next read emits the very same objects.
    again = {
        i.id: i.body
        for i in _view(node_a, store_a, Ceiling(TLP.GREEN), redact="standard").iter_items()
    }
    assert again[red["id"]] == derived[0].body
    assert view.withheld["victim identity"] == 1


def test_egress_and_preview_follow_the_peer_policy(node_a: NodeHome, store_a: Store) -> None:
    levels = [TLP.GREEN, TLP.AMBER, TLP.RED, None]
    objs = [indicator(i, lv, creator=node_a.identity_id) for i, lv in enumerate(levels)]
    received_amber = indicator(9, TLP.AMBER)  # no creator named: this node only received it
    store_a.put_objects([*objs, received_amber], "file", "x.json")
    coll = add_collection(store_a, "all")
    save_peer(store_a, node_a.private_key(), "partner", "http://127.0.0.1:9/")
    set_policy(store_a, "partner", collections=[coll.collection_id])
    ids = {o["id"] for o in objects_for_peer(node_a, store_a, "partner")}
    assert objs[0]["id"] in ids and not ids & {o["id"] for o in objs[1:]}
    result = preview(node_a, store_a, "partner")
    assert {i["id"] for i in result["items"]} == ids
    assert result["stays_home_by_tlp"]["RED"] == 1
    set_policy(store_a, "partner", tlp_max=TLP.AMBER)
    ids = {o["id"] for o in objects_for_peer(node_a, store_a, "partner")}
    assert objs[1]["id"] in ids and objs[2]["id"] not in ids and objs[3]["id"] not in ids
    assert received_amber["id"] not in ids
