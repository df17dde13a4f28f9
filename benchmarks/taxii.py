"""TAXII 2.1 throughput: medallion (memory backend) against ``accord serve``, on loopback.

Both servers run as separate processes and are driven through the OASIS taxii2-client with
the same generated objects:

* read: objects per second over pages of 100 (``as_pages``);
* write: objects per second of ``add_objects`` in envelopes of 100, waiting for completion;
* depth: latency of the first page and of the last page of a large collection (accord only).

Run ``python benchmarks/taxii.py`` (20,000 objects, a 1,000,000-object collection) or with
``--quick`` (2,000 objects, 100,000).

medallion's first page costs time quadratic in the collection size (about 50 s for 2,000
objects, 165 s for 5,000 on two cores), so a 20,000-object read would take the better part
of an hour: its read is measured over ``--medallion-read-objects`` (2,000 by default, the
size the reference figure was taken at). That flatters medallion, never accord.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select
from taxii2client.v21 import Collection, as_pages

from accord.model.tlp import TLP, TLP2_IDS
from accord.share.auth import add_user
from accord.share.collections import add_collection
from accord.share.peers import save_peer, set_policy
from accord.share.serving import free_port
from accord.share.signing import Signer
from accord.share.view import Position, seal_for
from accord.store import schema as s
from accord.store.home import NodeHome
from accord.store.store import content_hash

PASSWORD = "benchmark password"
GREEN = TLP2_IDS[TLP.GREEN]
CREATOR = "identity--5f1c9f2a-5d43-4a8e-9a55-3c0c6d0b7e11"


def address(i: int) -> str:
    """A distinct documentation-range (198.18.0.0/15) address per object."""
    return f"198.{18 + i // 65536 % 2}.{i // 256 % 256}.{i % 256}"


def make_objects(count: int, seed: str = "bench") -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        out.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'{seed}/{i}')}",
                "created": "2025-12-01T10:00:00.000Z",
                "modified": "2025-12-01T10:00:00.000Z",
                "created_by_ref": CREATOR,
                "name": f"C2 address {i}",
                "pattern": f"[ipv4-addr:value = '{address(i)}']",
                "pattern_type": "stix",
                "valid_from": "2025-12-01T00:00:00Z",
                "object_marking_refs": [GREEN],
            }
        )
    return out


def wait_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


@contextmanager
def process(cmd: list[str], url: str) -> Iterator[None]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(url)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- medallion ------------------------------------------------------------------------------


@contextmanager
def medallion(workdir: Path, preload: list[dict[str, Any]]) -> Iterator[dict[str, str]]:
    port = free_port()
    root = f"http://127.0.0.1:{port}/api1/"
    read_id, write_id = str(uuid.uuid4()), str(uuid.uuid4())
    base = 1_764_583_200  # 2025-12-01T10:00:00Z
    manifest = [
        {
            "id": o["id"],
            "date_added": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i // 1000))
            + f".{i % 1000:03d}000Z",
            "version": o["modified"],
            "media_type": "application/stix+json;version=2.1",
        }
        for i, o in enumerate(preload)
    ]

    def coll(cid: str, title: str, objects: list[Any], man: list[Any]) -> dict[str, Any]:
        return {
            "id": cid,
            "title": title,
            "can_read": True,
            "can_write": True,
            "media_types": ["application/stix+json;version=2.1"],
            "objects": objects,
            "manifest": man,
        }

    data = {
        "/discovery": {"title": "medallion", "default": root, "api_roots": [root]},
        "api1": {
            "information": {
                "title": "api1",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 100 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                coll(read_id, "read", preload, manifest),
                coll(write_id, "write", [], []),
            ],
        },
    }
    (workdir / "medallion-data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(workdir / "medallion-data.json"),
        },
        "users": {"bench": PASSWORD},
        "taxii": {"max_page_size": 100},
    }
    (workdir / "medallion.json").write_text(json.dumps(config))
    cmd = [
        sys.executable,
        "-m",
        "medallion.scripts.run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        str(workdir / "medallion.json"),
    ]
    with process(cmd, f"http://127.0.0.1:{port}/taxii2/"):
        yield {
            "read": f"{root}collections/{read_id}/",
            "write": f"{root}collections/{write_id}/",
        }


# --- accord -----------------------------------------------------------------------------------


def bulk_rows(home: NodeHome, count: int, seed: str) -> None:
    """Load a large collection quickly: rows as the store's writer lays them out.

    The deep-paging measure is about reading; loading a million objects through the
    validating writer would dominate the run, so rows go in with one bulk insert.
    """
    with home.open_store() as store, store.engine.begin() as conn:
        top = conn.execute(select(s.objects.c.row_id).order_by(s.objects.c.row_id.desc())).first()
        row = (top[0] if top else 0) + 1
        clock = int(time.time() * 1_000_000)
        batch: list[dict[str, Any]] = []
        marks: list[dict[str, Any]] = []
        for obj in make_objects(count, seed):
            body = json.dumps(obj, separators=(",", ":"))
            batch.append(
                {
                    "row_id": row,
                    "id": obj["id"],
                    "type": "indicator",
                    "modified_us": 0,
                    "created_by_ref": CREATOR,
                    "spec_version": "2.1",
                    "revoked": False,
                    "is_current": True,
                    "tlp": int(TLP.GREEN),
                    "date_added_us": clock + row,
                    "source_kind": "file",
                    "source_name": seed,
                    "content_hash": content_hash(obj),
                    "valid_until_us": None,
                    "search_text": None,
                    "body": body,
                }
            )
            marks.append({"row_id": row, "marking_ref": GREEN})
            row += 1
            if len(batch) == 20_000:
                conn.execute(insert(s.objects), batch)
                conn.execute(insert(s.object_markings), marks)
                batch, marks = [], []
        if batch:
            conn.execute(insert(s.objects), batch)
            conn.execute(insert(s.object_markings), marks)


@contextmanager
def accord(workdir: Path, objects: list[dict[str, Any]], big: int) -> Iterator[dict[str, Any]]:
    home = NodeHome.init(workdir / "accord", "Benchmark node")
    with home.open_store() as store:
        for start in range(0, len(objects), 2000):
            store.put_objects(objects[start : start + 2000], "file", "read")
        read = add_collection(store, "read", query="source=file:read")
        write = add_collection(store, "write", inbox=True)
        deep = add_collection(store, "deep", query="source=file:deep")
        save_peer(store, home.private_key(), "bench", "http://127.0.0.1:9/")
        set_policy(
            store,
            "bench",
            collections=[read.collection_id, write.collection_id, deep.collection_id],
        )
        add_user(store, "bench", PASSWORD)
    bulk_rows(home, big, "deep")
    with home.open_store() as store, store.engine.connect() as conn:
        last = conn.execute(
            select(s.objects.c.date_added_us, s.objects.c.row_id)
            .where(s.objects.c.source_name == "deep")
            .order_by(s.objects.c.date_added_us.desc())
            .offset(99)
            .limit(1)
        ).one()
    # The position a client holds after following `next` through every page but the last.
    last_token = seal_for(
        Signer.from_home(home),
        deep.collection_id,
        "bench",
        Position(last.date_added_us, last.row_id),
    )
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/"
    cmd = [
        sys.executable,
        "-c",
        "from accord.cli.main import main; main()",
        "serve",
        "--home",
        str(home.path),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with process(cmd, f"http://127.0.0.1:{port}/taxii2/"):
        yield {
            "read": f"{api}collections/{read.collection_id}/",
            "write": f"{api}collections/{write.collection_id}/",
            "deep": f"{api}collections/{deep.collection_id}/",
            "last_token": last_token,
        }


# --- measures ---------------------------------------------------------------------------------


def measure_read(url: str, user: str) -> tuple[float, int]:
    coll = Collection(url, user=user, password=PASSWORD)
    count = 0
    start = time.perf_counter()
    for envelope in as_pages(coll.get_objects, per_request=100):
        count += len(envelope.get("objects", []))
    return count / (time.perf_counter() - start), count


def measure_write(
    url: str, user: str, objects: list[dict[str, Any]], max_seconds: float
) -> tuple[float, int]:
    coll = Collection(url, user=user, password=PASSWORD)
    done = 0
    start = time.perf_counter()
    for i in range(0, len(objects), 100):
        status = coll.add_objects(
            {"objects": objects[i : i + 100]}, wait_for_completion=True, poll_interval=0.05
        )
        if status.success_count != len(objects[i : i + 100]):
            raise RuntimeError(f"{url}: {status.failure_count} objects refused")
        done += len(objects[i : i + 100])
        if time.perf_counter() - start > max_seconds:
            break
    return done / (time.perf_counter() - start), done


def page_latency(url: str, token: str | None, repeat: int = 30) -> float:
    coll = Collection(url, user="bench", password=PASSWORD)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        envelope = coll.get_objects(limit=100, next=token) if token else coll.get_objects(limit=100)
        samples.append(time.perf_counter() - start)
        assert len(envelope.get("objects", [])) == 100
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 objects, 100,000 deep")
    parser.add_argument("--objects", type=int, help="objects for read and write")
    parser.add_argument("--big", type=int, help="size of the deep-paging collection")
    parser.add_argument("--medallion-read-objects", type=int, default=2_000)
    parser.add_argument("--medallion-write-seconds", type=float, default=120.0)
    args = parser.parse_args()
    n = args.objects or (2_000 if args.quick else 20_000)
    big = args.big or (100_000 if args.quick else 1_000_000)
    objects = make_objects(n)
    results: dict[str, Any] = {"objects": n, "deep_collection": big}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        med_n = min(n, args.medallion_read_objects)
        print(f"medallion: {med_n} objects preloaded …", flush=True)
        with medallion(work, objects[:med_n]) as med:
            results["medallion_read"], med_read = measure_read(med["read"], "bench")
            print(f"  read  {results['medallion_read']:10,.0f} objects/s ({med_read} objects)")
            results["medallion_write"], med_written = measure_write(
                med["write"], "bench", make_objects(n, "write"), args.medallion_write_seconds
            )
            print(f"  write {results['medallion_write']:10,.0f} objects/s ({med_written} objects)")
        print(f"accord: {n} objects, and a {big:,}-object collection …", flush=True)
        with accord(work, objects, big) as acc:
            results["accord_read"], acc_read = measure_read(acc["read"], "bench")
            print(f"  read  {results['accord_read']:10,.0f} objects/s ({acc_read} objects)")
            results["accord_write"], acc_written = measure_write(
                acc["write"], "bench", make_objects(n, "write"), 3600
            )
            print(f"  write {results['accord_write']:10,.0f} objects/s ({acc_written} objects)")
            results["first_page_ms"] = page_latency(acc["deep"], None)
            results["last_page_ms"] = page_latency(acc["deep"], acc["last_token"])
            print(
                f"  first page {results['first_page_ms']:.1f} ms, "
                f"last page {results['last_page_ms']:.1f} ms (median of 30)"
            )
    results["read_ratio"] = results["accord_read"] / results["medallion_read"]
    results["write_ratio"] = results["accord_write"] / results["medallion_write"]
    results["depth_ratio"] = results["last_page_ms"] / results["first_page_ms"]
    print()
    print(f"read  ratio accord/medallion: {results['read_ratio']:8.1f}x   (target >= 100x)")
    print(f"write ratio accord/medallion: {results['write_ratio']:8.1f}x   (target >= 10x)")
    print(f"last/first page latency:      {results['depth_ratio']:8.2f}    (target <= 2)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
