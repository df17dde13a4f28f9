"""How the hunt is run, not what it matches: batches of files, the cleaned observations, the
indicator snapshot and its prepared match tables. Each variant must find the same hits."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from accord.hunt import indicators as hunt_indicators
from accord.hunt import inputs, query_hits
from accord.hunt.indicators import load_indicators
from accord.hunt.matchsql import DUCKDB_MACROS
from accord.hunt.matchtables import MATCH_TABLES

from .helpers import TS, TS2, indicator, write, zeek
from .test_matching import _warninglist

DNS_FIELDS = "ts uid id.orig_h id.resp_h query answers"
DNS_TYPES = "time string addr addr string vector[string]"


def _seen(store) -> set[tuple[str, int, str, str, str]]:
    return {(Path(h.file).name, h.line, h.field, h.observed, h.matched) for h in query_hits(store)}


def _corpus(root: Path) -> list[Path]:
    """Three small Zeek logs with hits in each, on known lines."""
    files = []
    for n in range(3):
        rows = [f"{TS} C{n}{i} 10.0.{n}.{i} 10.0.0.53 ok{i}.example -" for i in range(20)]
        rows[5 + n] = f"{TS2} H{n} 10.0.{n}.5 198.51.100.{n + 1} ok.example -"
        rows[9] = f"{TS} Q{n} 10.0.{n}.9 10.0.0.53 www.evil.example 203.0.113.{n + 10}"
        files.append(write(root / f"d{n}" / "dns.log", zeek("dns", DNS_FIELDS, DNS_TYPES, rows)))
    return files


def _iocs() -> list[dict]:
    return [
        indicator("[domain-name:value = 'evil.example']"),
        indicator("[ipv4-addr:value = '198.51.100.0/30']"),
        indicator("[ipv4-addr:value = '203.0.113.11']"),
    ]


def test_small_batches_find_what_one_batch_finds(tmp_path, hstore, hunt):
    hstore.put_objects(_iocs())
    files = _corpus(tmp_path / "logs")
    hunt(*files)
    together = _seen(hstore)
    hunt(*files, batch_bytes=1)  # every file matched on its own
    assert _seen(hstore) == together
    # header lines 1-8: data line k is line 8 + k
    assert together == {
        ("dns.log", 14, "id.resp_h", "198.51.100.1", "198.51.100.0/30"),
        ("dns.log", 15, "id.resp_h", "198.51.100.2", "198.51.100.0/30"),
        ("dns.log", 16, "id.resp_h", "198.51.100.3", "198.51.100.0/30"),
        ("dns.log", 18, "query", "www.evil.example", "evil.example"),
        ("dns.log", 18, "answers", "203.0.113.11", "203.0.113.11"),
    }
    per_file = {(Path(h.file).parent.name, h.line) for h in query_hits(hstore)}
    assert per_file == {
        ("d0", 14),
        ("d1", 15),
        ("d2", 16),
        ("d0", 18),
        ("d1", 18),
        ("d2", 18),
    }


def test_domains_of_different_label_counts(tmp_path, hstore, hunt):
    hstore.put_objects(
        [
            indicator("[domain-name:value = 'evil.example']"),
            indicator("[domain-name:value = 'c.d.example']"),
            indicator("[domain-name:value = 'w.x.y.example']"),
        ]
    )
    names = [
        "evil.example",  # as long as the indicator
        "a.b.c.d.example",  # longer
        "d.example",  # shorter than c.d.example: no match
        "x.y.example",  # a suffix of w.x.y.example, not a subdomain: no match
        "v.w.x.y.example",
        "example",
    ]
    rows = [f"{TS} C{i} 10.0.0.1 10.0.0.53 {name} -" for i, name in enumerate(names)]
    hunt(write(tmp_path / "dns.log", zeek("dns", DNS_FIELDS, DNS_TYPES, rows)))
    assert {(h.observed, h.matched) for h in query_hits(hstore)} == {
        ("evil.example", "evil.example"),
        ("a.b.c.d.example", "c.d.example"),
        ("v.w.x.y.example", "w.x.y.example"),
    }


def test_short_prefixes_upper_case_ipv6_and_what_is_no_address(tmp_path, hstore, hunt):
    hstore.put_objects(
        [
            indicator("[ipv4-addr:value = '96.0.0.0/7']"),  # first octets 96 and 97
            indicator("[ipv4-addr:value = '198.51.100.9/32']"),
            indicator("[ipv6-addr:value = '2001:db8::1']"),
            indicator("[ipv6-addr:value = '2001:db8:bb::/48']"),
        ]
    )
    rows = [
        f"{TS} C1 97.255.255.255 98.0.0.1 x.ok",
        f"{TS} C2 95.255.255.255 198.51.100.9 x.ok",
        f"{TS} C3 2001:DB8::1 2001:DB8:BB::7 x.ok",
        f"{TS} C4 96.1.2 96.1.2.3.4 x.ok",  # not addresses: never cut to a prefix
    ]
    fields, types = "ts uid id.orig_h id.resp_h query", "time string addr addr string"
    hunt(write(tmp_path / "dns.log", zeek("dns", fields, types, rows)))
    assert {(h.observed, h.matched) for h in query_hits(hstore)} == {
        ("97.255.255.255", "96.0.0.0/7"),
        ("198.51.100.9", "198.51.100.9"),  # the store keeps a /32 as an address
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:DB8:BB::7", "2001:db8:bb::/48"),
    }


def test_padded_values_and_sets_of_one_or_several(tmp_path, hstore, hunt):
    hstore.put_objects(
        [
            indicator("[domain-name:value = 'evil.example']"),
            indicator("[ipv4-addr:value = '203.0.113.47']"),
        ]
    )
    rows = [
        f"{TS}\tC1\t10.0.0.1\t10.0.0.53\t  www.evil.example \t203.0.113.47",
        f"{TS}\tC2\t10.0.0.1\t10.0.0.53\tok.example\tx.ok, 203.0.113.47 ,-",
        f"{TS}\tC3\t10.0.0.1\t10.0.0.53\t-\t(empty)",
    ]
    text = zeek("dns", DNS_FIELDS, DNS_TYPES, []).replace("#close\tx\n", "")
    hunt(write(tmp_path / "dns.log", text + "".join(r + "\n" for r in rows)))
    assert {(h.line, h.field, h.observed) for h in query_hits(hstore)} == {
        (9, "query", "www.evil.example"),
        (9, "answers", "203.0.113.47"),
        (10, "answers", "203.0.113.47"),
    }


def test_snapshot_keeps_match_tables_until_something_expires(tmp_path, hstore):
    live = indicator("[ipv4-addr:value = '198.51.100.1']")
    ending = indicator("[ipv4-addr:value = '198.51.100.2']", valid_until="2030-01-01T00:00:00Z")
    hstore.put_objects([live, ending])
    cache = tmp_path / "cache"
    first = load_indicators(hstore, use_warninglists=False, cache_dir=cache)
    assert first.match_tables is not None
    again = load_indicators(hstore, use_warninglists=False, cache_dir=cache)
    assert again.match_tables is not None and set(again.match_tables) == set(MATCH_TABLES)
    assert again.match_tables["ind_values"].num_rows == 2
    later = load_indicators(
        hstore, use_warninglists=False, cache_dir=cache, now_us=1_900_000_000_000_000
    )
    assert len(later) == 1 and later.match_tables is None  # rebuilt from what is left
    assert later.tables()["ind_values"].column("v").to_pylist() == ["198.51.100.1"]


def _snapshot_facts(found):
    """A snapshot's content, whatever its value keys: values, suppressed, match tables."""
    rows = found.table.to_pylist()
    by_key = {r["ikey"]: (r["obj_id"], r["kind"], r["value"]) for r in rows}
    facts = sorted(tuple(v for k, v in r.items() if k != "ikey") for r in rows)
    tables = found.tables()
    values = sorted((by_key[r["ikey"]], r["k"], r["v"]) for r in tables["ind_values"].to_pylist())
    nets = sorted(
        (by_key[r["ikey"]], r["plen"], r["netkey"], r["bits"])
        for r in tables["ind_nets"].to_pylist()
    )
    suppressed = sorted((x["indicator"], x["value"]) for x in found.suppressed)
    return facts, values, nets, suppressed


