"""Adversarial audit: TLP and the sharing policy on every path that emits data.

Each test here names one way material above an audience's ceiling (or material that must
stay home) reaches someone else: through TAXII (objects, manifest, versions, paging, counts,
status resources), ``accord push`` and ``accord export --peer`` (which read through the same
view) and plain ``accord export``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from accord.cli.main import app
from accord.model.tlp import TLP, TLP2_IDS
from accord.share.collections import add_collection, get_collection
from accord.share.policy import Ceiling
from accord.share.redaction import Profile
from accord.share.serving import ServerThread
from accord.share.signing import KeyRing, Signer
from accord.share.view import Audience, Filters, Position, View
from accord.store import schema as s
from accord.store.home import NodeHome
from accord.store.store import Store
from tests.share.helpers import PASSWORD, STAMP, indicator, make_node, new_id, offer

runner = CliRunner()
GREEN = TLP2_IDS[TLP.GREEN]
AMBER = TLP2_IDS[TLP.AMBER]
RED = TLP2_IDS[TLP.RED]
TAXII = {"Content-Type": "application/taxii+json;version=2.1"}
THIRD_PARTY = "identity--" + "7" * 8 + "-7777-4777-8777-" + "7" * 12


# --- helpers ---------------------------------------------------------------------------------


def _view(
    node: NodeHome, store: Store, ceiling: Ceiling, *, query: str = "", redact: str = "none"
) -> View:
    """What a peer with ``ceiling`` reads of a fresh collection (TAXII, push, export --peer)."""
    from accord.share.signing import ensure_own_keys

    coll = add_collection(store, new_id("audit"), query=query)
    signer = Signer.from_home(node)
    ensure_own_keys(signer, store)
    profile = Profile(redact, node.identity_id)
    return View(store, signer, coll, Audience("peer", ceiling, profile))


def _emitted(view: View, versions: tuple[str, ...] = ("all",)) -> str:
    return "\n".join(i.body for i in view.iter_items(Filters(versions=versions)))


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


def _export(node: NodeHome, tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    out = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.json"
    result = runner.invoke(app, ["export", *args, "-o", str(out), "--home", str(node.path)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text("utf-8"))["objects"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A node with a GREEN peer ``peer`` (standard redaction) granted a selection and an
    inbox, served on a free loopback port."""
    node = make_node(tmp_path, "Audited")
    store = node.open_store()
    key = node.private_key()
    selection = offer(store, "peer", query="source=file:shared.json", private_key=key)
    inbox = offer(store, "peer", inbox=True, redact="standard", private_key=key)
    with ServerThread(node, store) as server, httpx.Client(auth=("peer", PASSWORD)) as http:
        yield {
            "node": node,
            "store": store,
            "api": server.api_root,
            "selection": selection,
            "inbox": inbox,
            "http": http,
        }
    store.close()


# --- the emitting view: TAXII objects/manifest/versions, push, export --peer ----------------


def test_a_granular_marking_alone_does_not_mark_the_rest_of_the_object(
    node_a: NodeHome, store_a: Store
) -> None:
    """Only ``name`` is GREEN; ``description`` is unmarked and must stay home like any
    unmarked data, yet the whole object is indexed GREEN and leaves."""
    obj = indicator(1, None)
    obj["description"] = "unmarked-detail-4d1c"
    obj["granular_markings"] = [{"selectors": ["name"], "marking_ref": GREEN}]
    store_a.put_objects([obj], "file", "granular.json")
    for ceiling in (Ceiling(TLP.GREEN), Ceiling(TLP.AMBER)):
        assert "unmarked-detail-4d1c" not in _emitted(_view(node_a, store_a, ceiling))


def test_unmarked_data_stays_home_after_the_node_default_changes(node_a: NodeHome) -> None:
    """Unmarked data is recognised by ``tlp == node_default``: raising the default to RED
    (a stricter node!) lets everything imported unmarked before reach AMBER peers."""
    unmarked = indicator(1, None)
    with node_a.open_store() as store:
        store.put_objects([unmarked], "file", "unmarked.json")
        before = {i.id for i in _view(node_a, store, Ceiling(TLP.AMBER)).iter_items()}
    assert unmarked["id"] not in before
    with Store.open(node_a.config.database_url, TLP.RED) as stricter:
        after = {i.id for i in _view(node_a, stricter, Ceiling(TLP.AMBER)).iter_items()}
    assert unmarked["id"] not in after


