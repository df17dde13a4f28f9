"""CSV of indicators → one STIX ``indicator`` per row, created by this node.

A CSV is the lowest common denominator between CERTs: ``value[,type][,comment]``, an
optional ``value,type,comment`` header, ``#`` comment lines. Every row becomes an indicator
that *this node* asserts (``created_by_ref`` is the node's identity), because a bare value
carries no producer of its own.

Indicator ids are deterministic (``uuid5`` over :data:`ACCORD_NAMESPACE`, the node identity,
the observable kind and its normalised value): importing the same list twice names the same
indicators, so the importer can recognise a content-equal re-import instead of piling up
copies, and the free-text reader mints the very same id for the same value.

The file is streamed line by line, so a million-row feed costs memory only for the
duplicate check (one short entry per distinct value).
"""

from __future__ import annotations

import csv
import ipaddress
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from accord.ingest.context import ImportContext, ReaderResult
from accord.model.errors import InputError
from accord.model.observables import (
    Observable,
    classify,
    normalize_domain,
    normalize_email,
    normalize_hash,
    normalize_ip,
    normalize_url,
    pattern_for,
)

# Never change this value: every deterministic id accord mints depends on it.
ACCORD_NAMESPACE = uuid.UUID("5b0c1a4e-8f0d-4c7e-9a55-6c0f2d1e7a31")

TYPES = (
    "ip",
    "ipv4",
    "ipv6",
    "cidr",
    "domain",
    "hostname",
    "url",
    "email",
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "hash",
)
_HEADER = ("value", "type", "comment")
_BOM = "\ufeff"

_NAME_LABELS = {
    "ipv4": "IP",
    "ipv6": "IP",
    "ipv4-net": "network",
    "ipv6-net": "network",
    "domain": "domain",
    "url": "URL",
    "email": "email address",
    "md5": "file MD5",
    "sha1": "file SHA-1",
    "sha256": "file SHA-256",
    "sha512": "file SHA-512",
}


def deterministic_id(obj_type: str, *parts: str) -> str:
    """``obj_type--uuid5(accord namespace, parts joined by '|')``: same parts, same id."""
    return f"{obj_type}--{uuid.uuid5(ACCORD_NAMESPACE, '|'.join(parts))}"


def indicator_id(identity_id: str, observable: Observable) -> str:
    return deterministic_id("indicator", identity_id, observable.kind, observable.value)


def build_indicator(
    observable: Observable,
    original: str,
    ctx: ImportContext,
    description: str | None = None,
) -> dict[str, Any]:
    """The indicator this node asserts for one value.

    ``original`` is the producer's spelling, kept in the pattern; a URL written without a
    scheme is patterned from its normalised form, because a STIX ``url`` value is a full URL.
    """
    spelled: str | None = original.strip()
    if observable.kind == "url" and "://" not in (spelled or ""):
        spelled = None
    shown = observable.value if observable.kind != "url" else (spelled or observable.value)
    indicator: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": indicator_id(ctx.identity_id, observable),
        "created_by_ref": ctx.identity_id,
        "created": ctx.timestamp,
        "modified": ctx.timestamp,
        "name": f"Malicious {_NAME_LABELS[observable.kind]} {shown}",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern_for(observable, spelled),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": ctx.timestamp,
    }
    if description:
        indicator["description"] = description
    markings = ctx.marking_refs()
    if markings:
        indicator["object_marking_refs"] = markings
    return indicator