def _later(obj, **changes):
    return {**obj, "modified": "2026-02-01T00:00:00.000Z", **changes}


def test_snapshot_is_brought_forward_after_an_update(tmp_path, hstore, monkeypatch):
    """After new intelligence arrives, the previous snapshot is brought forward with only
    the objects added since (new ones, new versions, revocations) and equals a full read."""
    _warninglist(hstore, "Public DNS resolvers", "suppress", "ipv4-net", "192.0.2.0/24")
    kept = indicator("[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '10.9.0.0/16']")
    revoked = indicator("[domain-name:value = 'gone.example']")
    changing = indicator("[url:value = 'http://old.example/a']")
    resolver = indicator("[ipv4-addr:value = '192.0.2.53']")
    hstore.put_objects([kept, revoked, changing, resolver])
    cache = tmp_path / "cache"
    before = load_indicators(hstore, cache_dir=cache)
    assert [x["indicator"] for x in before.suppressed] == [resolver["id"]]

    added = indicator("[file:hashes.'SHA-256' = '" + "ab" * 32 + "']")
    suppressed_now = indicator("[ipv4-addr:value = '192.0.2.8']")
    hstore.put_objects(
        [
            added,
            suppressed_now,
            _later(revoked, revoked=True),
            _later(changing, pattern="[url:value = 'http://new.example/b']"),
            _later(resolver, revoked=True),
        ]
    )
    reads: list[object] = []
    query = hunt_indicators._query

    def spy(store, now, ids=None):
        reads.append(ids)
        return query(store, now, ids)

    monkeypatch.setattr(hunt_indicators, "_query", spy)
    forward = load_indicators(hstore, cache_dir=cache)
    assert reads and None not in reads  # only the objects added since were read
    assert sorted(i for ids in reads for i in ids) == sorted(
        x["id"] for x in (added, suppressed_now, revoked, changing, resolver)
    )
    full = load_indicators(hstore, cache_dir=tmp_path / "fresh")
    assert _snapshot_facts(forward) == _snapshot_facts(full)
    assert [x["indicator"] for x in forward.suppressed] == [suppressed_now["id"]]
    values = {r["value"] for r in forward.table.to_pylist()}
    assert "new.example/b" in values and "old.example/a" not in values  # URLs normalised
    assert "gone.example" not in values and "10.9.0.0/16" in values
    # and the brought-forward snapshot is the cache now: loading again reads nothing
    reads.clear()
    again = load_indicators(hstore, cache_dir=cache)
    assert reads == [] and _snapshot_facts(again) == _snapshot_facts(full)


