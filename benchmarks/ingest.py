"""Ingest benchmark: ``accord import`` into SQLite and PostgreSQL against ``stix2.parse()``.

Generates a bundle of N indicators (IPv4, domain, URL, SHA-256 patterns) plus one
relationship per two indicators, then in the same run measures:

* accord's import into SQLite and into PostgreSQL (when reachable), each in a fresh
  subprocess so that peak RSS is the import's own;
* SQLite alone writing the same rows into the same schema (the floor of any import into it);
* ``stix2.parse()`` — the OASIS library — over a sample of the same objects (it is slow
  enough that parsing all of them would dominate the run; objects/s is what is compared).

accord checks the same things stix2 does for these objects: required properties,
timestamps and the pattern syntax.

    python benchmarks/ingest.py [--indicators 100000] [--big-gb 0]

``--big-gb 1`` also generates a ~1 GB bundle and reports the import's peak memory on it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

PG_ADMIN = os.environ.get("ACCORD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def generate(path: Path, indicators: int, seed: int = 7) -> int:
    """Write a bundle with ``indicators`` indicators and indicators/2 relationships."""
    rng = random.Random(seed)
    creator = f"identity--{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    malware = f"malware--{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    stamp = "2026-01-20T10:00:00.000Z"
    count = 0
    with path.open("wb") as out:
        out.write(
            b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":['
        )
        head = [
            {
                "type": "identity",
                "spec_version": "2.1",
                "id": creator,
                "created": stamp,
                "modified": stamp,
                "name": "Benchmark CERT",
                "identity_class": "organization",
            },
            {
                "type": "malware",
                "spec_version": "2.1",
                "id": malware,
                "created": stamp,
                "modified": stamp,
                "created_by_ref": creator,
                "name": "BenchLoader",
                "is_family": True,
            },
        ]
        for obj in head:
            out.write(orjson.dumps(obj) + b",\n")
            count += 1
        for i in range(indicators):
            kind = i % 4
            if kind == 0:
                octets = [rng.randrange(1, 223)] + [rng.randrange(256) for _ in range(3)]
                pattern = f"[ipv4-addr:value = '{'.'.join(map(str, octets))}']"
            elif kind == 1:
                pattern = f"[domain-name:value = 'h{rng.getrandbits(40):x}.example-{i % 997}.net']"
            elif kind == 2:
                pattern = f"[url:value = 'http://d{i}.example.org/p/{rng.getrandbits(32):x}']"
            else:
                pattern = f"[file:hashes.'SHA-256' = '{rng.getrandbits(256):064x}']"
            ident = f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            obj = {
                "type": "indicator",
                "spec_version": "2.1",
                "id": ident,
                "created_by_ref": creator,
                "created": stamp,
                "modified": stamp,
                "name": f"benchmark indicator {i}",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": stamp,
            }
            out.write(orjson.dumps(obj) + b",\n")
            count += 1
            if i % 2 == 0:
                rel = {
                    "type": "relationship",
                    "spec_version": "2.1",
                    "id": f"relationship--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                    "created_by_ref": creator,
                    "created": stamp,
                    "modified": stamp,
                    "relationship_type": "indicates",
                    "source_ref": ident,
                    "target_ref": malware,
                }
                out.write(orjson.dumps(rel) + b",\n")
                count += 1
        out.seek(out.tell() - 2)
        out.write(b"\n]}\n")
        out.truncate()
    return count


_IMPORT_CHILD = r"""
import resource, sys, time, json
from pathlib import Path
from accord.ingest.context import ImportContext
from accord.ingest.importer import import_file
from accord.store import Store
url, path = sys.argv[1], Path(sys.argv[2])
store = Store.open(url)
node = "identity--00000000-0000-4000-8000-000000000000"
ctx = ImportContext(identity_id=node, source_name="bench")
start = time.perf_counter()
report = import_file(store, path, ctx, "stix")
elapsed = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# Worker processes (joined by now) are children: the largest one's peak.
worker_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"stored": report.result.stored, "seconds": elapsed, "peak_mb": peak_kb / 1024,
                  "worker_peak_mb": worker_kb / 1024}))
"""


# The floor under any SQLite import with this schema: the very rows accord stored (objects and
# their marking, reference, value and provenance index rows), inserted again into a fresh store
# (same migrations, so the same tables and indexes) by bare ``executemany`` in one transaction,
# with the settings accord's bulk writer uses. No JSON, no validation, no versioning logic: only
# SQLite's own work of writing the rows and maintaining the indexes the issue asks for.
_FLOOR_CHILD = r"""
import sqlite3, sys, time, json
from accord.store import Store
from accord.store.db import WRITE_CACHE_KIB
source, target, bare = sys.argv[1], sys.argv[2], sys.argv[3] == "bare"
Store.open("sqlite:///" + target).close()
tables = ["objects", "object_markings", "provenance", "refs", "observables"]
if bare:  # the objects alone, whole, with only their version key (id, modified) indexed
    tables = ["objects"]
    ddl = sqlite3.connect(target)
    for (name,) in ddl.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'objects' "
        "AND sql IS NOT NULL"
    ).fetchall():
        ddl.execute(f'DROP INDEX "{name}"')
    ddl.commit()
    ddl.close()
