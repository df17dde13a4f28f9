"""Push into a peer's inbox, large envelopes in the background, the command line, and the
two-node demo behind ``accord quickstart``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from accord.cli.main import app
from accord.model.tlp import TLP, TLP2_IDS
from accord.share.auth import create_token
from accord.share.demo import share_between
from accord.share.peers import get_peer, save_peer
from accord.share.push import push_peer
from accord.share.serving import ServerThread
from accord.share.settings import load_settings, save_settings
from tests.share.helpers import PASSWORD, STAMP, indicator, make_node, new_id, offer

TAXII = "application/taxii+json;version=2.1"


def test_push_respects_policy_and_is_incremental(tmp_path: Path) -> None:
    sender, receiver = make_node(tmp_path, "Sender"), make_node(tmp_path, "Receiver")
    with sender.open_store() as ss, receiver.open_store() as rs:
        objs = [
            indicator(i, lv, creator=sender.identity_id)
            for i, lv in enumerate([TLP.GREEN, TLP.AMBER, TLP.RED] * 5)
        ]
        ss.put_objects(objs, "user", "analyst")
        inbox = offer(rs, "sender", inbox=True, private_key=receiver.private_key())
        token = create_token(rs, "sender")
        with ServerThread(receiver, rs) as server:
            save_peer(ss, sender.private_key(), "receiver", server.discovery, token=token)
            offer(ss, "receiver", query="types=indicator", private_key=sender.private_key())
            report = push_peer(sender, ss, "receiver", envelope_size=4)
            assert report.error is None, report.error
            assert report.collection == inbox
            assert report.sent == report.succeeded == 5 and report.envelopes == 2
            for obj in objs:
                held = rs.get(obj["id"])
                assert (held is not None) == (obj["object_marking_refs"] == [TLP2_IDS[TLP.GREEN]])
            assert rs.provenance(objs[0]["id"])[0]["source_name"] == "sender"
            again = push_peer(sender, ss, "receiver")
            assert again.sent == 0, "only what the peer has not acknowledged"
            assert get_peer(ss, "receiver").stats["pushed"] == 5


def test_large_envelope_is_stored_in_the_background(tmp_path: Path) -> None:
    node = make_node(tmp_path, "Inbox")
    with node.open_store() as store:
        settings = load_settings(store)
        settings.sync_post_limit = 50
        save_settings(store, settings)
        inbox = offer(store, "poster", inbox=True, private_key=node.private_key())
        objs = [indicator(i, TLP.GREEN) for i in range(180)]
        with ServerThread(node, store) as server, httpx.Client(auth=("poster", PASSWORD)) as http:
            r = http.post(
                f"{server.api_root}collections/{inbox}/objects/",
                content=json.dumps({"objects": objs}).encode(),
                headers={"Content-Type": TAXII, "Accept": TAXII},
            )
            assert r.status_code == 202
            status = r.json()
            assert status["total_count"] == 180
            assert (
                status["success_count"] + status["failure_count"] + status["pending_count"] == 180
            )
            url = f"{server.api_root}status/{status['id']}/"
            deadline = time.monotonic() + 60
            while status["status"] == "pending" and time.monotonic() < deadline:
                time.sleep(0.05)
                status = http.get(url).json()
                total = status["success_count"] + status["failure_count"] + status["pending_count"]
                assert total == 180
            assert status["status"] == "complete" and status["success_count"] == 180
        assert all(store.get(o["id"]) == o for o in objs)


def _run(args: list[str], stdin: str | None = None) -> Any:
    result = CliRunner().invoke(app, args, input=stdin)
    assert result.exit_code == 0, result.output
    return result


def test_command_line_round_trip(tmp_path: Path) -> None:
    a, b = make_node(tmp_path, "CLI A"), make_node(tmp_path, "CLI B")
    with a.open_store() as store:
        store.put_objects([indicator(1, TLP.GREEN), indicator(2, TLP.RED)], "file", "f.json")
    home_a, home_b = ["--home", str(a.path)], ["--home", str(b.path)]
    coll = json.loads(
        _run(["collection", "add", "shared", "--query", "tlp<=green", *home_a, "--json"]).stdout
    )
    listed = json.loads(_run(["collection", "list", "--json", *home_a]).stdout)
    assert [c["id"] for c in listed] == [coll["id"]]
    _run(["peer", "add", "b", "http://127.0.0.1:9/", "--no-fetch-key", *home_a])
    _run(["policy", "set", "b", "--tlp-max", "GREEN", "--collections", coll["id"], *home_a])
    _run(["user", "add", "b", "--password-stdin", *home_a], stdin=PASSWORD + "\n")
    preview = json.loads(_run(["policy", "preview", "b", "--json", *home_a]).stdout)
    assert preview["stays_home_by_tlp"] == {"RED": 1}
    assert preview["count"] == 2  # the GREEN indicator and A's public identity
    with a.open_store() as store, ServerThread(a, store) as server:
        _run(
            ["peer", "add", "a", server.discovery, "--user", "b", "--password-stdin", *home_b],
            stdin=PASSWORD + "\n",
        )
        counts = json.loads(_run(["sync", "a", "--json", *home_b]).stdout)
        assert (counts["received"], counts["stored"], counts["quarantined"]) == (2, 2, 0)
        status = json.loads(_run(["peer", "status", "--json", *home_b]).stdout)
        assert status[0]["cursors"][0]["complete"] is True
    verified = json.loads(_run(["verify", a.identity_id, "--json", *home_b]).stdout)
    assert verified[0]["status"] == "valid"
    result = CliRunner().invoke(app, ["policy", "set", "b", "--tlp-max", "RED", *home_a])
    assert result.exit_code == 2 and "never leaves" in result.output
    for group in (
        "serve",
        "sync",
        "push",
        "verify",
        "peer",
        "policy",
        "collection",
        "user",
        "token",
        "key",
    ):
        assert CliRunner().invoke(app, [group, "--help"]).exit_code == 0


def test_share_between_two_nodes(tmp_path: Path) -> None:
    partner, csro = make_node(tmp_path, "Partner CERT"), make_node(tmp_path, "CSRO CERT")
    green = TLP2_IDS[TLP.GREEN]
    heron = {
        "type": "intrusion-set",
        "spec_version": "2.1",
        "id": new_id("intrusion-set"),
        "created": STAMP,
        "modified": STAMP,
        "name": "GREY HERON",
        "object_marking_refs": [green],
    }
    c2 = indicator(1, TLP.GREEN, value="203.0.113.47")
    private = indicator(2, TLP.AMBER)
    source = indicator(3, TLP.RED)
    bundle = tmp_path / "partner.json"
    bundle.write_text(
        json.dumps(
            {"type": "bundle", "id": new_id("bundle"), "objects": [heron, c2, private, source]}
        )
    )
    demo = share_between(partner, csro, bundle)
    arrived = {o["id"]: o["tlp"] for o in demo.arrived}
    stayed = {o["id"]: o["tlp"] for o in demo.stayed_home}
    assert arrived == {heron["id"]: "GREEN", c2["id"]: "GREEN"}
    assert stayed == {private["id"]: "AMBER", source["id"]: "RED"}
    assert demo.sync["quarantined"] == 0
    again = share_between(partner, csro, bundle)  # idempotent: a second run works too
    assert {o["id"] for o in again.arrived} == set(arrived)
