"""The chunked array scanner: same objects as a whole-document parse, same refusals."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest

from accord.ingest.stix_scan import (
    ArrayScanner,
    Segment,
    array_start,
    parse_segment,
    segment_objects,
)
from accord.model.errors import InputError


def _scan(text: bytes, chunk: int) -> tuple[list[Any], list[Segment], bytes]:
    start = text.index(b"[")
    handle = io.BytesIO(text)
    handle.seek(start + 1)
    scanner = ArrayScanner(handle, chunk=chunk)
    segments = list(scanner.segments())
    objects = [obj for segment in segments for obj in segment_objects(segment)]
    return objects, segments, scanner.tail


def _tricky_objects(rng: random.Random, n: int) -> list[Any]:
    """Objects whose text holds ``}``, ``},`` and ``]`` inside strings and nested values."""
    out: list[Any] = []
    for i in range(n):
        obj: dict[str, Any] = {"type": "malware", "id": f"malware--{i}", "n": i}
        if rng.random() < 0.3:
            obj["description"] = 'braces }, ] and }] inside a "string" }' * rng.randint(1, 3)
        if rng.random() < 0.3:
            obj["external_references"] = [
                {"source_name": f"s{j}", "x": {"deep": [{"a": j}, {"b": "}"}]}}
                for j in range(rng.randint(1, 4))
            ]
        if rng.random() < 0.1:
            obj["x_unicode"] = "é ü 漢字 🙂"
        out.append(obj)
    return out


@pytest.mark.parametrize("chunk", [7, 64, 1000, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_objects_equal_a_whole_parse(chunk: int, indent: int | None) -> None:
    objs = _tricky_objects(random.Random(chunk), 60)
    text = json.dumps({"type": "bundle", "objects": objs}, indent=indent).encode()
    got, segments, tail = _scan(text, chunk)
    assert got == objs
    assert [s.first for s in segments] == [
        sum(len(s.objects) for s in segments[:k]) for k in range(len(segments))
    ]
    assert all(parse_segment(s) == s.objects for s in segments)
    assert tail.strip() == b"}"  # what follows the array, for the caller to check


def test_large_chunks_take_many_objects_per_parse() -> None:
    objs = _tricky_objects(random.Random(1), 500)
    _, segments, _ = _scan(json.dumps(objs).encode(), 1 << 20)
    assert len(segments) == 1 and segments[0].data is not None


def test_non_object_items_are_returned_for_validation_to_refuse() -> None:
    got, _, _ = _scan(b'[1, "x", [1, 2], {"a": [3]}, null]', 4)
    assert got == [1, "x", [1, 2], {"a": [3]}, None]


def test_integers_beyond_64_bits_stay_exact() -> None:
    objs = [{"a": 1}, {"x_big": 2**70, "x_neg": -(2**65)}, {"b": 2}]
    got, segments, _ = _scan(json.dumps(objs).encode(), 1 << 20)
    assert got == objs and isinstance(got[1]["x_big"], int)
    assert [obj for s in segments for obj in parse_segment(s)] == objs


@pytest.mark.parametrize("chunk", [5, 1 << 20])
def test_truncation_anywhere_names_the_first_incomplete_object(chunk: int) -> None:
    objs = _tricky_objects(random.Random(5), 6)
    text = json.dumps(objs).encode()
    ends = [len(json.dumps(objs[: k + 1])) - 1 for k in range(len(objs))]  # after each object
    for cut in range(2, len(text) - 1, 7):
        complete = sum(1 for end in ends if end <= cut)
        with pytest.raises(InputError) as info:
            _scan(text[:cut], chunk)
        assert info.value.place == f"object {complete}", cut
        assert f"truncated or malformed JSON after {complete} complete objects" in (
            info.value.reason
        ), cut


@pytest.mark.parametrize(
    ("text", "index", "reason"),
    [
        (b'[{"a": 1}, {"b": 2,}, {"c": 3}]', 1, "malformed JSON (trailing comma"),
        (b'[{"a": 1}, {"b": tru}]', 1, "malformed JSON"),
        (b'[{"a": 1}, {"b": 1} {"c": 2}]', 1, "malformed JSON"),
        (b'[{"a": 1},]', 1, "malformed JSON (a comma before ']')"),
        (b'[{"a": 1}, {"b": "\xff"}]', 1, "not UTF-8"),
        (b'[{"a": 1}, {"b": NaN}]', 1, "malformed JSON"),
    ],
)
def test_malformed_objects_are_named(text: bytes, index: int, reason: str) -> None:
    for chunk in (3, 1 << 20):
        with pytest.raises(InputError) as info:
            _scan(text, chunk)
        assert info.value.place == f"object {index}"
        assert info.value.reason.startswith(reason), info.value.reason


def test_array_start() -> None:
    for head in (
        b'{"type": "bundle", "objects": [',
        b'{"x_meta": {"objects": [1]}, "objects" : [ {',
        b'{"id": "a\\"objects\\"", "objects": [',
    ):
        assert array_start(head) == head.rindex(b"["), head
    assert array_start(b'{"type": "bundle", "id": "bundle--') is None
    assert array_start(b'{"objects": {"a": [') is None
