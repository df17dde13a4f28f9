"""The queries the issue names are served by indexes, not table scans, on both backends.

A million-object store cannot be built in a unit test; the query plans show what would
happen. On PostgreSQL sequential scans are disabled for the EXPLAIN, so a plan without
``Seq Scan`` proves that an index can answer the query.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from accord.store import Store
from tests.store.stix_helpers import (
    BACKENDS,
    RCERT,
    TLP2,
    indicator,
    malware,
    open_module_store,
    sdo,
)


@pytest.fixture(scope="module", params=BACKENDS)
def mstore(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    yield from open_module_store(request, tmp_path_factory)


QUERIES = {
    "by id": "SELECT body FROM objects WHERE id = 'malware--x' AND is_current",
    "by type": "SELECT id FROM objects WHERE type = 'malware' AND is_current",
    "by creator": f"SELECT id FROM objects WHERE created_by_ref = '{RCERT}'",
    "by marking": f"SELECT row_id FROM object_markings WHERE marking_ref = '{TLP2['green']}'",
    "by relationship source": "SELECT dst_id FROM refs WHERE src_id = 'relationship--x'",
    "by relationship target": "SELECT src_id FROM refs WHERE dst_id = 'malware--x'",
    "by date_added (TAXII paging)": (
        "SELECT id FROM objects WHERE date_added_us > 12345 ORDER BY date_added_us LIMIT 100"
    ),
    "by observable value": (
        "SELECT obj_id FROM observables WHERE kind = 'domain' AND value = 'evil.example'"
    ),
    "by address range": (
        "SELECT obj_id FROM observables WHERE kind = 'ipv4' AND lo >= '0a000000' "
        "AND lo <= '0affffff'"
    ),
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_query_uses_an_index(mstore: Store, name: str) -> None:
    mal = malware(created_by_ref=RCERT, object_marking_refs=[TLP2["green"]])
    ind = indicator("[domain-name:value = 'evil.example']")
    rel = sdo(
        "relationship", relationship_type="indicates", source_ref=ind["id"], target_ref=mal["id"]
    )
    mstore.put_objects([mal, ind, rel])
    query = QUERIES[name]
    with mstore.engine.connect() as conn:
        if mstore.is_sqlite:
            steps = [str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))]
            # SEARCH is an index lookup; SCAN would read a whole table or index.
            assert steps and all(step.startswith("SEARCH") for step in steps), steps
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " | ".join(r[0] for r in conn.execute(text(f"EXPLAIN {query}")))
            assert "Seq Scan" not in plan, plan
            assert "Index" in plan, plan
