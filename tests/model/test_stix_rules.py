"""accord's MUST-level checks on every object: ids, required properties, timestamps, patterns."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from stix2patterns.validator import validate as oasis_validate_pattern

from accord.model.stix import StixVersionError, check_object, display_name, is_versioned
from tests.store.stix_helpers import RCERT, T0, indicator, malware, new_id, sdo


def _reason(obj: Any) -> str:
    with pytest.raises(ValueError) as info:
        check_object(obj)
    return str(info.value)


@pytest.mark.parametrize(
    ("obj_type", "prop"),
    [
        ("indicator", "pattern"),
        ("indicator", "pattern_type"),
        ("indicator", "valid_from"),
        ("malware", "is_family"),
        ("report", "published"),
        ("report", "object_refs"),
        ("relationship", "target_ref"),
        ("sighting", "sighting_of_ref"),
        ("grouping", "context"),
        ("observed-data", "number_observed"),
        ("identity", "name"),
    ],
)
def test_missing_required_property(obj_type: str, prop: str) -> None:
    complete: dict[str, dict[str, Any]] = {
        "indicator": indicator("[ipv4-addr:value = '198.51.100.1']"),
        "malware": malware(),
        "report": sdo("report", name="R", published=T0, object_refs=[new_id("malware")]),
        "relationship": sdo(
            "relationship",
            relationship_type="uses",
            source_ref=new_id("intrusion-set"),
            target_ref=new_id("malware"),
        ),
        "sighting": sdo("sighting", sighting_of_ref=new_id("indicator")),
        "grouping": sdo("grouping", context="unspecified", object_refs=[new_id("malware")]),
        "observed-data": sdo(
            "observed-data",
            first_observed=T0,
            last_observed=T0,
            number_observed=1,
            object_refs=[f"ipv4-addr--{uuid.uuid4()}"],
        ),
        "identity": sdo("identity", name="Ruritania National CERT"),
    }
    obj = complete[obj_type]
    check_object(obj)
    del obj[prop]
    assert _reason(obj) == f"missing required property '{prop}'"


@pytest.mark.parametrize("prop", ["id", "created", "modified", "type"])
def test_missing_common_property(prop: str) -> None:
    obj = malware()
    del obj[prop]
    reason = _reason(obj)
    assert prop in reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-13-01T00:00:00Z", "invalid date or time in '2025-13-01T00:00:00Z'"),
        ("2025-02-30T00:00:00Z", "invalid date or time"),
        ("2025-01-01T00:00:00", "not a STIX timestamp"),
        ("2025-01-01T00:00:00+00:00", "not a STIX timestamp"),
        ("2025-01-01 00:00:00Z", "not a STIX timestamp"),
        ("2025-01-01", "not a STIX timestamp"),
        (1735689600, "timestamp must be a string"),
    ],
)
def test_bad_timestamp(value: object, expected: str) -> None:
    obj = malware(created=value, modified=value)
    reason = _reason(obj)
    assert reason.startswith("property 'created': ")
    assert expected in reason


def test_bad_valid_from_is_named() -> None:
    reason = _reason(
        indicator("[ipv4-addr:value = '198.51.100.1']", valid_from="2025-13-01T00:00:00Z")
    )
    assert reason.startswith("property 'valid_from': invalid date or time")


def test_timestamp_order_rules() -> None:
    assert _reason(malware(created="2025-02-01T00:00:00Z", modified=T0)) == (
        "'modified' is earlier than 'created'"
    )
    assert "valid_until" in _reason(indicator("[ipv4-addr:value = '198.51.100.1']", valid_until=T0))
    sighting = sdo(
        "sighting",
        sighting_of_ref=new_id("indicator"),
        first_seen="2025-02-01T00:00:00Z",
        last_seen=T0,
    )
    assert _reason(sighting) == "'last_seen' is earlier than 'first_seen'"


def test_nanosecond_timestamps_are_accepted() -> None:
    check_object(malware(created="2025-01-01T00:00:00.123456789Z", modified="2025-01-01T00:00:01Z"))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"type": "Malware"}, "missing or invalid 'type': 'Malware'"),
        ({"type": 5}, "missing or invalid 'type': 5"),
        ({"type": "indicator"}, "'id' must be 'indicator--<uuid>'"),
        ({"id": "malware--not-a-uuid"}, "'id' must be 'malware--<uuid>'"),
        ({"revoked": "yes"}, "'revoked' must be a boolean"),
        ({"created_by_ref": new_id("malware")}, "'created_by_ref' must be an identity id"),
        ({"sample_refs": "file--x"}, "'sample_refs' must be a list of STIX identifiers"),
        ({"type": "bundle", "id": new_id("bundle")}, "a bundle cannot be nested"),
    ],
)
def test_wrong_types_are_refused(change: dict[str, Any], expected: str) -> None:
    assert expected in _reason({**malware(), **change})


def test_not_an_object() -> None:
    assert _reason(["malware"]) == "a STIX object must be a JSON object, got list"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {**indicator("[ipv4-addr:value = '198.51.100.1']"), "pattern": 5},
            "'pattern' must be a string",
        ),
        (
            sdo("opinion", opinion="maybe", object_refs=[new_id("report")]),
            "'opinion' must be one of",
        ),
        (sdo("report", name="R", published=T0, object_refs=[]), "'object_refs' must not be empty"),
        (
            sdo("sighting", sighting_of_ref=new_id("indicator"), count=1_000_000_000),
            "'count' must be an integer from 0 to 999,999,999",
        ),
    ],
)
def test_property_rules(obj: dict[str, Any], expected: str) -> None:
    assert expected in _reason(obj)


def test_stix_20_objects_are_refused_with_a_clear_reason() -> None:
    obj = malware()
    del obj["spec_version"]
    with pytest.raises(StixVersionError, match=r"STIX 2\.0 content; accord stores STIX 2\.1 only"):
        check_object(obj)
    with pytest.raises(StixVersionError, match=r"spec_version '2\.0' is not supported"):
        check_object({**malware(), "spec_version": "2.0"})


def test_scos_and_marking_definitions_need_no_created_modified() -> None:
    check_object({"type": "ipv4-addr", "id": f"ipv4-addr--{uuid.uuid4()}", "value": "192.0.2.1"})
    check_object(
        {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": new_id("marking-definition"),
            "created": T0,
            "definition_type": "statement",
            "definition": {"statement": "Fictional copyright"},
        }
    )
    assert not is_versioned({"type": "ipv4-addr"})
    assert not is_versioned({"type": "marking-definition"})
    assert is_versioned({"type": "x-acme-widget"})
    assert is_versioned({"type": "indicator"})


NEW_SCO_EXT = "extension-definition--1f6a0a40-6d4f-4d5b-9a3c-2f43b4e5a001"


def test_new_sco_extension_objects_are_accepted_and_unversioned() -> None:
    obj = {
        "type": "acme-beacon",
        "spec_version": "2.1",
        "id": "acme-beacon--af47a92e-9f3e-5628-9470-e12e09e294c9",
        "beacon_id": "b1",
        "extensions": {NEW_SCO_EXT: {"extension_type": "new-sco"}},
    }
    check_object(obj)
    assert not is_versioned(obj)


# --- patterns ----------------------------------------------------------------------------

GOOD_PATTERNS = [
    "[ipv4-addr:value = '198.51.100.1']",
    "[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '198.51.100.2']",
    "[domain-name:value = 'evil.example'] OR [url:value = 'http://evil.example/x']",
    "[file:hashes.'SHA-256' = '3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea']",
    "[file:hashes.MD5 = 'a3cca2b2aa1e3b5b3b5aad99a8529074']",
    "[ipv4-addr:value = '198.51.100.1' AND ipv4-addr:value != '198.51.100.2']",
    "[network-traffic:dst_port = 443] WITHIN 300 SECONDS",
    "[file:name MATCHES '^invoice.*\\\\.exe$'] REPEATS 3 TIMES",
    "[ipv4-addr:value = 'domain autuo.xicp.net']",  # odd value, valid syntax (OASIS sample)
]

BAD_PATTERNS = [
    "[ipv4-addr:value = '1.2.3.4'",
    "ipv4-addr:value = '1.2.3.4'",
    "[ipv4-addr:value = '1.2.3.4'] AND",
    "[ipv4-addr:value = '1.2.3.4'] or [ipv4-addr:value = '1.2.3.5']",
    "[ipv4-addr:value = '1.2.3.4'] START t'2025-01-01T00:00:00Z' STOP t'2025-13-01T00:00:00Z'",
    "[]",
    "(",
]


@pytest.mark.parametrize("pattern", GOOD_PATTERNS)
def test_valid_patterns_are_accepted(pattern: str) -> None:
    check_object(indicator(pattern))


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_invalid_patterns_are_refused_with_the_pattern_named(pattern: str) -> None:
    reason = _reason(indicator(pattern))
    assert reason.startswith("invalid STIX pattern")
    assert repr(pattern) in reason


@pytest.mark.parametrize("pattern", [""])
def test_empty_pattern_is_refused_not_crashing(pattern: str) -> None:
    assert "pattern" in _reason(indicator(pattern))


def test_non_stix_patterns_are_opaque() -> None:
    check_object(indicator("rule x { condition: true }", pattern_type="yara"))


# Patterns stix2-patterns (the OASIS validator) rejects. accord's fast path for simple
# patterns must not accept them: an accepted pattern is exported, and the export must pass
# stix2-validator, which runs this same pattern check.
SEMANTICALLY_WRONG = [
    "[file:hashes.'SHA-256' = 'aa']",
    "[file:hashes.MD5 = 'zz']",
    "[file:hashes.'SHA-1' = 'a3cca2b2aa1e3b5b3b5aad99a8529074']",
]
BAD_IDENTIFIERS = ["[1abc:value = 'x']", "[ipv4-addr:1value = '1.2.3.4']"]


@pytest.mark.parametrize("pattern", SEMANTICALLY_WRONG + BAD_IDENTIFIERS)
def test_oasis_rejects_these_patterns(pattern: str) -> None:
    ok, _errors = oasis_validate_pattern(pattern, stix_version="2.1", ret_errs=True)
    assert not ok


@pytest.mark.parametrize("pattern", SEMANTICALLY_WRONG)
def test_semantically_wrong_simple_patterns_are_refused(pattern: str) -> None:
    assert _reason(indicator(pattern)).startswith("invalid STIX pattern")


@pytest.mark.parametrize("pattern", BAD_IDENTIFIERS)
def test_bad_identifiers_in_simple_looking_patterns_are_refused(pattern: str) -> None:
    assert _reason(indicator(pattern)).startswith("invalid STIX pattern")


def test_display_name() -> None:
    rel = sdo("relationship", relationship_type="uses", source_ref="a--b", target_ref="c--d")
    assert display_name(rel) == "a--b uses c--d"
    assert display_name(malware("GLASSVINE", created_by_ref=RCERT)) == "GLASSVINE"
    assert display_name({"type": "ipv4-addr", "value": "192.0.2.1"}) == "192.0.2.1"
    assert len(display_name({"type": "note", "content": "x" * 500})) == 120
