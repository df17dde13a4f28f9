"""The sharing rules the TLP audit added, beyond the audit's own probes.

Third-party AMBER stays within the organisation, the current version classifies every
version, nothing shared names what the audience may not see, ``export --peer`` appends
only the marking definitions the peer may receive, ``next`` tokens are sealed, totals are
exact, and intake neither describes hidden objects nor lets a peer speak for this node.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from accord.model.tlp import TLP, TLP2_IDS
from accord.share import tables as t
from accord.share.collections import add_collection
from accord.share.egress import objects_for_peer, preview
from accord.share.intake import CONFLICT, OWN_CLAIM, STORE_REFUSED, Intake
from accord.share.policy import Ceiling
from accord.share.redaction import Profile
from accord.share.signing import KEY_ID, KeyRing, Signer, ensure_own_keys, rotate_key
from accord.share.view import Audience, BadCursor, CursorSeal, Filters, Position, View
from accord.store.export import write_bundle
from accord.store.home import NodeHome
from accord.store.store import Store
from tests.share.helpers import STAMP, indicator, make_node, new_id, offer

GREEN = TLP2_IDS[TLP.GREEN]
AMBER = TLP2_IDS[TLP.AMBER]
RED = TLP2_IDS[TLP.RED]
THIRD_PARTY = "identity--" + "7" * 8 + "-7777-4777-8777-" + "7" * 12


def _view(
    node: NodeHome, store: Store, ceiling: Ceiling, redact: str = "none", query: str = "types="
) -> View:
    """A fresh collection (by default everything but identities, this node's included)."""
    if query == "types=":
        query = "types=indicator,intrusion-set,malware,report,relationship,sighting"
    coll = add_collection(store, new_id("rules"), query=query)
    signer = Signer.from_home(node)
    ensure_own_keys(signer, store)
    return View(store, signer, coll, Audience("peer", ceiling, Profile(redact, node.identity_id)))


def _ids(view: View, versions: tuple[str, ...] = ("last",)) -> list[str]:
    return [i.id for i in view.iter_items(Filters(versions=versions))]


def _sdo(kind: str, marking: str | None, **props: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": kind,
        "spec_version": "2.1",
        "id": new_id(kind),
        "created": STAMP,
        "modified": STAMP,
        **props,
    }
    if marking:
        obj["object_marking_refs"] = [marking]
    return obj


# --- 3: third-party AMBER ---------------------------------------------------------------


def test_third_party_amber_goes_to_the_same_organisation_only(
    node_a: NodeHome, store_a: Store
) -> None:
    third = indicator(1, TLP.AMBER, creator=THIRD_PARTY)
    unnamed = indicator(2, TLP.AMBER)  # no creator named: this node only received it
    own = indicator(3, TLP.AMBER, creator=node_a.identity_id)
    green_third = indicator(4, TLP.GREEN, creator=THIRD_PARTY)
    store_a.put_objects([third, unnamed, green_third], "peer", "partner")
    store_a.put_objects([own], "user", "analyst")
    other_org = set(_ids(_view(node_a, store_a, Ceiling(TLP.AMBER))))
    assert own["id"] in other_org and green_third["id"] in other_org
    assert not {third["id"], unnamed["id"]} & other_org
    same_org = set(_ids(_view(node_a, store_a, Ceiling(TLP.AMBER, same_org=True))))
    assert {third["id"], unnamed["id"], own["id"], green_third["id"]} <= same_org
    assert Ceiling(TLP.AMBER, same_org=True).allows(TLP.AMBER, third_party=True)
    assert not Ceiling(TLP.AMBER).allows(TLP.AMBER, third_party=True)


# --- 4: the current version classifies the object ----------------------------------------


def test_a_version_goes_out_only_while_the_current_one_may(
    node_a: NodeHome, store_a: Store
) -> None:
    downgraded, upgraded = new_id("indicator"), new_id("indicator")
    later = "2025-12-02T10:00:00.000Z"
    store_a.put_objects(
        [
            indicator(1, TLP.RED, obj_id=downgraded),
            indicator(1, TLP.GREEN, obj_id=downgraded, modified=later),
            indicator(2, TLP.GREEN, obj_id=upgraded),
            indicator(2, TLP.AMBER, obj_id=upgraded, modified=later),
        ],
        "file",
        "versions.json",
    )
    view = _view(node_a, store_a, Ceiling(TLP.GREEN))
    # Re-marked lower: the new version goes, the RED one never does.
    assert _ids(view, ("all",)).count(downgraded) == 1
    assert _ids(view, ("first",)) == []
    # Re-marked higher: no version at all, not the first, not by its timestamp.
    assert upgraded not in _ids(view, ("all",))
    assert upgraded not in _ids(view, ("first",))
    assert (
        _ids(_view(node_a, store_a, Ceiling(TLP.AMBER, same_org=True)), ("all",)).count(upgraded)
        == 2
    )


# --- 10: references to what the audience may not see -------------------------------------


def test_unknown_references_are_kept_and_hidden_ones_removed_in_a_signed_copy(
    node_a: NodeHome, store_a: Store
) -> None:
    unknown = new_id("malware")  # not stored here: nothing to hide
    red_set = _sdo("intrusion-set", RED, name="internal cluster")
    green = indicator(1, TLP.GREEN)
    unmarked = _sdo("malware", None, name="unmarked", is_family=False)
    kept = _sdo("report", GREEN, name="kept", published=STAMP, object_refs=[green["id"], unknown])
    pruned = _sdo(
        "report", GREEN, name="pruned", published=STAMP, object_refs=[green["id"], red_set["id"]]
    )
    only_hidden = _sdo("report", GREEN, name="empty", published=STAMP, object_refs=[red_set["id"]])
    to_unmarked = _sdo(
        "relationship",
        GREEN,
        relationship_type="indicates",
        source_ref=green["id"],
        target_ref=unmarked["id"],
    )
    store_a.put_objects(
        [red_set, green, unmarked, kept, pruned, only_hidden, to_unmarked], "file", "r.json"
    )
    view = _view(node_a, store_a, Ceiling(TLP.GREEN))
    items = {i.id: i for i in view.iter_items()}
    assert items[kept["id"]].action == "as-is"
    assert items[kept["id"]].parsed()["object_refs"] == [green["id"], unknown]
    assert pruned["id"] not in items and only_hidden["id"] not in items
    assert to_unmarked["id"] not in items  # unmarked data stays home: so does pointing at it
    copies = [i for i in items.values() if i.source_id == pruned["id"]]
    assert sorted(i.action for i in copies) == ["derived-from", "redacted"]
    copy = next(i.parsed() for i in copies if i.action == "redacted")
    relation = next(i.parsed() for i in copies if i.action == "derived-from")
    assert copy["object_refs"] == [green["id"]]
    assert copy["created_by_ref"] == node_a.identity_id and copy["name"] == "pruned"
    assert relation["source_ref"] == copy["id"] and relation["target_ref"] == pruned["id"]
    ring = KeyRing.from_store(store_a)
    for obj in (copy, relation):
        verdict = ring.verify(obj)
        assert (verdict.status, verdict.signer) == ("valid", node_a.identity_id)
    # What an audience may see decides the copy, and each content has its own id.
    own_amber = _sdo("intrusion-set", AMBER, name="ours", created_by_ref=node_a.identity_id)
    their_amber = _sdo("intrusion-set", AMBER, name="theirs", created_by_ref=THIRD_PARTY)
    refs = [green["id"], own_amber["id"], their_amber["id"]]
    mixed = _sdo("report", GREEN, name="mixed", published=STAMP, object_refs=refs)
    store_a.put_objects([own_amber, their_amber, mixed], "file", "m.json")

    def version_of_mixed(ceiling: Ceiling) -> dict[str, Any]:
        items = _view(node_a, store_a, ceiling).iter_items()
        return next(i.parsed() for i in items if i.source_id == mixed["id"] and i.type == "report")

    green_copy = version_of_mixed(Ceiling(TLP.GREEN))
    amber_copy = version_of_mixed(Ceiling(TLP.AMBER))
    original = version_of_mixed(Ceiling(TLP.AMBER, same_org=True))
    assert green_copy["object_refs"] == [green["id"]]
    assert amber_copy["object_refs"] == [green["id"], own_amber["id"]]
    assert original["id"] == mixed["id"] and original["object_refs"] == refs
    assert len({green_copy["id"], amber_copy["id"], original["id"]}) == 3


def test_the_total_is_exact_when_references_withhold(node_a: NodeHome, store_a: Store) -> None:
    red_set = _sdo("intrusion-set", RED, name="internal cluster")
    greens = [indicator(n, TLP.GREEN) for n in range(3)]
    rels = [
        _sdo(
            "relationship",
            GREEN,
            relationship_type="indicates",
            source_ref=g["id"],
            target_ref=red_set["id"],
        )
        for g in greens
    ]
    report = _sdo(
        "report", GREEN, name="r", published=STAMP, object_refs=[greens[0]["id"], red_set["id"]]
    )
    store_a.put_objects([red_set, *greens, *rels, report], "file", "t.json")
    for redact in ("none", "standard"):
        view = _view(node_a, store_a, Ceiling(TLP.GREEN), redact)
        emitted = view.page(Filters(), None, 1000).items
        assert view.count(Filters()) == len(emitted) == 3 + 2  # indicators, copy, relation
        for filters in (Filters(types=("relationship",)), Filters(types=("report",))):
            assert view.count(filters) == len(view.page(filters, None, 1000).items)


# --- 12: export --peer appends only the marking definitions the peer may receive ----------


def test_export_for_a_peer_appends_markings_under_its_ceiling(
    node_a: NodeHome, store_a: Store
) -> None:
    def statement(level: TLP, text: str) -> dict[str, Any]:
        obj = _sdo(
            "marking-definition",
            TLP2_IDS[level],
            definition_type="statement",
            definition={"statement": text},
        )
        del obj["modified"]
        return obj

    public = statement(TLP.GREEN, "public-terms-1f0a")
    agreement = statement(TLP.AMBER, "amber-agreement-5c2d")
    shared = indicator(1, TLP.GREEN, creator=node_a.identity_id)
    shared["object_marking_refs"] = [GREEN, public["id"], agreement["id"]]
    store_a.put_objects([public, agreement, shared], "user", "analyst")
    offer(store_a, "partner", query="types=indicator", private_key=node_a.private_key())
    out = io.BytesIO()
    write_bundle(objects_for_peer(node_a, store_a, "partner"), out, store_a, TLP.AMBER_STRICT)
    bundle = json.loads(out.getvalue())
    by_id = {o["id"]: o for o in bundle["objects"]}
    assert shared["id"] in by_id and GREEN in by_id and public["id"] in by_id
    assert agreement["id"] not in by_id and "amber-agreement-5c2d" not in out.getvalue().decode()


# --- 15: sealed next tokens -------------------------------------------------------------


def test_tokens_sealed_before_a_key_rotation_still_open(node_a: NodeHome, store_a: Store) -> None:
    before = CursorSeal.for_signer(Signer.from_home(node_a))
    token = before.seal(Position(1_700_000_000_000_000, 42, 1), "coll|peer")
    rotate_key(node_a, store_a)
    after = CursorSeal.for_signer(Signer.from_home(NodeHome(node_a.path)))
    assert after.open(token, "coll|peer") == Position(1_700_000_000_000_000, 42, 1)
    for context in ("coll|other", "other|peer"):
        try:
            after.open(token, context)
        except BadCursor:
            continue
        raise AssertionError(f"a token opened under {context}")
    assert len(token) == len(after.seal(Position(1, 1), "x"))  # nothing in the length


# --- 13, 14: intake -------------------------------------------------------------------------


def _quarantine(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(t.quarantine)))