def test_snapshot_is_read_whole_when_much_arrived(tmp_path, hstore, monkeypatch):
    hstore.put_objects([indicator("[ipv4-addr:value = '198.51.100.1']")])
    cache = tmp_path / "cache"
    load_indicators(hstore, use_warninglists=False, cache_dir=cache)
    hstore.put_objects([indicator(f"[ipv4-addr:value = '198.51.100.{i}']") for i in (2, 3)])
    monkeypatch.setattr(hunt_indicators, "INCREMENTAL_MIN", 1)
    monkeypatch.setattr(hunt_indicators, "INCREMENTAL_MAX_SHARE", 0.0)
    reads: list[object] = []
    query = hunt_indicators._query
    monkeypatch.setattr(
        hunt_indicators,
        "_query",
        lambda st, now, ids=None: reads.append(ids) or query(st, now, ids),
    )
    found = load_indicators(hstore, use_warninglists=False, cache_dir=cache)
    assert reads == [None] and len(found) == 3


def test_header_block_longer_than_the_first_megabyte(tmp_path, hstore, hunt):
    """The header is normally read from the first megabyte while DuckDB parses; a longer one
    is still found (by the full scan) and the line numbers stay exact."""
    hstore.put_objects([indicator("[ipv4-addr:value = '203.0.113.47']")])
    notes = "".join(f"#note\t{i:07d} {'x' * 100}\n" for i in range(12_000))  # ~1.4 MB
    first, rest = zeek(
        "conn",
        "ts uid id.orig_h id.resp_h",
        "time string addr addr",
        [f"{TS} C1 10.0.0.1 10.0.0.2", f"{TS} C2 10.0.0.1 203.0.113.47"],
    ).split("\n", 1)
    hunt(write(tmp_path / "conn.log", first + "\n" + notes + rest))
    assert [(h.line, h.field) for h in query_hits(hstore)] == [(12_010, "id.resp_h")]


