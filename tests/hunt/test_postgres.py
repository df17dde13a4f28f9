"""The hunt's tables and queries on PostgreSQL (skips where no server is reachable)."""

from __future__ import annotations

import pytest

from accord.hunt import build_timeline, query_hits, run_hunt
from accord.hunt.sightings import sighting_id
from accord.model.tlp import TLP
from accord.store import Store

from .helpers import NODE, TS, TS2, indicator, write, zeek


@pytest.mark.postgres
def test_hunt_resume_and_sightings_on_postgresql(pg_url, tmp_path):
    store = Store.open(pg_url, TLP.AMBER)
    try:
        ioc = indicator("[domain-name:value = 'evil.example']")
        store.put_objects([ioc])
        log = write(
            tmp_path / "dns.log",
            zeek(
                "dns",
                "ts uid id.orig_h id.resp_h query",
                "time string addr addr string",
                [
                    f"{TS} C1 10.0.0.1 10.0.0.53 a.evil.example",
                    f"{TS2} C2 10.0.0.1 10.0.0.53 ok.org",
                ],
            ),
        )
        first = run_hunt(store, [log], identity_id=NODE)
        assert first.sightings_written == 1
        assert [(h.line, h.observed) for h in query_hits(store)] == [(9, "a.evil.example")]
        again = run_hunt(store, [log], identity_id=NODE)
        assert [f.status for f in again.files] == ["unchanged"]
        sighting = store.get(sighting_id(NODE, ioc["id"], "adhoc"))
        assert sighting is not None and sighting["count"] == 1
        with pytest.raises(Exception, match="no incident"):
            build_timeline(store, "incident--6c4f0c59-2f5e-4d8c-9a3b-1f2e3d4c5b6a")
    finally:
        store.close()
