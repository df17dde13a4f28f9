"""The CSV-of-indicators reader: one deterministic indicator per row, errors naming the line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accord.ingest.context import ImportContext
from accord.ingest.csv_indicators import ACCORD_NAMESPACE, read_csv
from accord.model.errors import InputError
from accord.model.stix import check_object
from accord.model.tlp import TLP, TLP2_IDS
from accord.store import Store
from accord.store import schema as s
from tests.store.stix_helpers import bundle, validation_errors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv"
NODE = "identity--5e1c1a8f-0b7d-4c1e-9f3a-2d4b6c8e0a11"
WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-05-01T12:00:00.000Z"


def ctx(tlp: TLP | None = TLP.GREEN, identity: str = NODE) -> ImportContext:
    return ImportContext(identity_id=identity, source_name="test", tlp=tlp, now=WHEN)


def expected_id(kind: str, value: str, identity: str = NODE) -> str:
    return f"indicator--{uuid.uuid5(ACCORD_NAMESPACE, f'{identity}|{kind}|{value}')}"


def read(path: Path, context: ImportContext | None = None) -> list[tuple[str, dict[str, Any]]]:
    return list(read_csv(path, context or ctx()))


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "iocs.csv"
    path.write_bytes(content)
    return path


def test_each_row_becomes_the_expected_indicator() -> None:
    rows = read(FIXTURES / "indicators.csv")
    got = {place: (obj["pattern"], obj["name"], obj.get("description")) for place, obj in rows}
    assert got == {
        "line 3": (
            "[ipv4-addr:value = '203.0.113.47']",
            "Malicious IP 203.0.113.47",
            "HeronLoader command-and-control server",
        ),
        "line 4": (
            "[domain-name:value = 'update-cdn-sync.net']",
            "Malicious domain update-cdn-sync.net",
            "C2 domain",
        ),
        "line 5": (
            "[url:value = 'https://update-cdn-sync.net/gate/checkin.php']",
            "Malicious URL https://update-cdn-sync.net/gate/checkin.php",
            "Check-in URL, first seen December 2025",
        ),
        "line 6": (
            "[email-addr:value = 'hr-notice@update-cdn-sync.net']",
            "Malicious email address hr-notice@update-cdn-sync.net",
            "Sender of the phishing email",
        ),
        "line 7": (
            "[file:hashes.'SHA-256' = "
            "'c24c081b27c0a6f3f0bccbd0430e1964375ebe3d7c8d361ff2c4a09dc25710df']",
            "Malicious file SHA-256 "
            "c24c081b27c0a6f3f0bccbd0430e1964375ebe3d7c8d361ff2c4a09dc25710df",
            "HeronLoader dropper",
        ),
        "line 10": (
            "[ipv4-addr:value = '198.51.100.0/24']",
            "Malicious network 198.51.100.0/24",
            "Staging network",
        ),
        "line 11": ("[ipv6-addr:value = '2001:db8::47']", "Malicious IP 2001:db8::47", None),
        "line 12": (
            "[file:hashes.'MD5' = '9dd4e461268c8034f5c8564e155c67a6']",
            "Malicious file MD5 9dd4e461268c8034f5c8564e155c67a6",
            "Lure document",
        ),
        # The producer's spelling stays in the pattern; the name shows the normal form.
        "line 13": (
            "[domain-name:value = 'Mail.Update-CDN-Sync.net']",
            "Malicious domain mail.update-cdn-sync.net",
            None,
        ),
    }


def test_indicators_are_this_nodes_with_deterministic_ids_and_the_import_tlp() -> None:
    rows = read(FIXTURES / "indicators.csv")
    ids = {place: obj["id"] for place, obj in rows}
    assert ids["line 3"] == expected_id("ipv4", "203.0.113.47")
    assert ids["line 10"] == expected_id("ipv4-net", "198.51.100.0/24")
    assert ids["line 13"] == expected_id("domain", "mail.update-cdn-sync.net")
    # Pinned: changing the namespace would orphan every indicator already stored.
    assert ids["line 3"] == "indicator--" + str(
        uuid.uuid5(uuid.UUID("5b0c1a4e-8f0d-4c7e-9a55-6c0f2d1e7a31"), f"{NODE}|ipv4|203.0.113.47")
    )
    for _, obj in rows:
        assert obj["created_by_ref"] == NODE
        assert obj["created"] == obj["modified"] == obj["valid_from"] == STAMP
        assert obj["pattern_type"] == "stix"
        assert obj["indicator_types"] == ["malicious-activity"]
        assert obj["object_marking_refs"] == [TLP2_IDS[TLP.GREEN]]
    assert read(FIXTURES / "indicators.csv") == rows


def test_ids_depend_on_the_identity_and_markings_on_the_tlp() -> None:
    other = "identity--7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
    rows = read(FIXTURES / "indicators.csv", ctx(tlp=None, identity=other))
    first = rows[0][1]
    assert first["id"] == expected_id("ipv4", "203.0.113.47", other)
    assert "object_marking_refs" not in first


def test_bom_and_crlf_are_handled() -> None:
    rows = read(FIXTURES / "spreadsheet.csv")
    assert [(p, o["pattern"], o.get("description")) for p, o in rows] == [
        ("line 2", "[ipv4-addr:value = '203.0.113.47']", "C2 from a spreadsheet"),
        ("line 3", "[ipv6-addr:value = '2001:db8::47']", None),
    ]


def test_objects_are_valid_stix() -> None:
    objs = [obj for _, obj in read(FIXTURES / "indicators.csv")]
    for obj in objs:
        check_object(obj)
    assert validation_errors(bundle(objs)) == []


def test_store_round_trip_indexes_the_values(sqlite_store: Store) -> None:
    objs = [obj for _, obj in read(FIXTURES / "indicators.csv")]
    result = sqlite_store.put_objects(objs, "file", "indicators.csv")
    assert result.stored == 9
    with sqlite_store.engine.connect() as conn:
        rows = set(conn.execute(select(s.observables.c.kind, s.observables.c.value)).all())
    assert rows == {
        ("ipv4", "203.0.113.47"),
        ("domain", "update-cdn-sync.net"),
        ("url", "update-cdn-sync.net/gate/checkin.php"),
        ("email", "hr-notice@update-cdn-sync.net"),
        ("sha256", "c24c081b27c0a6f3f0bccbd0430e1964375ebe3d7c8d361ff2c4a09dc25710df"),
        ("ipv4-net", "198.51.100.0/24"),
        ("ipv6", "2001:db8::47"),
        ("md5", "9dd4e461268c8034f5c8564e155c67a6"),
        ("domain", "mail.update-cdn-sync.net"),
    }
    again = sqlite_store.put_objects(objs, "file", "indicators.csv")
    assert (again.stored, again.duplicates) == (0, 9)


def test_a_url_without_scheme_is_patterned_as_a_full_url(tmp_path: Path) -> None:
    ((_, obj),) = read(write(tmp_path, b"update-cdn-sync.net/gate,url\n"))
    assert obj["pattern"] == "[url:value = 'http://update-cdn-sync.net/gate']"


@pytest.mark.parametrize(
    ("content", "place", "reason"),
    [
        (b"203.0.113.47,ip,C2,extra\n", "line 1", "got 4 columns"),
        (b"# c\n203.0.113.47,ipaddr\n", "line 2", "unknown type 'ipaddr'"),
        (b"update-cdn-sync.net,ip\n", "line 1", "'update-cdn-sync.net' is not a valid ip"),
        (b"2001:db8::47,ipv4\n", "line 1", "an ipv6 address, not ipv4"),
        (b"198.51.100.0/24,ip\n", "line 1", "a network, not one address"),
        (b"203.0.113.47,cidr\n", "line 1", "no '/prefix' length"),
        (b"203.0.113.47,domain\n", "line 1", "an IP address, not a domain name"),
        (b"abc123,sha256\n", "line 1", "is not a valid sha256"),
        (b"value,type\n,ip\n", "line 2", "empty value"),
        (b"update-cdn-sync[.]net,domain\n", "line 1", "it looks defanged"),
        (b"not a value at all\n", "line 1", "is not a recognisable indicator"),
    ],
)
def test_bad_rows_are_refused_naming_the_line(
    tmp_path: Path, content: bytes, place: str, reason: str
) -> None:
    with pytest.raises(InputError) as caught:
        read(write(tmp_path, content))
    assert caught.value.place == place
    assert reason in caught.value.reason


def test_non_utf8_is_refused_naming_line_and_byte(tmp_path: Path) -> None:
    content = b"203.0.113.47,ip,C2\n198.51.100.7,ip,caf\xe9\n"
    with pytest.raises(InputError) as caught:
        read(write(tmp_path, content))
    assert caught.value.place == "line 2"
    assert f"byte 0xe9 at byte offset {content.index(0xE9)}" in caught.value.reason


def test_a_repeated_value_with_another_comment_is_refused(tmp_path: Path) -> None:
    same = read(write(tmp_path, b"203.0.113.47,ip,C2\n203.0.113.47,,C2\n"))
    assert [place for place, _ in same] == ["line 1"]
    path = write(tmp_path, b"203.0.113.47,ip,C2\n# again\n203.0.113.47,,loader C2\n")
    with pytest.raises(InputError) as caught:
        read(path)
    assert caught.value.place == "line 3"
    assert "already on line 1" in caught.value.reason


def test_rows_are_streamed(tmp_path: Path) -> None:
    path = write(tmp_path, b"203.0.113.47,ip\n198.51.100.7,ip\nnot an ip,ip\n")
    rows = read_csv(path, ctx())
    assert next(rows)[0] == "line 1"
    assert next(rows)[0] == "line 2"
    with pytest.raises(InputError):
        next(rows)
