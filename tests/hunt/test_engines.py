"""The DuckDB and Spark engines run the same hunt definition and return identical hits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest

from accord.hunt import query_hits, run_hunt
from accord.model.tlp import TLP
from accord.store import Store

from .helpers import NODE, TS, TS2, indicator, write, zeek

if os.environ.get("CI") == "true":  # CI installs both: the engines must be compared there
    import pyspark

    assert shutil.which("java"), "Spark needs Java; .ci/run installs it"
else:
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None:  # pragma: no cover - Java is part of the CI machine
        pytest.skip("Spark needs Java", allow_module_level=True)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from accord.hunt.engines import spark_session

    session = spark_session("local[2]", tmp_path_factory.mktemp("spark"))
    yield session
    session.stop()


def _corpus(root: Path) -> Path:
    write(
        root / "dns.log",
        zeek(
            "dns",
            "ts uid id.orig_h id.resp_h query answers",
            "time string addr addr string vector[string]",
            [
                f"{TS} C1 10.0.0.1 10.0.0.53 a.Evil.example 203.0.113.47,x.ok",
                f"{TS2} C2 10.9.1.2 10.0.0.53 ok.example 2001:db8:aa::9",
                f"{TS2} C3 10.0.0.2 10.0.0.53 xn--bcher-kva.example -",
            ],
        ),
    )
    write(
        root / "eve.json",
        b"\n".join(
            orjson.dumps(e)
            for e in [
                {
                    "timestamp": "2025-12-03T00:00:00Z",
                    "event_type": "http",
                    "src_ip": "10.0.0.1",
                    "dest_ip": "192.0.2.1",
                    "http": {"hostname": "web.example", "url": "/g?x=1"},
                },
                {
                    "timestamp": "2025-12-03T00:00:01Z",
                    "event_type": "fileinfo",
                    "src_ip": "10.0.0.1",
                    "dest_ip": "192.0.2.1",
                    "fileinfo": {"md5": "0123456789ABCDEF0123456789ABCDEF"},
                },
            ]
        )
        + b"\n",
    )
    write(root / "mail.csv", f"ts,sender\n{TS},Boss <boss@phish.example>\n")
    return root


def _iocs() -> list[dict]:
    return [
        indicator("[domain-name:value = 'evil.example']"),
        indicator("[domain-name:value = 'bücher.example']"),
        indicator("[ipv4-addr:value = '203.0.113.47']"),
        indicator("[ipv4-addr:value = '10.9.0.0/16']"),
        indicator("[ipv6-addr:value = '2001:db8:aa::/48']"),
        indicator("[url:value = 'http://web.example:80/g?x=1']"),
        indicator("[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']"),
        indicator("[email-addr:value = 'boss@phish.example']"),
    ]


def test_spark_and_duckdb_return_identical_hits(tmp_path, spark):
    corpus = _corpus(tmp_path / "logs")
    iocs = _iocs()
    results = {}
    for engine in ("duckdb", "spark"):
        store = Store.open(f"sqlite:///{tmp_path / (engine + '.db')}", TLP.AMBER)
        store.put_objects(iocs)
        summary = run_hunt(
            store,
            [corpus],
            identity_id=NODE,
            engine=engine,
            spark_session=spark,
            field_map={},
        )
        assert summary.engine == engine
        results[engine] = sorted(
            (Path(h.file).name, h.line, h.field, h.observed, h.ts_us, h.indicator_id)
            for h in query_hits(store)
        )
        results[engine + "-sightings"] = summary.sightings_written
        store.close()
    assert results["duckdb"] == results["spark"]
    assert results["duckdb-sightings"] == results["spark-sightings"] == 8
    assert {r[5] for r in results["duckdb"]} == {i["id"] for i in iocs}
