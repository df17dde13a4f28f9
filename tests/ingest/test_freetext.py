"""The free-text reader: refanged IOCs as indicators, a report around them, no noise."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accord.ingest.context import ImportContext
from accord.ingest.csv_indicators import ACCORD_NAMESPACE, read_csv
from accord.ingest.freetext import (
    DESCRIPTION_LIMIT,
    extract,
    is_ambiguous_address,
    read_document,
    read_text,
    refang,
)
from accord.model.errors import InputError
from accord.model.observables import normalize_ip
from accord.model.stix import check_object
from accord.model.tlp import TLP, TLP2_IDS
from accord.store import Store
from accord.store import schema as s
from tests.store.stix_helpers import bundle, validation_errors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "text"
NODE = "identity--5e1c1a8f-0b7d-4c1e-9f3a-2d4b6c8e0a11"
WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-05-01T12:00:00.000Z"
SHA256 = "c24c081b27c0a6f3f0bccbd0430e1964375ebe3d7c8d361ff2c4a09dc25710df"
SHA512 = (
    "3bafbf08882a2d10133093a1b8433f50563b93c14acd05b79028eb1d12799027"
    "241450980651994501423a66c276ae26c43b739bc65c4e16b10c3af6c202aebb"
)


def ctx(tlp: TLP | None = TLP.AMBER, keep_private: bool = False) -> ImportContext:
    return ImportContext(
        identity_id=NODE, source_name="test", tlp=tlp, keep_private=keep_private, now=WHEN
    )


def read(name: str, context: ImportContext | None = None) -> list[tuple[str, dict[str, Any]]]:
    return list(read_text(FIXTURES / name, context or ctx()))


def values(rows: list[tuple[str, dict[str, Any]]]) -> set[str]:
    return {obj["pattern"] for _, obj in rows if obj["type"] == "indicator"}


def indicator_id(kind: str, value: str) -> str:
    return f"indicator--{uuid.uuid5(ACCORD_NAMESPACE, f'{NODE}|{kind}|{value}')}"


@pytest.mark.parametrize(
    ("defanged", "fanged"),
    [
        ("hxxp://update-cdn-sync.net/a", "http://update-cdn-sync.net/a"),
        ("HXXPS://update-cdn-sync.net/a", "https://update-cdn-sync.net/a"),
        ("update-cdn-sync[.]net", "update-cdn-sync.net"),
        ("update-cdn-sync(.)net", "update-cdn-sync.net"),
        ("update-cdn-sync{.}net", "update-cdn-sync.net"),
        ("update-cdn-sync[dot]net", "update-cdn-sync.net"),
        ("update-cdn-sync [DOT] net", "update-cdn-sync.net"),
        ("hr-notice[@]update-cdn-sync.net", "hr-notice@update-cdn-sync.net"),
        ("hr-notice[at]update-cdn-sync.net", "hr-notice@update-cdn-sync.net"),
        ("hxxps[:]//update-cdn-sync.net", "https://update-cdn-sync.net"),
        ("hxxps[://]update-cdn-sync.net", "https://update-cdn-sync.net"),
        ("203[.]0[.]113[.]47", "203.0.113.47"),
        ("a[.]\nb", "a.\nb"),
    ],
)
def test_refang(defanged: str, fanged: str) -> None:
    assert refang(defanged) == fanged


def test_report_indicators_are_extracted_refanged_and_normalised() -> None:
    rows = read("heron-report.md")
    assert values(rows) == {
        "[ipv4-addr:value = '203.0.113.47']",
        "[ipv6-addr:value = '2001:db8::47']",
        "[ipv4-addr:value = '198.51.100.0/24']",
        "[domain-name:value = 'update-cdn-sync.net']",
        # Defanged, so meant as a domain although .zip is also an archive's extension.
        "[domain-name:value = 'heron-updates.zip']",
        "[url:value = 'https://update-cdn-sync.net/gate/checkin.php']",
        "[url:value = 'http://cdn-heron.info/stage2.bin']",
        "[email-addr:value = 'hr-notice@update-cdn-sync.net']",
        "[file:hashes.'MD5' = '9dd4e461268c8034f5c8564e155c67a6']",
        "[file:hashes.'SHA-1' = '0b9118762c221300fa43a0f49180edeb4b8d1400']",
        f"[file:hashes.'SHA-256' = '{SHA256}']",
        f"[file:hashes.'SHA-512' = '{SHA512}']",
    }
    places = {obj["pattern"]: place for place, obj in rows if obj["type"] == "indicator"}
    assert places["[ipv4-addr:value = '203.0.113.47']"] == "line 10"
    assert places["[url:value = 'http://cdn-heron.info/stage2.bin']"] == "line 12"


def test_noise_is_left_out() -> None:
    found = extract((FIXTURES / "heron-report.md").read_text("utf-8")).found
    kept = {(o.kind, o.value) for o in found}
    # A URL's host is not repeated as a domain unless it stands on its own.
    assert ("domain", "cdn-heron.info") not in kept
    # Private and loopback addresses, file names and code identifiers are not indicators.
    for value in ("10.20.30.40", "192.168.7.12", "127.0.0.1"):
        assert ("ipv4", value) not in kept
    assert ("ipv6", "fe80::1") not in kept
    for name in ("setup.py", "readme.md", "archive.zip", "system.io", "asp.net", "report.pdf"):
        assert ("domain", name) not in kept
    # The domain of an email address is not a separate indicator either.
    assert len([o for o in found if o.kind == "domain"]) == 2


def test_keep_private_keeps_internal_addresses() -> None:
    rows = read("heron-report.md", ctx(keep_private=True))
    got = values(rows)
    assert "[ipv4-addr:value = '10.20.30.40']" in got
    assert "[ipv6-addr:value = 'fe80::1']" in got
    assert "[ipv4-addr:value = '127.0.0.1']" in got


@pytest.mark.parametrize(
    ("value", "ambiguous"),
    [
        ("203.0.113.47", False),  # TEST-NET-3: the project's example C2, kept
        ("192.0.2.25", False),
        ("198.51.100.0/24", False),
        ("2001:db8::47", False),
        ("8.8.4.4", False),
        ("10.1.2.3", True),
        ("172.20.0.1", True),
        ("192.168.0.0/16", True),
        ("100.64.1.1", True),
        ("169.254.10.10", True),
        ("127.0.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.251", True),
        ("255.255.255.255", True),
        ("198.18.0.1", True),
        ("::1", True),
        ("fd12:3456::1", True),
        ("ff02::1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:203.0.113.47", False),
        ("0.0.0.0/0", True),  # overlaps private space
    ],
)
def test_reserved_address_policy(value: str, ambiguous: bool) -> None:
    assert is_ambiguous_address(normalize_ip(value)) is ambiguous


def test_indicators_and_report_are_this_nodes_and_deterministic() -> None:
    rows = read("heron-report.md")
    assert read("heron-report.md") == rows
    indicators = [obj for _, obj in rows if obj["type"] == "indicator"]
    place, report = rows[-1]
    assert place == "report"
    text = (FIXTURES / "heron-report.md").read_text("utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert report == {
        "type": "report",
        "spec_version": "2.1",
        "id": f"report--{uuid.uuid5(ACCORD_NAMESPACE, f'{NODE}|{digest}')}",
        "created_by_ref": NODE,
        "created": STAMP,
        "modified": STAMP,
        "name": "GREY HERON: HeronLoader campaign against Ruritanian ministries",
        "description": text,
        "report_types": ["threat-report"],
        "published": STAMP,
        "object_refs": [obj["id"] for obj in indicators],
        "object_marking_refs": [TLP2_IDS[TLP.AMBER]],
    }
    for obj in indicators:
        assert obj["created_by_ref"] == NODE
        assert obj["created"] == obj["modified"] == obj["valid_from"] == STAMP
        assert obj["object_marking_refs"] == [TLP2_IDS[TLP.AMBER]]
        assert "description" not in obj
    by_pattern = {obj["pattern"]: obj["id"] for obj in indicators}
    assert by_pattern["[ipv4-addr:value = '203.0.113.47']"] == indicator_id("ipv4", "203.0.113.47")
    assert by_pattern["[url:value = 'http://cdn-heron.info/stage2.bin']"] == indicator_id(
        "url", "cdn-heron.info/stage2.bin"
    )


def test_same_value_same_indicator_id_as_in_a_csv(tmp_path: Path) -> None:
    csv_path = tmp_path / "c2.csv"
    csv_path.write_text("203.0.113.47,ip\n", "utf-8")
    ((_, from_csv),) = read_csv(csv_path, ctx())
    from_text = next(o for _, o in read("heron-report.md") if "203.0.113.47" in o["pattern"])
    assert from_csv["id"] == from_text["id"]


def test_email_subject_names_the_report_and_only_the_body_is_read() -> None:
    text, title = read_document(FIXTURES / "partner-alert.eml")
    assert title == "Alerte précoce: HeronLoader C2"
    assert "Nous avons observé le C2" in text  # quoted-printable, iso-8859-1
    rows = read("partner-alert.eml")
    assert values(rows) == {
        "[ipv4-addr:value = '203.0.113.47']",
        # "(domaine update-cdn-sync[.]net)": a domain before ")" survives refanging.
        "[domain-name:value = 'update-cdn-sync.net']",
        "[url:value = 'http://198.51.100.23:8080/a']",
    }
    # 192.0.2.25 is in a Received header: transport, not threat.
    assert rows[-1][1]["name"] == "Alerte précoce: HeronLoader C2"


def test_html_links_count_and_page_machinery_does_not() -> None:
    rows = read("advisory.html")
    assert values(rows) == {
        "[ipv4-addr:value = '203.0.113.47']",
        "[url:value = 'https://update-cdn-sync.net/gate/checkin.php']",
        f"[file:hashes.'SHA-256' = '{SHA256}']",
    }
    report = rows[-1][1]
    assert report["name"] == "Advisory 2026-014: HeronLoader infrastructure"
    assert "<p>" not in report["description"]


def test_a_text_without_indicators_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        read("internal-only.txt")
    assert caught.value.place == ""
    assert "no indicators found" in caught.value.reason
    assert "3 private or reserved" in caught.value.reason
    assert "2 file or code name(s)" in caught.value.reason


def test_non_utf8_text_is_refused_with_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = b"C2: 203.0.113.47\nCharg\xe9 par le loader\n"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        list(read_text(path, ctx()))
    assert caught.value.place == "line 2"
    assert f"byte 0xe9 at byte offset {content.index(0xE9)}" in caught.value.reason


def test_a_huge_text_is_truncated_in_the_description(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_text("C2 203.0.113.47\n" + "padding line\n" * 10_000, "utf-8")
    report = list(read_text(path, ctx()))[-1][1]
    assert report["name"] == "dump.txt"
    assert len(report["description"]) < DESCRIPTION_LIMIT + 100
    assert report["description"].endswith("more characters are in dump.txt]")


def test_objects_are_valid_stix() -> None:
    objs: dict[tuple[str, str], dict[str, Any]] = {}
    for name in ("heron-report.md", "partner-alert.eml", "advisory.html"):
        for _, obj in read(name):
            check_object(obj)
            objs[(obj["id"], obj["modified"])] = obj
    assert validation_errors(bundle(objs.values())) == []


def test_store_round_trip(sqlite_store: Store) -> None:
    objs = [obj for _, obj in read("heron-report.md")]
    result = sqlite_store.put_objects(objs, "file", "heron-report.md")
    assert result.by_type == {"indicator": 12, "report": 1}
    with sqlite_store.engine.connect() as conn:
        indexed = set(conn.execute(select(s.observables.c.kind, s.observables.c.value)).all())
    assert {
        ("ipv4", "203.0.113.47"),
        ("ipv4-net", "198.51.100.0/24"),
        ("domain", "update-cdn-sync.net"),
        ("url", "cdn-heron.info/stage2.bin"),
        ("email", "hr-notice@update-cdn-sync.net"),
        ("sha512", SHA512),
    } <= indexed
    assert len(indexed) == 12
    report = objs[-1]
    refs = {dst for prop, dst in sqlite_store.references(report["id"]) if prop == "object_refs"}
    assert refs == {obj["id"] for obj in objs[:-1]}