def parse_typed(value: str, type_name: str) -> Observable:
    """Check ``value`` against a CSV type name and normalise it; ``ValueError`` if it is not."""
    kind = type_name.strip().lower()
    text = value.strip()
    if kind == "":
        return classify(text)
    if kind in ("ip", "ipv4", "ipv6"):
        found = normalize_ip(text)
        if found.is_network:
            raise ValueError("a network, not one address (use the type 'cidr')")
        if kind != "ip" and found.kind != kind:
            raise ValueError(f"an {found.kind} address, not {kind}")
        return found
    if kind == "cidr":
        if "/" not in text:
            raise ValueError("no '/prefix' length")
        return normalize_ip(text)
    if kind in ("domain", "hostname"):
        if _is_ip(text):
            raise ValueError("an IP address, not a domain name")
        return Observable("domain", normalize_domain(text))
    if kind == "url":
        return Observable("url", normalize_url(text))
    if kind == "email":
        return Observable("email", normalize_email(text))
    if kind in ("md5", "sha1", "sha256", "sha512"):
        return normalize_hash(text, kind)
    if kind == "hash":
        return normalize_hash(text)
    raise ValueError(f"unknown type {type_name.strip()!r} (choose {', '.join(TYPES)})")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_DEFANG_HINT = " (it looks defanged: a CSV states values, so write it plainly)"


def _looks_defanged(value: str) -> bool:
    lowered = value.lower()
    return "hxxp" in lowered or any(mark in lowered for mark in ("[.]", "(.)", "[dot]", "[@]"))


class _Lines:
    """Decoded lines of a file read as bytes, with the line number and byte offset kept,
    so that a non-UTF-8 byte is reported where it is and the CSV module never sees
    comment lines (an apostrophe or quote in a comment must not open a quoted field)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self.number = 0
        self.offset = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._handle:
            self.number += 1
            start = self.offset
            self.offset += len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"line {self.number}",
                    f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset "
                    f"{start + exc.start} of the file (save the file as UTF-8)",
                ) from None
            if self.number == 1 and text.startswith(_BOM):
                text = text[1:]
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            yield text


def _rows(lines: _Lines) -> Iterator[list[str]]:
    # strict: a quote left open is an error, not a field that swallows every later row
    reader = csv.reader(lines, strict=True)
    while True:
        start = lines.number + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            where = f"line {lines.number}"
            if str(exc) == "unexpected end of data":
                raise InputError(
                    f"line {start}",
                    "malformed CSV: a quote opened in this row (or a later one) is never closed",
                ) from None
            raise InputError(where, f"malformed CSV: {exc}") from None
        yield row


def read_csv(path: Path, ctx: ImportContext) -> ReaderResult:
    """Yield ``("line N", indicator)`` for each data row of a CSV of indicators.

    A value repeated later with the same comment is skipped (same id, same content); repeated
    with a different comment it is refused, because one import cannot state two versions of
    one indicator at the same instant.
    """
    seen: dict[str, tuple[int, str]] = {}
    with path.open("rb") as handle:
        lines = _Lines(handle)
        first_row = True
        for row in _rows(lines):
            line = lines.number
            place = f"line {line}"
            cells = [cell.strip() for cell in row]
            if first_row:
                first_row = False
                if tuple(c.lower() for c in cells) == _HEADER[: len(cells)]:
                    continue
            if not 1 <= len(cells) <= 3:
                raise InputError(
                    place, f"expected value[,type][,comment], got {len(cells)} columns"
                )
            value = cells[0]
            type_name = cells[1] if len(cells) > 1 else ""
            comment = cells[2] if len(cells) > 2 else ""
            if not value:
                raise InputError(place, "empty value")
            if type_name and type_name.lower() not in TYPES:
                raise InputError(place, f"unknown type {type_name!r} (choose {', '.join(TYPES)})")
            try:
                observable = parse_typed(value, type_name)
            except ValueError as exc:
                what = f"a valid {type_name.lower()}" if type_name else "a recognisable indicator"
                hint = _DEFANG_HINT if _looks_defanged(value) else ""
                raise InputError(place, f"{value!r} is not {what}: {exc}{hint}") from None
            indicator = build_indicator(observable, value, ctx, comment or None)
            earlier = seen.get(indicator["id"])
            if earlier is not None:
                if earlier[1] == comment:
                    continue
                raise InputError(
                    place,
                    f"{observable.value} is already on line {earlier[0]} with a different "
                    "comment; merge the two rows",
                )
            seen[indicator["id"]] = (line, comment)
            yield place, indicator