def test_refusals_told_to_a_peer_say_nothing_of_stored_objects(
    node_a: NodeHome, store_a: Store
) -> None:
    secret_creator = "identity--" + "5" * 8 + "-5555-4555-8555-" + "5" * 12
    red = indicator(1, TLP.RED, creator=secret_creator)
    store_a.put_objects([red], "file", "red.json")
    later = "2026-01-01T00:00:00.000Z"
    probes = [
        indicator(1, TLP.GREEN, obj_id=red["id"], creator=THIRD_PARTY, modified=later),
        {**red, "name": "same version, other content"},
    ]
    intake = Intake(store_a, "peer", node_identity=node_a.identity_id)
    result = intake.ingest(probes)
    assert result.quarantined == 2
    assert {f["message"] for f in result.failures} == {CONFLICT}
    reasons = " ".join(r.reason for r in _quarantine(store_a))
    assert secret_creator in reasons and "version conflict" in reasons  # kept at home
    # Refused by the store itself ('created' never changes): its reason names the stored
    # 'created', so the peer hears nothing of it either.
    other_created = indicator(
        1,
        TLP.GREEN,
        obj_id=red["id"],
        creator=secret_creator,
        created="2025-11-01T00:00:00.000Z",
        modified=later,
    )
    result = intake.ingest([other_created])
    assert result.quarantined == 1 and result.failures[0]["message"] == STORE_REFUSED
    assert STAMP not in json.dumps(result.failures)
    assert any(STAMP in r.reason for r in _quarantine(store_a))


