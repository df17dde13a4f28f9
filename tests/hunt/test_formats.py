"""Each log format: the right fields are hunted, with the right line and UTC timestamp."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from accord.hunt import query_hits
from accord.hunt.inputs import detect_format, open_plain

from .helpers import TS, TS2, indicator, write, zeek

DNS_FIELDS = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p query answers"
DNS_TYPES = "time string addr port addr port string vector[string]"


@pytest.fixture
def iocs(hstore):
    objs = [
        indicator("[domain-name:value = 'evil.example']", name="domain"),
        indicator("[ipv4-addr:value = '203.0.113.47']", name="ip"),
        indicator("[url:value = 'http://web.example/gate.php?id=1']", name="url"),
        indicator(
            "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
            name="hash",
        ),
        indicator("[email-addr:value = 'boss@phish.example']", name="email"),
    ]
    hstore.put_objects(objs, "file", "iocs")
    return {o["name"]: o["id"] for o in objs}


def _seen(store) -> set[tuple[str, int, str, str, str]]:
    return {
        (Path(h.file).name, h.line, h.field, h.observed, h.as_dict()["timestamp"])
        for h in query_hits(store)
    }


def test_zeek_tsv_fields_vectors_unset_and_types(tmp_path, hstore, hunt, iocs):
    text = zeek(
        "dns",
        DNS_FIELDS,
        DNS_TYPES,
        [
            f"{TS} C1 10.0.0.1 5353 10.0.0.53 53 A.B.Evil.Example. cdn.ok.example,203.0.113.47",
            f"{TS2} C2 10.0.0.2 5353 10.0.0.53 53 - (empty)",
            f"{TS2} C3 203.0.113.47 5353 10.0.0.53 53 notevil.example -",
        ],
    )
    summary = hunt(write(tmp_path / "logs" / "dns.log", text))
    assert summary.lines == 3 and summary.bad_lines == 0
    assert _seen(hstore) == {
        ("dns.log", 9, "query", "A.B.Evil.Example.", "2025-12-02T10:00:00.000000Z"),
        ("dns.log", 9, "answers", "203.0.113.47", "2025-12-02T10:00:00.000000Z"),
        ("dns.log", 11, "id.orig_h", "203.0.113.47", "2025-12-06T05:46:40.500000Z"),
    }


def test_zeek_other_logs_through_addr_fields_and_http_ssl_x509_files_smtp(
    tmp_path, hstore, hunt, iocs
):
    logs = tmp_path / "logs"
    write(
        logs / "weird.log",
        zeek(
            "weird",
            "ts uid id.orig_h id.resp_h name",
            "time string addr addr string",
            [f"{TS} C1 10.0.0.1 203.0.113.47 bad_TCP"],
        ),
    )
    write(
        logs / "http.log",
        zeek(
            "http",
            "ts uid id.orig_h id.resp_h host uri",
            "time string addr addr string string",
            [
                f"{TS} C1 10.0.0.1 192.0.2.1 WEB.example:80 /gate.php?id=1",
                f"{TS} C2 10.0.0.1 192.0.2.1 web.example /gate.php?id=2",
            ],
        ),
    )
    write(
        logs / "ssl.log",
        zeek(
            "ssl",
            "ts uid id.orig_h id.resp_h server_name",
            "time string addr addr string",
            [f"{TS} C1 10.0.0.1 192.0.2.1 c2.evil.example"],
        ),
    )
    write(
        logs / "x509.log",
        zeek(
            "x509",
            "ts fingerprint certificate.subject san.dns",
            "time string string vector[string]",
            [f"{TS} {'AB' * 32} CN=x.evil.example,O=Org ok.example,www.evil.example"],
        ),
    )
    write(
        logs / "files.log",
        zeek(
            "files",
            "ts fuid tx_hosts rx_hosts md5 sha256",
            "time string set[addr] set[addr] string string",
            [f"{TS} F1 203.0.113.47 10.0.0.1 - {'AB' * 32}"],
        ),
    )
    write(
        logs / "smtp.log",
        zeek(
            "smtp",
            "ts uid id.orig_h id.resp_h mailfrom rcptto from",
            "time string addr addr string set[string] string",
            [
                f"{TS} C1 10.0.0.1 10.0.0.25 boss@phish.example a@ok.example "
                "Boss_<BOSS@phish.example>"
            ],
        ),
    )
    hunt(logs)
    seen = {(f, fld, obs) for f, _line, fld, obs, _ts in _seen(hstore)}
    assert seen == {
        ("weird.log", "id.resp_h", "203.0.113.47"),
        ("http.log", "uri", "WEB.example:80/gate.php?id=1"),
        ("ssl.log", "server_name", "c2.evil.example"),
        ("x509.log", "fingerprint", "AB" * 32),
        ("x509.log", "certificate.subject.CN", "x.evil.example"),
        ("x509.log", "san.dns", "www.evil.example"),
        ("files.log", "tx_hosts", "203.0.113.47"),
        ("files.log", "sha256", "AB" * 32),
        ("smtp.log", "mailfrom", "boss@phish.example"),
        ("smtp.log", "from", "Boss_<BOSS@phish.example>"),
    }


def test_zeek_json_iso_and_epoch_timestamps(tmp_path, hstore, hunt, iocs):
    lines = [
        {
            "_path": "dns",
            "ts": "2025-12-02T10:00:00.000000Z",
            "id.orig_h": "10.0.0.1",
            "id.resp_h": "10.0.0.53",
            "query": "evil.example",
            "answers": ["203.0.113.47"],
        },
        {"_path": "conn", "ts": 1765000000.5, "id.orig_h": "10.0.0.1", "id.resp_h": "203.0.113.47"},
    ]
    path = write(tmp_path / "z.json", b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    summary = hunt(path)
    assert summary.files[0].format == "zeek-json"
    assert _seen(hstore) == {
        ("z.json", 1, "query", "evil.example", "2025-12-02T10:00:00.000000Z"),
        ("z.json", 1, "answers", "203.0.113.47", "2025-12-02T10:00:00.000000Z"),
        ("z.json", 2, "id.resp_h", "203.0.113.47", "2025-12-06T05:46:40.500000Z"),
    }
    assert {h.log_type for h in query_hits(hstore)} == {"dns", "conn"}


def test_suricata_eve_all_event_types_and_dns_layouts(tmp_path, hstore, hunt, iocs):
    t = "2025-12-02T11:00:00.000000+0100"
    events = [
        {"timestamp": t, "event_type": "flow", "src_ip": "10.0.0.1", "dest_ip": "203.0.113.47"},
        {"timestamp": t, "event_type": "alert", "src_ip": "203.0.113.47", "dest_ip": "10.0.0.1"},
        {
            "timestamp": t,
            "event_type": "dns",
            "src_ip": "10.0.0.1",
            "dest_ip": "10.0.0.53",
            "dns": {"type": "query", "rrname": "v2.evil.example"},
        },
        {
            "timestamp": t,
            "event_type": "dns",
            "src_ip": "10.0.0.1",
            "dest_ip": "10.0.0.53",
            "dns": {"type": "answer", "rrname": "ok.example", "rdata": "203.0.113.47"},
        },
        {
            "timestamp": t,
            "event_type": "dns",
            "src_ip": "10.0.0.1",
            "dest_ip": "10.0.0.53",
            "dns": {
                "version": 3,
                "queries": [{"rrname": "v3.evil.example"}],
                "answers": [{"rrname": "v3.evil.example", "rdata": "192.0.2.9"}],
            },
        },
        {
            "timestamp": t,
            "event_type": "dns",
            "src_ip": "10.0.0.1",
            "dest_ip": "10.0.0.53",
            "dns": {"version": 2, "grouped": {"A": ["203.0.113.47"], "CNAME": ["g.evil.example"]}},
        },
        {
            "timestamp": t,
            "event_type": "http",
            "src_ip": "10.0.0.1",
            "dest_ip": "192.0.2.1",
            "http": {"hostname": "web.example", "url": "/gate.php?id=1"},
        },
        {
            "timestamp": t,
            "event_type": "tls",
            "src_ip": "10.0.0.1",
            "dest_ip": "192.0.2.1",
            "tls": {"sni": "tls.evil.example"},
        },
        {
            "timestamp": t,
            "event_type": "fileinfo",
            "src_ip": "10.0.0.1",
            "dest_ip": "192.0.2.1",
            "fileinfo": {"sha256": "ab" * 32},
        },
    ]
    path = write(tmp_path / "eve.json", b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    summary = hunt(path)
    assert summary.files[0].format == "eve"
    got = {(line, fld, obs) for _f, line, fld, obs, _ts in _seen(hstore)}
    assert got == {
        (1, "dest_ip", "203.0.113.47"),
        (2, "src_ip", "203.0.113.47"),
        (3, "dns.rrname", "v2.evil.example"),
        (4, "dns.rdata", "203.0.113.47"),
        (5, "dns.queries.rrname", "v3.evil.example"),
        (5, "dns.answers.rrname", "v3.evil.example"),
        (6, "dns.grouped", "203.0.113.47"),
        (6, "dns.grouped", "g.evil.example"),
        (7, "http.url", "web.example/gate.php?id=1"),
        (8, "tls.sni", "tls.evil.example"),
        (9, "fileinfo.sha256", "ab" * 32),
    }
    # +0100 is normalised to UTC
    assert {ts for *_x, ts in _seen(hstore)} == {"2025-12-02T10:00:00.000000Z"}
    assert {h.log_type for h in query_hits(hstore)} >= {"flow", "dns", "http", "tls", "fileinfo"}


def test_ocsf_network_dns_http(tmp_path, hstore, hunt, iocs):
    ms = 1764669600000
    events = [
        {
            "class_uid": 4001,
            "time": ms,
            "src_endpoint": {"ip": "10.0.0.1"},
            "dst_endpoint": {"ip": "203.0.113.47"},
        },
        {
            "class_uid": 4003,
            "time": ms,
            "query": {"hostname": "o.evil.example"},
            "answers": [{"rdata": "203.0.113.47"}],
        },
        {
            "class_uid": 4002,
            "class_name": "HTTP Activity",
            "time": ms,
            "http_request": {"url": {"hostname": "web.example", "path": "/gate.php?id=1"}},
        },
    ]
    path = write(tmp_path / "ocsf.jsonl", b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    summary = hunt(path)
    assert summary.files[0].format == "ocsf"
    assert {(line, fld) for _f, line, fld, _o, _t in _seen(hstore)} == {
        (1, "dst_endpoint.ip"),
        (2, "query.hostname"),
        (2, "answers.rdata"),
        (3, "http_request.url.path"),
    }
    assert {h.log_type for h in query_hits(hstore)} == {
        "network_activity",
        "dns_activity",
        "http_activity",
    }


def test_csv_jsonl_parquet_with_field_map(tmp_path, hstore, hunt, iocs):
    csv_path = write(
        tmp_path / "proxy.csv",
        "when,client,server,site\n"
        "2025-12-02T10:00:00Z,10.0.0.1,192.0.2.1,ok.example\n"
        "2025-12-02 10:00:00,10.0.0.1,203.0.113.47,www.evil.example\n",
    )
    jsonl = write(
        tmp_path / "app.jsonl",
        b'{"t": 1764669600, "net": {"peer": "203.0.113.47"}, "mail": "boss@phish.example"}\n',
    )
    pq_path = tmp_path / "flows.parquet"
    pq.write_table(
        pa.table({"ts": [1764669600.0, 1764669601.0], "dst": ["192.0.2.1", "203.0.113.47"]}),
        pq_path,
    )
    hunt(csv_path, field_map={"ip": ["client", "server"], "domain": ["site"], "time": ["when"]})
    hunt(jsonl, source_name="app", field_map={"ip": ["net.peer"], "email": ["mail"], "time": ["t"]})
    hunt(pq_path, source_name="pq", field_map={"ip": ["dst"], "time": ["ts"]})
    assert {(f, line, fld) for f, line, fld, _o, _t in _seen(hstore)} == {
        ("proxy.csv", 3, "server"),
        ("proxy.csv", 3, "site"),
        ("app.jsonl", 1, "net.peer"),
        ("app.jsonl", 1, "mail"),
        ("flows.parquet", 2, "dst"),
    }
    assert {t for *_x, t in _seen(hstore)} == {
        "2025-12-02T10:00:00.000000Z",
        "2025-12-02T10:00:01.000000Z",
    }


def test_csv_without_map_uses_well_known_columns(tmp_path, hstore, hunt, iocs):
    path = write(tmp_path / "fw.csv", "timestamp,src_ip,dst_ip\n1764669600,10.0.0.1,203.0.113.47\n")
    hunt(path)
    assert [(h.field, h.line) for h in query_hits(hstore)] == [("dst_ip", 2)]


def test_timezone_applies_to_naive_timestamps_only(tmp_path, hstore, hunt, iocs):
    path = write(
        tmp_path / "local.csv",
        "ts,ip\n2025-12-02 11:00:00,203.0.113.47\n2025-12-02T11:00:00+01:00,203.0.113.47\n",
    )
    hunt(path, timezone="Europe/Paris")
    assert {h.as_dict()["timestamp"] for h in query_hits(hstore)} == {"2025-12-02T10:00:00.000000Z"}


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_logs_are_detected_by_content(tmp_path, hstore, hunt, iocs, compression):
    text = zeek(
        "conn",
        "ts uid id.orig_h id.resp_h",
        "time string addr addr",
        [f"{TS} C1 10.0.0.1 203.0.113.47"],
    ).encode()
    data = gzip.compress(text) if compression == "gzip" else zstandard.compress(text)
    path = write(tmp_path / "conn.log.bin", data)
    assert detect_format(open_plain(path, tmp_path).plain) == "zeek"
    summary = hunt(path)
    assert summary.files[0].format == "zeek"
    assert [(h.line, h.field) for h in query_hits(hstore)] == [(9, "id.resp_h")]
