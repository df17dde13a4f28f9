"""Streaming reader for STIX 2.1 JSON: a bundle, a bare list of objects, or one object.

A bundle of any size is read a chunk at a time (see :mod:`accord.ingest.stix_scan`), so a
1 GB file needs memory for a chunk of objects, not for the file. The top-level keys that
come before the ``objects`` array are read from the head of the file to recognise STIX 2.0
bundles.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from accord.ingest.context import ImportContext, Located
from accord.ingest.stix_scan import (
    ArrayScanner,
    Segment,
    array_start,
    check_document,
    segment_objects,
)
from accord.model.errors import InputError

HEAD_BYTES = 1 << 16
_IJSON_RUN = 500


def _first_char(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return chr(text[0]) if text else ""


def _head_keys(head: bytes) -> dict[str, Any]:
    """Top-level scalar keys that appear before the ``objects`` array in the head."""
    found: dict[str, Any] = {}
    try:
        for prefix, event, value in ijson.parse(head):
            if prefix in ("type", "spec_version", "id") and event in ("string", "number"):
                found[prefix] = value
            elif prefix == "objects" and event == "start_array":
                found["__objects__"] = True
                break
            elif prefix == "objects" and event not in ("map_key",):
                found["__objects_not_array__"] = event
                break
    except ijson.common.IncompleteJSONError:
        pass
    except ijson.JSONError:
        pass
    return found


def sniff(head: bytes) -> bool:
    """Does the head of a file look like STIX JSON?"""
    first = _first_char(head)
    if first == "[":
        return b'"spec_version"' in head or b'"type"' in head
    if first != "{":
        return False
    keys = _head_keys(head)
    if keys.get("__objects__") or keys.get("type") == "bundle":
        return True
    return isinstance(keys.get("type"), str) and isinstance(keys.get("id"), str)


def read_stix(path: Path, ctx: ImportContext, stream: IO[bytes] | None = None) -> Iterator[Located]:
    """Yield ``("object N", obj)`` for every object of a STIX document.

    ``stream`` lets the importer pass a counting file object for its progress bar.
    """
    for segment in read_stix_segments(path, stream):
        for offset, obj in enumerate(segment_objects(segment)):
            yield f"object {segment.first + offset}", obj


def read_stix_segments(path: Path, stream: IO[bytes] | None = None) -> Iterator[Segment]:
    """The objects of a STIX document in file order, as :class:`Segment` runs.

    A bundle's (or a bare list's) array is split by :class:`ArrayScanner`; the document
    around it is checked once the array has been read, so a file truncated after its
    last object is still refused whole. Bundles whose ``objects`` key lies beyond the
    first 64 KB stream through ijson instead.
    """
    handle = stream if stream is not None else path.open("rb")
    try:
        head = handle.read(HEAD_BYTES)
        skip = 3 if head.startswith(b"\xef\xbb\xbf") else 0  # a UTF-8 byte order mark
        head = head[skip:]
        handle.seek(skip)
        first = _first_char(head)
        if first == "{":
            keys = _head_keys(head)
            if "__objects_not_array__" in keys:
                raise InputError("bundle", "'objects' must be an array of STIX objects")
            if keys.get("__objects__") or keys.get("type") == "bundle":
                if keys.get("type") not in (None, "bundle"):
                    raise InputError("", f"top-level 'type' is {keys['type']!r}, not 'bundle'")
                if keys.get("spec_version") == "2.0":
                    raise InputError(
                        "bundle",
                        "this is a STIX 2.0 bundle (spec_version '2.0'); accord stores STIX 2.1 "
                        "only: convert it to 2.1 first, keeping the producer's ids",
                    )
                start = array_start(head) if keys.get("__objects__") else None
                if start is None:
                    yield from _item_segments(handle, "objects.item")
                else:
                    yield from _scan(handle, head[:start], skip + start + 1)
                return
            # A single object: small by nature, parse it whole. Its text travels with it, so
            # that an integer beyond 64 bits is read exactly (and refused by name) instead
            # of being rounded to a float by orjson.
            raw = handle.read()
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError("object 0", f"invalid JSON: {exc}") from None
            yield Segment(0, raw.strip().removeprefix(b"\xef\xbb\xbf"), [obj])
            return
        if first == "[":
            start = head.index(b"[")
            yield from _scan(handle, head[:start], skip + start + 1)
            return
        raise InputError("", "not STIX JSON: expected a bundle, a list of objects or an object")
    finally:
        if stream is None:
            handle.close()


def _scan(handle: IO[bytes], prefix: bytes, offset: int) -> Iterator[Segment]:
    handle.seek(offset)
    scanner = ArrayScanner(handle)
    yield from scanner.segments()
    check_document(prefix, scanner.tail, scanner.index)


def _item_segments(handle: IO[bytes], prefix: str) -> Iterator[Segment]:
    """ijson's stream, for the rare bundle the scanner does not take, in small runs."""
    run: list[Any] = []
    first = 0
    for _place, obj in _items(handle, prefix):
        run.append(obj)
        if len(run) >= _IJSON_RUN:
            yield Segment(first, None, run)
            first += len(run)
            run = []
    if run:
        yield Segment(first, None, run)


def _items(handle: IO[bytes], prefix: str) -> Iterator[Located]:
    index = 0
    try:
        for obj in ijson.items(handle, prefix, use_float=True):
            yield f"object {index}", obj
            index += 1
    except ijson.common.IncompleteJSONError as exc:
        raise InputError(
            f"object {index}",
            f"truncated or malformed JSON after {index} complete objects ({_first_line(exc)})",
        ) from None
    except ijson.JSONError as exc:
        raise InputError(f"object {index}", f"malformed JSON ({_first_line(exc)})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"object {index}", f"not UTF-8: {exc}") from None


def _first_line(exc: Exception) -> str:
    """yajl's messages draw an arrow over several lines; the first line says what."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
