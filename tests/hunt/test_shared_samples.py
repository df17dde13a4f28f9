"""Real Zeek logs from a public capture (../shared/samples), when present: read cleanly."""

from __future__ import annotations

import pytest

from accord.hunt import query_hits

from .helpers import indicator


@pytest.mark.parametrize("flavour", ["zeek-tsv", "zeek-json"])
def test_public_zeek_samples_hunt_without_bad_lines(shared_dir, hstore, hunt, flavour):
    samples = shared_dir / "samples" / flavour
    if not samples.is_dir():
        pytest.skip(f"{samples} is absent")
    ioc = indicator("[domain-name:value = 'wrccdc.org']")
    hstore.put_objects([ioc])
    summary = hunt(*sorted(samples.glob("*.gz")), source_name=flavour)
    assert summary.bad_lines == 0, [str(p) for p in summary.problems[:5]]
    assert {f.log_type for f in summary.files} >= {"dns", "ssl", "x509", "smtp", "notice"}
    hits = query_hits(hstore)
    assert any(h.log_type == "dns" and h.field == "query" for h in hits)
    assert all(h.observed.lower().rstrip(".").endswith("wrccdc.org") for h in hits)