def test_a_peer_cannot_speak_for_this_node(node_a: NodeHome, store_a: Store) -> None:
    own = indicator(1, TLP.GREEN, creator=node_a.identity_id)
    store_a.put_objects([own], "user", "analyst")
    echo = Signer.from_home(node_a).sign_own(own)  # what this node shared, coming back
    new_version = {**own, "modified": "2026-01-01T00:00:00.000Z", "revoked": True}
    invented = indicator(2, TLP.GREEN, creator=node_a.identity_id)
    intake = Intake(store_a, "peer")  # finds this node's identity in the store
    assert intake.node_identity == node_a.identity_id
    result = intake.ingest([echo, new_version, invented])
    assert result.quarantined == 2 and result.duplicates == 1
    assert {f["id"] for f in result.failures} == {own["id"], invented["id"]}
    assert {f["message"] for f in result.failures} == {OWN_CLAIM}
    assert store_a.get(invented["id"]) is None
    current = store_a.get(own["id"])
    assert current is not None and not current.get("revoked")


def test_a_peer_cannot_hand_this_node_a_new_key(tmp_path: Path, node_a: NodeHome) -> None:
    """An identity under this node's id, self-signed with another key, from a peer whose
    intake has never seen this node's own key: refused, and the key is not trusted."""
    impostor = make_node(tmp_path, "Impostor", identity_id=node_a.identity_id)
    forged = Signer.from_home(impostor).sign_own(impostor.identity)
    forged["created_by_ref"] = THIRD_PARTY  # whatever creator it names
    with node_a.open_store() as store:
        result = Intake(store, "peer").ingest([forged])
        assert result.quarantined == 1 and result.stored == 0
        ring = KeyRing.from_store(store)
        assert forged[KEY_ID] not in ring.keys