def test_a_red_marked_marking_definition_is_not_shared(node_a: NodeHome, store_a: Store) -> None:
    """Every marking-definition is indexed CLEAR, whatever its own object_marking_refs."""
    statement = _sdo(
        "marking-definition",
        RED,
        name="Operation NIGHTFALL handling",
        definition_type="statement",
        definition={"statement": "NIGHTFALL-7c2e: shared under NDA with the Ministry"},
    )
    del statement["modified"]
    store_a.put_objects([statement], "file", "markings.json")
    for ceiling in (Ceiling(TLP.GREEN), Ceiling(TLP.AMBER_STRICT, same_org=True)):
        assert "NIGHTFALL-7c2e" not in _emitted(_view(node_a, store_a, ceiling))


def test_export_for_a_peer_does_not_append_a_red_marking_definition(
    node_a: NodeHome, store_a: Store, tmp_path: Path
) -> None:
    """``accord export --peer`` appends every referenced marking-definition from the store,
    outside the view and its ceiling."""
    statement = _sdo(
        "marking-definition",
        RED,
        name="Operation NIGHTFALL handling",
        definition_type="statement",
        definition={"statement": "NIGHTFALL-7c2e: shared under NDA with the Ministry"},
    )
    del statement["modified"]
    shared = indicator(1, TLP.GREEN)
    shared["object_marking_refs"] = [GREEN, statement["id"]]
    store_a.put_objects([statement, shared], "file", "nda.json")
    offer(store_a, "partner", query="types=indicator", private_key=node_a.private_key())
    bundle = _export(node_a, tmp_path, "--peer", "partner")
    assert shared["id"] in {o["id"] for o in bundle}
    assert "NIGHTFALL-7c2e" not in json.dumps(bundle)


@pytest.mark.parametrize("redact", ["none", "standard"])
def test_nothing_shared_points_at_an_object_above_the_ceiling(
    node_a: NodeHome, store_a: Store, redact: str
) -> None:
    """GREEN relationships, sightings and reports that reference RED objects leave as they
    are: the RED ids (and what the relationship says about them) reach a GREEN peer."""
    red_set = _sdo("intrusion-set", RED, name="internal cluster")
    red_indicator = indicator(2, TLP.RED)
    green_indicator = indicator(1, TLP.GREEN)
    relationship = _sdo(
        "relationship",
        GREEN,
        relationship_type="indicates",
        source_ref=green_indicator["id"],
        target_ref=red_set["id"],
    )
    sighting = _sdo("sighting", GREEN, sighting_of_ref=red_indicator["id"], count=3)
    report = _sdo(
        "report",
        GREEN,
        name="weekly",
        published=STAMP,
        object_refs=[green_indicator["id"], red_set["id"]],
    )
    store_a.put_objects(
        [red_set, red_indicator, green_indicator, relationship, sighting, report],
        "file",
        "refs.json",
    )
    body = _emitted(_view(node_a, store_a, Ceiling(TLP.GREEN), redact=redact))
    assert green_indicator["id"] in body
    assert red_set["id"] not in body
    assert red_indicator["id"] not in body


def test_older_versions_of_an_object_now_red_are_not_served(served: dict[str, Any]) -> None:
    """v1 GREEN, v2 RED (the creator re-marked it): the GREEN peer still gets v1 through
    ``match[version]=all``, the versions endpoint and the manifest."""
    store: Store = served["store"]
    oid = new_id("indicator")
    v1 = indicator(1, TLP.GREEN, obj_id=oid)
    v1["description"] = "superseded-3b9a"
    v2 = indicator(1, TLP.RED, obj_id=oid, modified="2025-12-02T10:00:00.000Z")
    store.put_objects([v1, v2], "file", "shared.json")
    http: httpx.Client = served["http"]
    coll = f"{served['api']}collections/{served['selection']}/"
    everything = http.get(f"{coll}objects/", params={"match[version]": "all"})
    assert oid not in everything.text and "superseded-3b9a" not in everything.text
    manifest = http.get(f"{coll}manifest/", params={"match[version]": "all"})
    assert oid not in manifest.text
    assert http.get(f"{coll}objects/{oid}/versions/").status_code == 404
    one = http.get(f"{coll}objects/{oid}/", params={"match[version]": "all"})
    assert one.status_code == 404