src = sqlite3.connect(source)
rows = {t: src.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
src.close()
con = sqlite3.connect(target, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=NORMAL")
con.execute(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
con.execute("PRAGMA foreign_keys=OFF")
start = time.perf_counter()
con.execute("BEGIN IMMEDIATE")
for t in tables:
    data = rows[t]
    if data:
        marks = ", ".join("?" * len(data[0]))
        for i in range(0, len(data), 2000):
            con.executemany(f'INSERT INTO "{t}" VALUES ({marks})', data[i : i + 2000])
con.execute("COMMIT")
elapsed = time.perf_counter() - start
print(json.dumps({"stored": len(rows["objects"]), "seconds": elapsed}))
"""


def sqlite_floor(source_db: Path, target_db: Path, bare: bool = False) -> dict:
    """Seconds for SQLite alone to write the rows accord stored (see ``_FLOOR_CHILD``);
    ``bare``: only the objects table, with no index but the version key."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _FLOOR_CHILD,
            str(source_db),
            str(target_db),
            "bare" if bare else "schema",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_import(url: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHILD, url, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def stix2_rate(path: Path, sample: int) -> tuple[int, float]:
    import stix2

    with path.open("rb") as handle:
        objects = orjson.loads(handle.read())["objects"][:sample]
    start = time.perf_counter()
    for obj in objects:
        stix2.parse(obj, allow_custom=True)
    return len(objects), time.perf_counter() - start


def pg_database() -> str | None:
    try:
        import psycopg

        name = f"accord_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    except Exception as exc:  # report, don't fail: the SQLite figure still stands
        print(f"PostgreSQL not reachable ({exc}); skipping it")
        return None


def drop_pg(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _peak(result: dict) -> str:
    """Peak RSS of the importing process, and of its largest worker process if any."""
    text = f"{result['peak_mb']:.0f} MB"
    if result.get("worker_peak_mb"):
        text += f" + workers ≤ {result['worker_peak_mb']:.0f} MB each"
    return text


def _print_load(when: str) -> None:
    """The machine's load: other processes' work slows accord and stix2 alike, but not
    necessarily equally (accord uses every core, stix2.parse one)."""
    one, five, _ = os.getloadavg()
    print(f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--stix2-sample", type=int, default=5_000)
    parser.add_argument("--big-gb", type=float, default=0.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        bundle = tmpdir / "bundle.json"
        total = generate(bundle, args.indicators)
        size_mb = bundle.stat().st_size / 1e6
        print(f"bundle: {total:,} objects, {size_mb:.1f} MB (cores: {os.cpu_count()})")
        _print_load("before")

        sqlite = run_import(f"sqlite:///{tmpdir / 'bench.db'}", bundle)
        sqlite_rate = sqlite["stored"] / sqlite["seconds"]
        print(
            f"accord import → SQLite:      {sqlite_rate:10,.0f} objects/s "
            f"({sqlite['seconds']:.1f} s, peak {_peak(sqlite)})"
        )
        floor = sqlite_floor(tmpdir / "bench.db", tmpdir / "floor.db")
        floor_rate = floor["stored"] / floor["seconds"]
        print(
            f"SQLite alone, same rows:     {floor_rate:10,.0f} objects/s "
            f"({floor['seconds']:.1f} s: bare executemany of the stored rows into the same "
            "schema, no parsing or checks)"
        )
        bare = sqlite_floor(tmpdir / "bench.db", tmpdir / "bare.db", bare=True)
        bare_rate = bare["stored"] / bare["seconds"]
        print(
            f"SQLite alone, objects only:  {bare_rate:10,.0f} objects/s "
            f"({bare['seconds']:.1f} s: the objects whole with their version key, no other "
            "index or index table)"
        )
        pg_rate = None
        pg_url = pg_database()
        if pg_url:
            try:
                pg = run_import(pg_url, bundle)
                pg_rate = pg["stored"] / pg["seconds"]
                print(
                    f"accord import → PostgreSQL:  {pg_rate:10,.0f} objects/s "
                    f"({pg['seconds']:.1f} s, peak {_peak(pg)})"
                )
            finally:
                drop_pg(pg_url)
        parsed, seconds = stix2_rate(bundle, args.stix2_sample)
        ref_rate = parsed / seconds
        print(
            f"stix2.parse() (OASIS):       {ref_rate:10,.0f} objects/s ({parsed:,} objects sampled)"
        )
        print(
            f"ratio accord SQLite / stix2.parse:     {sqlite_rate / ref_rate:6.1f}x  (target ≥ 50x)"
        )
        print(
            f"ratio SQLite alone / stix2.parse:      {floor_rate / ref_rate:6.1f}x  "
            "(the ceiling of any SQLite import with these indexes)"
        )
        print(f"ratio SQLite objects only / stix2.parse: {bare_rate / ref_rate:4.1f}x")
        print(f"accord SQLite / SQLite alone:          {sqlite_rate / floor_rate:6.2f}")
        if pg_rate:
            print(f"ratio accord PostgreSQL / stix2.parse: {pg_rate / ref_rate:6.1f}x")
        _print_load("after")

        if args.big_gb > 0:
            big = tmpdir / "big.json"
            per_indicator = bundle.stat().st_size / total
            generate(big, int(args.big_gb * 1e9 / per_indicator / 1.5))
            print(f"big bundle: {big.stat().st_size / 1e9:.2f} GB")
            bundle.unlink()
            result = run_import(f"sqlite:///{tmpdir / 'big.db'}", big)
            print(
                f"accord import of the big bundle: {result['stored'] / result['seconds']:,.0f} "
                f"objects/s, peak memory {_peak(result)} (target < 1024 MB)"
            )


if __name__ == "__main__":
    main()
