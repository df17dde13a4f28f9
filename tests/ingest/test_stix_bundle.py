"""The streaming STIX reader: bundles, lists, single objects, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accord.ingest.context import ImportContext
from accord.ingest.stix_bundle import HEAD_BYTES, read_stix, sniff
from accord.model.errors import InputError
from tests.store.stix_helpers import RCERT, load_objects, malware

CTX = ImportContext(identity_id=RCERT, source_name="test")


def _read(tmp_path: Path, data: bytes | str) -> list[tuple[str, dict[str, Any]]]:
    path = tmp_path / "in.json"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return list(read_stix(path, CTX))


def _assert_refused(tmp_path: Path, data: bytes | str) -> InputError:
    with pytest.raises(InputError) as info:
        _read(tmp_path, data)
    return info.value


def test_bundle_objects_are_yielded_in_order_with_their_index(tmp_path: Path) -> None:
    objs = load_objects("all_types.json")
    text = json.dumps({"type": "bundle", "id": "bundle--x", "objects": objs})
    got = _read(tmp_path, text)
    assert [place for place, _ in got] == [f"object {i}" for i in range(len(objs))]
    assert [obj for _, obj in got] == objs  # numbers and unicode unchanged


def test_objects_key_may_come_first_and_nested_objects_keys_are_ignored(tmp_path: Path) -> None:
    obj = malware()
    text = json.dumps({"objects": [obj], "x_meta": {"objects": [1, 2]}, "type": "bundle"})
    assert _read(tmp_path, text) == [("object 0", obj)]


def test_list_and_single_object(tmp_path: Path) -> None:
    a, b = malware(), malware()
    assert _read(tmp_path, json.dumps([a, b])) == [("object 0", a), ("object 1", b)]
    assert _read(tmp_path, "\n  " + json.dumps(a)) == [("object 0", a)]


def test_bundle_head_beyond_the_sniffed_bytes(tmp_path: Path) -> None:
    obj = malware(description="x" * (HEAD_BYTES * 2))
    assert _read(tmp_path, json.dumps({"type": "bundle", "objects": [obj]})) == [("object 0", obj)]


def test_objects_beyond_the_head_stream_through_ijson(tmp_path: Path) -> None:
    """A property larger than the sniffed head before ``objects``: the slower path."""
    objs = [malware(), malware()]
    text = json.dumps({"type": "bundle", "x_note": "n" * HEAD_BYTES, "objects": objs})
    assert _read(tmp_path, text) == [("object 0", objs[0]), ("object 1", objs[1])]
    error = _assert_refused(tmp_path, text[:-30])
    assert error.place == "object 1"


def test_text_after_the_objects_is_checked(tmp_path: Path) -> None:
    obj = malware()
    ok = json.dumps({"type": "bundle", "objects": [obj], "id": "bundle--x"})
    assert _read(tmp_path, ok) == [("object 0", obj)]
    error = _assert_refused(tmp_path, ok[:-2])
    assert error.place == "object 1"
    assert "truncated or malformed JSON after 1 complete objects" in error.reason


def test_floats_and_big_numbers_survive(tmp_path: Path) -> None:
    obj = malware(x_score=0.1, x_ratio=1e-7, x_count=2**53 + 1, x_neg=-0.0, x_exp=12.5e3)
    ((_, got),) = _read(tmp_path, json.dumps({"type": "bundle", "objects": [obj]}))
    assert got == obj
    assert json.dumps(got) == json.dumps(obj)


def test_truncated_bundle_names_the_object(tmp_path: Path) -> None:
    text = json.dumps({"type": "bundle", "objects": [malware(), malware(), malware()]})
    error = _assert_refused(tmp_path, text[: len(text) - 40])
    assert error.place == "object 2"
    assert "truncated or malformed JSON after 2 complete objects" in error.reason


def test_truncated_single_object(tmp_path: Path) -> None:
    error = _assert_refused(tmp_path, json.dumps(malware())[:-10])
    assert error.place == "object 0"
    assert error.reason.startswith("invalid JSON")


def test_trailing_garbage_is_refused(tmp_path: Path) -> None:
    error = _assert_refused(tmp_path, json.dumps({"type": "bundle", "objects": [malware()]}) + " x")
    assert "malformed JSON" in error.reason


@pytest.mark.parametrize("data", [b"", b"hello", b"   ", b"\x00\x01"])
def test_not_json(tmp_path: Path, data: bytes) -> None:
    error = _assert_refused(tmp_path, data)
    assert error.reason == "not STIX JSON: expected a bundle, a list of objects or an object"


def test_stix_20_bundle_is_refused(tmp_path: Path) -> None:
    text = json.dumps({"type": "bundle", "spec_version": "2.0", "id": "b", "objects": []})
    error = _assert_refused(tmp_path, text)
    assert error.place == "bundle"
    assert "STIX 2.0 bundle (spec_version '2.0')" in error.reason
    assert "convert it to 2.1 first" in error.reason


def test_top_level_type_other_than_bundle_is_refused(tmp_path: Path) -> None:
    error = _assert_refused(tmp_path, json.dumps({"type": "collection", "objects": [malware()]}))
    assert error.reason == "top-level 'type' is 'collection', not 'bundle'"


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    data = b'{"type": "bundle", "objects": [{"type": "malware", "name": "\xff\xfe"}]}'
    error = _assert_refused(tmp_path, data)
    assert error.place == "object 0"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    obj = malware()
    data = b"\xef\xbb\xbf" + json.dumps({"type": "bundle", "objects": [obj]}).encode()
    assert _read(tmp_path, data) == [("object 0", obj)]


def test_objects_that_is_not_an_array_is_refused(tmp_path: Path) -> None:
    error = _assert_refused(tmp_path, json.dumps({"type": "bundle", "objects": {"a": malware()}}))
    assert "'objects' must be an array" in str(error)


def test_sniff() -> None:
    assert sniff(b'{"type": "bundle", "id": "bundle--1", "objects": []}')
    assert sniff(b'{"objects": [')
    assert sniff(b'  {"type": "indicator", "id": "indicator--1"}')
    assert sniff(b'[{"type": "indicator", "spec_version": "2.1"}]')
    assert not sniff(b'{"Event": {"info": "x"}}')
    assert not sniff(b"value,type\n1.2.3.4,ip\n")
    assert not sniff(b"")
