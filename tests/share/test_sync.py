"""Pulling from real peers: medallion (the OASIS reference server) and accord itself,
including faults: 500s, a truncated body, 429, a bad signature, and kill -9 mid-sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from taxii2client.v21 import Collection

from accord.model.tlp import TLP, level_of_markings, marking_refs
from accord.share import tables as t
from accord.share.auth import create_token
from accord.share.client import RetryPolicy
from accord.share.peers import get_peer, save_peer
from accord.share.serving import ServerThread
from accord.share.signing import Signer
from accord.share.sync import sync_peer
from accord.store import schema as s
from accord.store.store import Store
from tests.share.helpers import PASSWORD, free_port, indicator, make_node, medallion, offer


def _store_ids(store: Store, source: str) -> list[tuple[str, int]]:
    with store.engine.connect() as conn:
        return [
            (r.id, r.modified_us)
            for r in conn.execute(
                select(s.objects.c.id, s.objects.c.modified_us).where(
                    s.objects.c.source_name == source
                )
            )
        ]


def test_sync_from_medallion_keeps_markings_and_is_incremental(tmp_path: Path) -> None:
    levels = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.RED, None]
    objs = [indicator(i, levels[i % 5], tlp1=i % 2 == 0) for i in range(130)]
    with medallion(
        tmp_path, [{"id": "91a7b528-80eb-42ed-a74d-c6fbd5a26116", "title": "mixed"}]
    ) as url:
        coll = Collection(
            url.replace("/taxii2/", "/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/"),
            user="sync",
            password=PASSWORD,
        )
        coll.add_objects({"objects": objs})
        node = make_node(tmp_path, "Puller")
        with node.open_store() as store:
            save_peer(store, node.private_key(), "med", url, username="sync", password=PASSWORD)
            report = sync_peer(node, store, "med", page_size=50)
            assert report.error is None, report.error
            assert report.totals.stored == 130 and report.totals.quarantined == 0
            for obj in objs:
                assert store.get(obj["id"]) == obj, "markings and content kept exactly"
                row = store.get_row(obj["id"])
                assert row is not None and row.source_kind == "peer" and row.source_name == "med"
                expected = level_of_markings(marking_refs(obj))
                assert row.tlp == (expected if expected is not None else TLP.AMBER)
            more = [indicator(500 + i, TLP.GREEN) for i in range(7)]
            time.sleep(0.01)
            coll.add_objects({"objects": more})
            again = sync_peer(node, store, "med", page_size=50)
            assert again.error is None
            assert again.totals.stored == 7, again.as_dict()
            assert again.totals.received < 20, "incremental: only what is new (plus the edge)"
            assert get_peer(store, "med").stats["last_success_us"]


class FaultProxy:
    """A real HTTP server in front of a TAXII server that misbehaves on request."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[str] = []
        self.seen: list[str] = []
        self.port = free_port()
        app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical")
        )

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        fault = self.faults.pop(0) if "/objects/" in path and self.faults else None
        self.seen.append(fault or "ok")
        if fault == "500":
            return Response(b'{"title": "boom"}', 500)
        if fault == "429":
            return Response(b"{}", 429, headers={"Retry-After": "0"})
        async with httpx.AsyncClient() as http:
            upstream = await http.request(
                request.method,
                self.upstream + path,
                params=request.query_params,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                content=await request.body(),
            )
        headers = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        }
        body = upstream.content
        if fault == "truncate":
            body = body[: len(body) // 2]
        return Response(body, upstream.status_code, headers=headers)

    @contextmanager
    def running(self) -> Iterator[str]:
        import threading

        thread = threading.Thread(target=self.server.run, daemon=True)
        thread.start()
        while not self.server.started:
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{self.port}/taxii2/"
        finally:
            self.server.should_exit = True
            thread.join(10)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[dict[str, Any]]:
    node = make_node(tmp_path, "Source")
    store = node.open_store()
    objs = [indicator(i, TLP.GREEN, creator=node.identity_id) for i in range(600)]
    store.put_objects(objs, "user", "analyst")
    coll = offer(store, "sink", query="types=indicator", private_key=node.private_key())
    token = create_token(store, "sink")
    with ServerThread(node, store) as server:
        yield {
            "node": node,
            "store": store,
            "objs": objs,
            "coll": coll,
            "token": token,
            "server": server,
        }
    store.close()


def test_retries_on_500_truncated_body_and_429(tmp_path: Path, source: dict[str, Any]) -> None:
    proxy = FaultProxy(source["server"].url)
    proxy.faults = ["500", "truncate", "ok", "429", "500"]
    with proxy.running() as url:
        sink = make_node(tmp_path, "Sink")
        with sink.open_store() as store:
            save_peer(store, sink.private_key(), "source", url, token=source["token"])
            waits: list[float] = []
            report = sync_peer(
                sink,
                store,
                "source",
                page_size=100,
                retry=RetryPolicy(attempts=5, base=0.01, cap=0.05),
                sleep=waits.append,
            )
            assert report.error is None, report.error
            assert report.retries == 4
            assert waits[2] == 0.0, "429 waits what Retry-After says"
            assert all(0 <= w <= 0.05 for w in waits)
            assert sorted(
                i for i, _ in _store_ids(store, "source") if i.startswith("indicator")
            ) == sorted(o["id"] for o in source["objs"])
            # Everything arrived signed by the source and verifiable here.
            from accord.share.signing import KeyRing

            ring = KeyRing.from_store(store)
            sample = store.get(source["objs"][0]["id"])
            assert sample is not None and ring.verify(sample).status == "valid"

            proxy.faults = ["500"] * 10
            failed = sync_peer(
                sink,
                store,
                "source",
                retry=RetryPolicy(attempts=3, base=0.0, cap=0.0),
                sleep=lambda _s: None,
            )
            assert failed.error and "gave up after 3 tries" in failed.error
            assert get_peer(store, "source").stats["last_error"]


def test_bad_signature_is_quarantined_and_unsigned_is_flagged(
    tmp_path: Path, source: dict[str, Any]
) -> None:
    node = source["node"]
    signer = Signer.from_home(node)
    forged = signer.sign_own(indicator(9000, TLP.GREEN, creator=node.identity_id))
    forged["name"] = "changed after signing"
    relay = make_node(tmp_path, "Relay")
    with relay.open_store() as rstore:
        rstore.put_objects([forged], "file", "tampered.json")
        unsigned = indicator(9001, TLP.GREEN, creator=node.identity_id)
        coll = offer(
            rstore, "sink", query="source=file:tampered.json", private_key=relay.private_key()
        )
        token = create_token(rstore, "sink")
        with ServerThread(relay, rstore) as relay_server:
            sink = make_node(tmp_path, "Sink")
            with sink.open_store() as sstore:
                # The sink knows the source's key (it pulled from it directly).
                save_peer(
                    sstore,
                    sink.private_key(),
                    "source",
                    source["server"].discovery,
                    token=source["token"],
                )
                assert sync_peer(sink, sstore, "source").error is None
                save_peer(
                    sstore,
                    sink.private_key(),
                    "relay",
                    relay_server.discovery,
                    token=token,
                    remote_collections=[coll],
                )
                report = sync_peer(sink, sstore, "relay")
                assert report.error is None
                assert report.totals.quarantined == 1
                assert sstore.get(forged["id"]) is None, "a bad signature is never stored"
                with sstore.engine.connect() as conn:
                    reasons = [r.reason for r in conn.execute(select(t.quarantine))]
                assert any("bad signature" in r for r in reasons)
        # A peer that signs what it creates sends something unsigned: stored, flagged.
        from accord.share.intake import Intake

        with sink.open_store() as sstore:
            peer = get_peer(sstore, "source")
            result = Intake(sstore, "source", peer=peer).ingest([unsigned])
            assert (result.stored, result.flagged) == (1, 1)


def test_sync_killed_mid_run_resumes_without_loss_or_duplicates(
    tmp_path: Path, source: dict[str, Any]
) -> None:
    sink = make_node(tmp_path, "Sink")
    with sink.open_store() as store:
        save_peer(
            store, sink.private_key(), "source", source["server"].discovery, token=source["token"]
        )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [
        sys.executable,
        "-c",
        "from accord.cli.main import main; main()",
        "sync",
        "source",
        "--home",
        str(sink.path),
        "--page-size",
        "20",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_at = 0
    try:
        with sink.open_store() as store:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                with store.engine.connect() as conn:
                    pages = conn.execute(select(func.max(t.cursors.c.pages))).scalar() or 0
                if pages >= 3:
                    killed_at = pages
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.005)
    finally:
        proc.wait(30)
    assert killed_at >= 3, "the sync finished before it could be killed; make it longer"
    with sink.open_store() as store:
        partial = _store_ids(store, "source")
        assert 0 < len(partial) < 600
        with store.engine.connect() as conn:
            cursor = conn.execute(select(t.cursors)).first()
        assert cursor is not None and not cursor.complete
        report = sync_peer(sink, store, "source", page_size=20)
        assert report.error is None
        ids = _store_ids(store, "source")
        indicators = [i for i, _ in ids if i.startswith("indicator--")]
        assert sorted(indicators) == sorted(o["id"] for o in source["objs"])
        assert len(ids) == len(set(ids)), "no version stored twice"
        with store.engine.connect() as conn:
            per_row = conn.execute(
                select(s.provenance.c.row_id, func.count())
                .group_by(s.provenance.c.row_id)
                .having(func.count() > 1)
            ).all()
        assert per_row == [], "each version delivered by the peer is recorded once"