def _spark_substring_index(s: str, d: str, k: int) -> str:
    """Spark's ``substring_index``, as documented."""
    if k == 0 or d == "":
        return ""
    parts = s.split(d)
    return d.join(parts[:k] if k > 0 else parts[k:])


@pytest.mark.parametrize("delim", [".", "@", ""])
def test_duckdb_substring_index_is_sparks(delim):
    """DuckDB's macro (fast paths for dropping one or two labels) spells Spark's function."""
    rng = random.Random(5)
    cases = [
        ("".join(rng.choice("ab.@") for _ in range(rng.randint(0, 12))), rng.randint(-6, 4))
        for _ in range(3000)
    ]
    cases += [("a.b.evil.com", -2), ("evil.com", -3), ("x.y.z.evil.com", -2), (".", -1)]
    con = duckdb.connect()
    con.execute(DUCKDB_MACROS)
    rows = con.execute(
        "SELECT substring_index(s, ?, k) FROM (SELECT unnest(?) AS s, unnest(?) AS k)",
        [delim, [c[0] for c in cases], [c[1] for c in cases]],
    ).fetchall()
    assert [r[0] for r in rows] == [_spark_substring_index(s, delim, k) for s, k in cases]
    assert con.execute("SELECT substring_index(NULL, '.', -2)").fetchone() == (None,)


def test_layout_scan_across_small_blocks(tmp_path, monkeypatch):
    """The scan reads blocks into one reused buffer: lines longer than a block, headers
    midway and a last line without a newline are all counted as a whole-file read would."""
    monkeypatch.setattr(inputs, "_BLOCK", 64)
    text = zeek("conn", "ts uid", "time string", [f"{TS} C{i}" for i in range(5)])
    text += "#fields\tts\tuid\n" + f"{TS}\t{'L' * 300}\n" + f"{TS}\tlast"
    path = write(tmp_path / "conn.log", text)
    layout = inputs.scan_zeek(path)
    lines = text.split("\n")
    assert layout.total_lines == len(lines)
    assert layout.skipped_lines == [i + 1 for i, line in enumerate(lines) if line.startswith("#")]
    assert [s.first_line for s in layout.segments] == [9, 16]


def test_addresses_probed_once_against_addresses_and_matched_networks(tmp_path, hstore, hunt):
    """Exact addresses and the addresses some network matched share one probe: each
    observation hits each indicator once, whatever the spelling of an IPv6 address."""
    hstore.put_objects(
        [
            indicator("[ipv4-addr:value = '203.0.113.0/24']"),
            indicator("[ipv4-addr:value = '203.0.113.7']"),
            indicator("[ipv6-addr:value = '2001:db8:bb::/48']"),
        ]
    )
    rows = [
        f"{TS} C1 203.0.113.7 10.0.0.1",
        f"{TS} C2 2001:DB8:BB::7 2001:db8:bb::7",
        f"{TS} C3 2001:db8:bb::7 10.0.0.2",
    ]
    fields, types = "ts uid id.orig_h id.resp_h", "time string addr addr"
    hunt(write(tmp_path / "conn.log", zeek("conn", fields, types, rows)))
    hits = sorted((h.line, h.field, h.observed, h.matched) for h in query_hits(hstore))
    assert hits == [
        (9, "id.orig_h", "203.0.113.7", "203.0.113.0/24"),
        (9, "id.orig_h", "203.0.113.7", "203.0.113.7"),
        (10, "id.orig_h", "2001:DB8:BB::7", "2001:db8:bb::/48"),
        (10, "id.resp_h", "2001:db8:bb::7", "2001:db8:bb::/48"),
        (11, "id.orig_h", "2001:db8:bb::7", "2001:db8:bb::/48"),
    ]