def test_third_party_amber_is_not_relayed_to_another_organisation(
    node_a: NodeHome, store_a: Store
) -> None:
    """TLP:AMBER lets a recipient share within its own organisation and its clients only.
    AMBER that a partner created and sent here is relayed to any AMBER peer of another
    organisation exactly like this node's own AMBER."""
    third = indicator(1, TLP.AMBER, creator=THIRD_PARTY)
    own = indicator(2, TLP.AMBER, creator=node_a.identity_id)
    store_a.put_objects([third], "peer", "partner")
    store_a.put_objects([own], "user", "analyst")
    ids = {i.id for i in _view(node_a, store_a, Ceiling(TLP.AMBER)).iter_items()}
    assert own["id"] in ids  # this node may share its own AMBER under an agreement
    assert third["id"] not in ids


def test_a_non_standard_tlp_marking_definition_is_honoured(
    node_a: NodeHome, store_a: Store, tmp_path: Path
) -> None:
    """A TLP marking-definition under a producer's own id (``definition_type: tlp``) is not
    recognised: the object it marks RED is handled at the node default and exported."""
    custom = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--" + "3" * 8 + "-3333-4333-8333-" + "3" * 12,
        "created": STAMP,
        "name": "TLP:RED",
        "definition_type": "tlp",
        "definition": {"tlp": "red"},
    }
    marked = indicator(1, None)
    marked["object_marking_refs"] = [custom["id"]]
    store_a.put_objects([custom, marked], "file", "producer.json")
    exported = {o["id"] for o in _export(node_a, tmp_path)}
    assert marked["id"] not in exported


# --- the TAXII server --------------------------------------------------------------------------


def test_an_inbox_refusal_does_not_describe_a_red_object(served: dict[str, Any]) -> None:
    """Posting an object under the id of a RED object answers with the RED object's
    creator in the status resource."""
    store: Store = served["store"]
    secret_source = "identity--" + "5" * 8 + "-5555-4555-8555-" + "5" * 12
    red = indicator(1, TLP.RED, creator=secret_source)
    store.put_objects([red], "file", "red.json")
    probe = indicator(
        1, TLP.GREEN, obj_id=red["id"], creator=THIRD_PARTY, modified="2026-01-01T00:00:00.000Z"
    )
    http: httpx.Client = served["http"]
    r = http.post(
        f"{served['api']}collections/{served['inbox']}/objects/",
        content=json.dumps({"objects": [probe]}),
        headers=TAXII,
    )
    assert r.status_code == 202
    assert secret_source not in r.text