def test_the_sql_rules_on_both_backends(tmp_path: Path, store_url: str) -> None:
    """The clauses this file checks on SQLite (third-party AMBER, the current version, hidden
    references, the exact total), in one pass on each backend."""
    node = NodeHome.init(tmp_path / "both", "Both", database_url=store_url)
    with node.open_store() as store:
        oid = new_id("indicator")
        red_set = _sdo("intrusion-set", RED, name="internal cluster")
        green = indicator(1, TLP.GREEN)
        report = _sdo(
            "report", GREEN, name="r", published=STAMP, object_refs=[green["id"], red_set["id"]]
        )
        store.put_objects(
            [
                red_set,
                green,
                report,
                indicator(2, TLP.AMBER, creator=THIRD_PARTY),
                indicator(3, TLP.GREEN, obj_id=oid),
                indicator(3, TLP.RED, obj_id=oid, modified="2025-12-02T10:00:00.000Z"),
            ],
            "file",
            "both.json",
        )
        view = _view(node, store, Ceiling(TLP.AMBER), query="source=file:both.json")
        items = list(view.iter_items(Filters(versions=("all",))))
        assert {i.source_id for i in items} == {green["id"], report["id"]}
        assert view.count(Filters(versions=("all",))) == len(items) == 3
        offer(
            store,
            "partner",
            query="source=file:both.json",
            tlp_max=TLP.AMBER,
            private_key=node.private_key(),
        )
        summary = preview(node, store, "partner")
        assert {i["source_id"] for i in summary["items"]} == {green["id"], report["id"]}
        assert summary["stays_home_by_tlp"] == {"AMBER": 1, "RED": 2}
