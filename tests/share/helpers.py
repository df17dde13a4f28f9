"""Building blocks for the sharing tests: nodes, objects, peers, real servers on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from accord.model.tlp import TLP, TLP1_IDS, TLP2_IDS
from accord.share.auth import add_user
from accord.share.collections import add_collection
from accord.share.peers import save_peer, set_policy
from accord.store.home import NodeHome
from accord.store.store import Store

PASSWORD = "a long enough password"
STAMP = "2025-12-01T10:00:00.000Z"


def new_id(kind: str) -> str:
    return f"{kind}--{uuid.uuid4()}"


def marking(level: TLP | None, *, tlp1: bool = False) -> list[str]:
    if level is None:
        return []
    if tlp1 and level in TLP1_IDS:
        return [TLP1_IDS[level]]
    return [TLP2_IDS[level]]


def indicator(
    n: int,
    level: TLP | None,
    *,
    creator: str | None = None,
    modified: str = STAMP,
    created: str = STAMP,
    obj_id: str | None = None,
    tlp1: bool = False,
    value: str | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": obj_id or new_id("indicator"),
        "created": created,
        "modified": modified,
        "name": f"indicator {n}",
        "pattern": f"[ipv4-addr:value = '{value or f'198.51.100.{n % 250}'}']",
        "pattern_type": "stix",
        "valid_from": "2025-12-01T00:00:00Z",
    }
    if creator:
        obj["created_by_ref"] = creator
    refs = marking(level, tlp1=tlp1)
    if refs:
        obj["object_marking_refs"] = refs
    return obj


def make_node(root: Path, name: str, **kw: Any) -> NodeHome:
    return NodeHome.init(root / name.lower().replace(" ", "-"), name, **kw)


def offer(
    store: Store,
    peer: str,
    *,
    query: str = "",
    collection: str | None = None,
    tlp_max: TLP = TLP.GREEN,
    same_org: bool = False,
    redact: str = "none",
    private_key: Any = None,
    inbox: bool = False,
) -> str:
    """Create a collection, a peer record with a login, and grant it; return the id."""
    from accord.share.peers import get_peer

    name = collection or f"{peer}-{uuid.uuid4().hex[:6]}"
    coll = add_collection(store, name, query=query, inbox=inbox)
    try:
        get_peer(store, peer)
    except Exception:
        assert private_key is not None
        save_peer(
            store, private_key, peer, "http://127.0.0.1:9/", tlp_max=tlp_max, same_org=same_org
        )
        add_user(store, peer, PASSWORD)
    current = get_peer(store, peer)
    set_policy(
        store,
        peer,
        tlp_max=tlp_max,
        same_org=same_org,
        redact=redact,
        collections=[*current.grants, coll.collection_id],
    )
    return coll.collection_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def medallion(tmp: Path, collections: list[dict[str, Any]]) -> Iterator[str]:
    """medallion 3 with its memory backend, as a real server on a loopback port.

    ``collections`` are TAXII collection resources, optionally with ``objects``.
    Yields the discovery URL; the login is ``sync`` / ``PASSWORD``.
    """
    port = free_port()
    root = f"http://127.0.0.1:{port}/api1/"
    colls = []
    for c in collections:
        objects = c.get("objects", [])
        manifest = [
            {
                "id": o["id"],
                "date_added": "2025-12-02T00:00:00.000000Z",
                "version": o.get("modified", o.get("created")),
                "media_type": "application/stix+json;version=2.1",
            }
            for o in objects
        ]
        colls.append(
            {
                "can_read": True,
                "can_write": True,
                "media_types": ["application/stix+json;version=2.1"],
                **c,
                "objects": objects,
                "manifest": manifest,
            }
        )
    data = {
        "/discovery": {
            "title": "medallion",
            "default": root,
            "api_roots": [root],
        },
        "api1": {
            "information": {
                "title": "api1",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 100 * 1024 * 1024,
            },
            "status": [],
            "collections": colls,
        },
    }
    data_file = tmp / f"medallion-{port}.json"
    data_file.write_text(json.dumps(data))
    config = tmp / f"medallion-{port}.conf.json"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(data_file),
                },
                "users": {"sync": PASSWORD},
                "taxii": {"max_page_size": 100},
            }
        )
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medallion.scripts.run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/taxii2/")
        yield f"http://127.0.0.1:{port}/taxii2/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