def _decoded(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def test_next_tokens_do_not_reveal_hidden_rows(served: dict[str, Any]) -> None:
    """The ``next`` token is the internal row id in clear: the gap between two tokens
    counts the versions (RED included) stored in between."""
    store: Store = served["store"]
    greens = [indicator(n, TLP.GREEN) for n in range(3)]
    for green in greens:
        store.put_objects([green], "file", "shared.json")
        store.put_objects([indicator(100 + k, TLP.RED) for k in range(5)], "file", "red.json")
    with store.engine.connect() as conn:
        query = select(s.objects.c.row_id).where(s.objects.c.id.in_([g["id"] for g in greens]))
        row_ids = {str(r) for (r,) in conn.execute(query)}
    http: httpx.Client = served["http"]
    url = f"{served['api']}collections/{served['selection']}/objects/"
    params: dict[str, Any] = {"limit": 1}
    tokens: list[str] = []
    while True:
        body = http.get(url, params=params).json()
        if not body["more"]:
            break
        tokens.append(body["next"])
        params = {"limit": 1, "next": body["next"]}
    assert len(tokens) == 2
    for token in tokens:
        fields = _decoded(token).split(".")[1:]
        assert not row_ids & set(fields), f"{token} decodes to {_decoded(token)}"


def test_the_total_does_not_count_what_redaction_withholds(served: dict[str, Any]) -> None:
    """``X-Accord-Total`` counts rows before redaction: a peer learns how many victim
    identities (or other withheld objects) the collection holds."""
    store: Store = served["store"]
    victims = [
        _sdo("identity", GREEN, name=f"victim {n}", identity_class="organization") for n in range(3)
    ]
    for v in victims:
        v["x_accord_victim"] = True
    store.put_objects(victims, "file", "shared.json")
    r = served["http"].get(
        f"{served['api']}collections/{served['selection']}/objects/",
        headers={"X-Accord-Want-Total": "1"},
    )
    received = len(r.json().get("objects", []))
    assert received == 0
    assert int(r.headers.get("X-Accord-Total", "0")) == received


def _served_view(served: dict[str, Any], collection_id: str) -> View:
    """The view the server reads ``collection_id`` through for the peer ``peer``."""
    node: NodeHome = served["node"]
    store: Store = served["store"]
    profile = Profile("standard", node.identity_id)
    audience = Audience("peer", Ceiling(TLP.GREEN), profile)
    return View(store, Signer.from_home(node), get_collection(store, collection_id), audience)


def test_the_total_and_a_forged_next_token_respect_the_ceiling(served: dict[str, Any]) -> None:
    """Checked and correct: ``X-Accord-Total`` counts nothing above the ceiling; a ``next``
    token forged to start at a RED row is refused, and even a genuine (sealed) token that
    starts at a RED row yields nothing above the ceiling."""
    store: Store = served["store"]
    levels = [TLP.GREEN, TLP.AMBER, TLP.RED, None]
    objs = [indicator(n, level) for n, level in enumerate(levels)]
    store.put_objects(objs, "file", "shared.json")
    red = store.get_row(objs[2]["id"])
    assert red is not None
    url = f"{served['api']}collections/{served['selection']}/objects/"
    http: httpx.Client = served["http"]
    r = http.get(url, headers={"X-Accord-Want-Total": "1"})
    assert r.headers["X-Accord-Total"] == "1"
    assert [o["id"] for o in r.json()["objects"]] == [objs[0]["id"]]
    clear = f"1.{red.date_added_us}.{red.row_id}.0".encode()
    forged = base64.urlsafe_b64encode(clear).decode().rstrip("=")
    r = http.get(url, params={"next": forged, "match[version]": "all"})
    assert r.status_code == 400 and r.json()["title"] == "Bad next"
    sealed = _served_view(served, served["selection"]).seal(Position(red.date_added_us, red.row_id))
    r = http.get(url, params={"next": sealed, "match[version]": "all"})
    assert r.status_code == 200
    assert not {o["id"] for o in objs[1:]} & {o["id"] for o in r.json().get("objects", [])}


def test_next_tokens_are_authenticated_and_bound_to_their_collection(
    served: dict[str, Any],
) -> None:
    """A token altered in any character, or issued for another collection, is refused with
    the TAXII error for a bad ``next``; the genuine token still works."""
    store: Store = served["store"]
    store.put_objects([indicator(n, TLP.GREEN) for n in range(3)], "file", "shared.json")
    http: httpx.Client = served["http"]
    url = f"{served['api']}collections/{served['selection']}/objects/"
    token = http.get(url, params={"limit": 1}).json()["next"]
    for at in (0, len(token) // 2, len(token) - 1):
        flipped = "A" if token[at] != "A" else "B"
        tampered = token[:at] + flipped + token[at + 1 :]
        r = http.get(url, params={"limit": 1, "next": tampered})
        assert r.status_code == 400 and r.json()["title"] == "Bad next", tampered
    elsewhere = _served_view(served, served["inbox"]).seal(Position(0, 0))
    assert http.get(url, params={"next": elsewhere}).status_code == 400
    r = http.get(url, params={"limit": 1, "next": token})
    assert r.status_code == 200 and len(r.json()["objects"]) == 1


def test_objects_a_peer_claims_this_node_created_are_not_signed_by_it(
    served: dict[str, Any],
) -> None:
    """A peer posts an object naming this node as its creator; it is stored, and every
    read then serves it with a valid signature of this node."""
    node: NodeHome = served["node"]
    store: Store = served["store"]
    forged = indicator(1, TLP.GREEN, creator=node.identity_id)
    forged["name"] = "forged by the peer"
    http: httpx.Client = served["http"]
    url = f"{served['api']}collections/{served['inbox']}/objects/"
    http.post(url, content=json.dumps({"objects": [forged]}), headers=TAXII)
    served_objects = http.get(url).json().get("objects", [])
    ring = KeyRing.from_store(store)  # after the read: the server has published its key
    for obj in served_objects:
        if obj["id"] == forged["id"]:
            verdict = ring.verify(obj)
            assert not (verdict.status == "valid" and verdict.signer == node.identity_id)
