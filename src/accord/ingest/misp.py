"""MISP event JSON → STIX 2.1, converted by misp-stix and then fitted to accord's rules.

**Why misp-stix:** it is MISP's own maintained converter (CIRCL). It maps some 190 attribute
types, MISP objects, galaxies, sightings and analyst data; a hand mapping would cover a
fraction of that and drift from MISP. Its output is kept — attribute types and categories
as labels, tags as labels, ``to_ids`` attributes as indicators (every attribute also as
observed data with its SCOs, linked by ``based-on``) — except where accord needs more:

* **Validation first.** misp-stix is lenient: it logs and skips an attribute pymisp cannot
  load (unknown type, no value, an ``ip-dst`` that is no IP) and pymisp invents a uuid for an
  event without one. accord refuses the file instead and names the event or attribute: a
  silently shortened import is worse than a refused one.
* **Creator.** Every SDO and SRO is stated by the event's creator organisation (``Orgc``);
  misp-stix leaves galaxy objects and relationships without ``created_by_ref``, and they get
  the Orgc identity, never this node's. An event without a usable ``Orgc`` is refused.
* **Galaxy clusters are the creator's objects.** Their ids are minted from (creator, cluster):
  an ATT&CK cluster's uuid is MITRE's own STIX id, and restating it under another creator
  would clash with the ATT&CK knowledge base (only a creator may version its object). The
  external ids (T1566.001, S0002) stay in ``external_references``, which is how attribution
  joins them. Threat-actor clusters become ``intrusion-set``: MISP's threat actors are
  groups, which ATT&CK and accord model as intrusion sets.
* **TLP.** ``tlp:*`` tags (any case; ``white`` is CLEAR) become the TLP 2.0 markings of
  :mod:`accord.model.tlp`, replacing the TLP 1.0 ids misp-stix emits, and the standard
  marking-definition objects are included. An event's TLP bounds everything in it: an
  object gets the most restrictive of its own tag and the event's, so an attribute may
  tighten but never loosen it. SCOs, which misp-stix leaves unmarked, get the level of the
  observed data holding them, and a relationship at least the level of both its ends, so
  that a RED value can never travel at the node's default level.
* **Versions.** An object whose marking comes from the event rather than its own tags is
  versioned at the event's ``timestamp`` (MISP moves it on every change, re-tagging
  included), so a re-tagged event yields new versions instead of a conflicting restatement
  of the stored ones. SCOs are not versioned, so the marking is part of their id.
* **Value patterns.** ``ip-src``/``ip-dst`` indicators come out as
  ``[network-traffic:dst_ref.type = … AND …value = '…']``, which the store cannot index by
  value; they are written ``[ipv4-addr:value = '…']`` so the retro-hunt finds them. The
  attribute type stays in the labels (``misp:type="ip-dst"``). Abbreviated registry hives
  (``HKLM\\…``), which STIX forbids in ``windows-registry-key``, are written in full.
* **Sightings** in the export are stated by the event's creator too (it is their report
  of who saw what), at least at the level of what was sighted.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from accord.ingest.context import ImportContext, ReaderResult
from accord.ingest.csv_indicators import deterministic_id
from accord.model.errors import InputError
from accord.model.observables import (
    normalize_domain,
    normalize_email,
    normalize_hash,
    normalize_ip,
    normalize_url,
)
from accord.model.stix import SCO_TYPES
from accord.model.timestamps import parse_stix_timestamp, stix_micros
from accord.model.tlp import (
    MARKING_LEVEL,
    TLP,
    TLP2_IDS,
    level_of_markings,
    marking_definition,
)

_BOM = b"\xef\xbb\xbf"
_TLP_TAG = re.compile(r"^\s*tlp\s*:", re.I)
_TLP_TAG_NAMES = {
    TLP.CLEAR: "tlp:clear",
    TLP.GREEN: "tlp:green",
    TLP.AMBER: "tlp:amber",
    TLP.AMBER_STRICT: "tlp:amber+strict",
    TLP.RED: "tlp:red",
}
_THREAT_ACTOR_ONLY = ("threat_actor_types", "roles", "sophistication", "personal_motivations")
_IP_PATTERN = re.compile(
    r"^\[network-traffic:(src|dst)_ref\.type = '(ipv4|ipv6)-addr' AND "
    r"network-traffic:\1_ref\.value = '([^'\\]+)'\]$"
)
_HIVES = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKU": "HKEY_USERS",
    "HKCC": "HKEY_CURRENT_CONFIG",
}
_SNIFF = re.compile(rb'^\s*(?:\[\s*)?\{\s*"(?:Event|response)"\s*:\s*[\[{]')
_BUNDLE = re.compile(rb'"type"\s*:\s*"bundle"')

# When a MISP organisation first existed is unknown; one fixed, early value stands for it.
ORGANISATION_CREATED = "2000-01-01T00:00:00.000Z"


def sniff(head: bytes) -> bool:
    """Whether the first bytes of a file look like MISP event JSON (``--format auto``).

    The wrapped forms start with ``{"Event": {`` / ``{"response": [`` (possibly in a list);
    a bare event is recognised by MISP-only keys, and a STIX bundle is never taken for one.
    """
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    if _SNIFF.match(head):
        return True
    stripped = head.lstrip()
    if not stripped.startswith((b"{", b"[")) or _BUNDLE.search(head):
        return False
    return b'"threat_level_id"' in head or (b'"Orgc"' in head and b'"Attribute"' in head)


def read_misp(path: Path, ctx: ImportContext) -> ReaderResult:
    """Yield ``(place, object)`` for every STIX object of every event in a MISP JSON file.

    The standard TLP marking definitions in use come first (place ``"TLP marking"``). An
    object stated identically by two events of the file (the creator's identity, a shared
    galaxy cluster at the same timestamp) is yielded once, at the stricter of their levels.
    """
    events = _events(_load_json(path))
    merged: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for number, raw_event in enumerate(events, 1):
        for place, obj in _converted(number, raw_event):
            key = (obj["id"], obj.get("modified", ""))
            if key in merged:
                _merge_levels(merged[key][1], obj)
            else:
                merged[key] = (place, obj)
    levels = sorted(
        {
            level
            for _, obj in merged.values()
            if (level := level_of_markings(obj.get("object_marking_refs") or [])) is not None
        }
    )
    for level in levels:
        yield "TLP marking", marking_definition(level)
    yield from merged.values()


# What misp-stix (and pymisp under it) raise on content they did not expect: a galaxy
# ``meta`` that is not an object, a number where a string was assumed, a date they cannot
# read. Any of them means this event cannot be converted faithfully.
_CONVERSION_FAILURES = (ValueError, TypeError, AttributeError, KeyError, OverflowError)


def _converted(number: int, raw_event: Any) -> list[tuple[str, dict[str, Any]]]:
    """The event's STIX objects with their places; a conversion failure is an
    :class:`InputError` naming the event, never a traceback."""
    try:
        prepared = _prepare(number, raw_event)
        return list(_adapt(prepared, _convert(prepared)))
    except InputError:
        raise
    except _CONVERSION_FAILURES as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise InputError(f"event {number}", f"cannot convert it: {reason}") from None


# --- reading and checking the input --------------------------------------------------------


def _load_json(path: Path) -> Any:
    raw = path.read_bytes()
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"line {line}",
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start}",
        ) from None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"line {exc.lineno} column {exc.colno}", f"not JSON: {exc.msg}") from None


def _events(data: Any) -> list[Any]:
    """The events of the three accepted shapes: one event, a list, a REST response."""
    if isinstance(data, Mapping) and "response" in data:
        data = data["response"]
        if not isinstance(data, list):
            raise InputError(
                "response",
                "attribute or object search results carry no event and no creator "
                "organisation; export whole events",
            )
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list) or not all(_looks_like_event(item) for item in data):
        raise InputError(
            "",
            'not MISP event JSON: expected {"Event": …}, a list of events or {"response": […]}',
        )
    if not data:
        raise InputError("", "no MISP event in the file")
    return data


def _looks_like_event(item: Any) -> bool:
    """Wrapped (``{"Event": …}``) or bare: a bare event has MISP's own top-level keys."""
    return isinstance(item, Mapping) and any(
        key in item for key in ("Event", "info", "Orgc", "Attribute", "Object")
    )


@dataclass
class _Prepared:
    """One event, checked and ready for misp-stix, with where each of its parts came from."""

    number: int
    uuid: str
    creator: str
    event: dict[str, Any]
    places: dict[str, str] = field(default_factory=dict)
    clusters: set[str] = field(default_factory=set)

    @property
    def place(self) -> str:
        return f"event {self.number}"


def _valid_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _prepare(number: int, item: Mapping[str, Any]) -> _Prepared:
    place = f"event {number}"
    raw = item.get("Event", item)
    if not isinstance(raw, Mapping):
        raise InputError(place, "'Event' is not an object")
    if not _valid_uuid(raw.get("uuid")):
        raise InputError(place, f"missing or invalid 'uuid': {raw.get('uuid')!r}")
    orgc = raw.get("Orgc")
    if (
        not isinstance(orgc, Mapping)
        or not _valid_uuid(orgc.get("uuid"))
        or not isinstance(orgc.get("name"), str)
        or not orgc["name"].strip()
    ):
        raise InputError(
            place,
            "no creator organisation ('Orgc' with 'uuid' and 'name'): accord records who "
            "stated each object and will not state it on this node's behalf",
        )
    event = copy.deepcopy(dict(raw))
    event["timestamp"] = str(_event_epoch(place, event))
    prepared = _Prepared(number, event["uuid"], f"identity--{orgc['uuid']}", event)
    _check_tags(place, event)
    _check_galaxies(place, event, prepared)
    for index, attribute in enumerate(_list(place, event, "Attribute"), 1):
        _check_attribute(f"{place} attribute {index}", attribute, event["timestamp"], prepared)
    for index, misp_object in enumerate(_list(place, event, "Object"), 1):
        where = f"{place} object {index}"
        if not isinstance(misp_object, dict) or not _valid_uuid(misp_object.get("uuid")):
            raise InputError(where, "not a MISP object with a valid 'uuid'")
        if not isinstance(misp_object.get("name"), str):
            raise InputError(where, "MISP object without a 'name'")
        misp_object.setdefault("timestamp", event["timestamp"])
        prepared.places[misp_object["uuid"]] = where
        _check_tags(where, misp_object)
        for sub, attribute in enumerate(_list(where, misp_object, "Attribute"), 1):
            _check_attribute(
                f"{where} attribute {sub}", attribute, misp_object["timestamp"], prepared
            )
    return prepared


def _event_epoch(place: str, event: Mapping[str, Any]) -> int:
    """The event's modification time; ``date`` (midnight UTC) when ``timestamp`` is absent."""
    stamp = event.get("timestamp")
    if isinstance(stamp, int) or (isinstance(stamp, str) and stamp.isascii() and stamp.isdigit()):
        return int(stamp)
    if stamp is not None:  # a timestamp that is not one: not silently replaced by the date
        raise InputError(place, f"'timestamp' must be epoch seconds, got {str(stamp)[:40]!r}")
    date = event.get("date")
    if isinstance(date, str):
        try:
            return int(datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp())
        except ValueError:
            pass
    raise InputError(place, "neither a 'timestamp' nor a 'date' (YYYY-MM-DD) to date it by")


def _list(place: str, container: Mapping[str, Any], key: str) -> list[Any]:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(place, f"'{key}' must be a list")
    return value


def _check_tags(place: str, container: dict[str, Any]) -> None:
    """Tags must be named; TLP tags are rewritten in the one spelling misp-stix maps."""
    for tag in _list(place, container, "Tag"):
        if not isinstance(tag, dict) or not isinstance(tag.get("name"), str):
            raise InputError(place, f"a tag without a name: {tag!r}")
        if _TLP_TAG.match(tag["name"]):
            # tlp:ex:chr and other community tags are no TLP level: they stay plain labels.
            with contextlib.suppress(ValueError):
                tag["name"] = _TLP_TAG_NAMES[TLP.parse(tag["name"])]


def _check_galaxies(place: str, container: Mapping[str, Any], prepared: _Prepared) -> None:
    for g, galaxy in enumerate(_list(place, container, "Galaxy"), 1):
        where = f"{place} galaxy {g}"
        if not isinstance(galaxy, Mapping) or not isinstance(galaxy.get("type"), str):
            raise InputError(where, "a galaxy without a 'type'")
        for c, cluster in enumerate(_list(where, galaxy, "GalaxyCluster"), 1):
            spot = f"{where} cluster {c}"
            if not isinstance(cluster, Mapping) or not _valid_uuid(cluster.get("uuid")):
                raise InputError(spot, "a galaxy cluster without a valid 'uuid'")
            if not isinstance(cluster.get("value"), str) or not cluster["value"].strip():
                raise InputError(spot, "a galaxy cluster without a 'value'")
            prepared.places.setdefault(cluster["uuid"], spot)
            prepared.clusters.add(cluster["uuid"])


def _check_value(misp_type: str, value: str) -> None:
    """Raise ``ValueError`` when a value does not fit its (common, indexable) MISP type."""
    base, _, second = misp_type.partition("|")
    if second:
        left, sep, right = value.partition("|")
        if not sep:
            raise ValueError(f"a composite '{misp_type}' value needs 'a|b'")
        if base == "filename":
            _check_value(second, right)
        elif base == "domain" and second == "ip":
            normalize_domain(left)
            normalize_ip(right)
        elif second == "port":
            _check_value(base, left)
        return
    if misp_type in ("ip-src", "ip-dst"):
        normalize_ip(value)
    elif misp_type in ("domain", "hostname"):
        normalize_domain(value)
    elif misp_type == "url":
        normalize_url(value)
    elif misp_type in ("email", "email-src", "email-dst"):
        normalize_email(value)
    elif misp_type in ("md5", "sha1", "sha256", "sha512"):
        normalize_hash(value, misp_type)


def _check_attribute(place: str, attribute: Any, timestamp: str, prepared: _Prepared) -> None:
    if not isinstance(attribute, dict):
        raise InputError(place, "an attribute must be a JSON object")
    if not _valid_uuid(attribute.get("uuid")):
        raise InputError(place, f"missing or invalid 'uuid': {attribute.get('uuid')!r}")
    misp_type = attribute.get("type")
    if not isinstance(misp_type, str) or misp_type not in _known_types():
        raise InputError(place, f"unknown MISP attribute type {misp_type!r}")
    value = attribute.get("value")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
        raise InputError(place, f"{misp_type} attribute without a value")
    try:
        _check_value(misp_type, str(value))
    except ValueError as exc:
        raise InputError(place, f"{misp_type} value {value!r} is not valid: {exc}") from None
    attribute.setdefault("timestamp", timestamp)
    prepared.places[attribute["uuid"]] = place
    _check_tags(place, attribute)
    _check_galaxies(place, attribute, prepared)


# --- conversion and adaptation ------------------------------------------------------------


_QUOTED_UUID = re.compile(r"<([0-9a-fA-F-]{36})>")


# misp-stix (with the STIX 1 libraries it loads) takes seconds to import: it is imported on
# first use, so that sniffing a file for ``--format auto`` stays instant.


@functools.cache
def _known_types() -> frozenset[str]:
    from pymisp import MISPAttribute

    return frozenset(MISPAttribute().known_types)


def _convert(prepared: _Prepared) -> list[dict[str, Any]]:
    from misp_stix_converter import MISPtoSTIX21Parser

    parser = MISPtoSTIX21Parser()
    parser.parse_misp_event({"Event": prepared.event})
    for messages in parser.errors.values():
        for message in messages:
            raise InputError(*_named(prepared, message, "misp-stix cannot convert it"))
    # pymisp drops an attribute that fails its validation (a port of 99999, an AS that is
    # not a number) with a warning only: the event would be stored silently shortened.
    for messages in parser.warnings.values():
        for message in messages:
            if message.startswith("Failed validation"):
                raise InputError(*_named(prepared, message, "MISP refuses this value"))
    return orjson.loads(parser.bundle.serialize())["objects"]


def _named(prepared: _Prepared, message: str, what: str) -> tuple[str, str]:
    """(place, reason) for a converter message: the attribute it quotes, else the event."""
    found = _QUOTED_UUID.search(message)
    place = prepared.places.get(found[1], prepared.place) if found else prepared.place
    return place, f"{what}: {' '.join(message.split())[:300]}"


def _later(a: str, b: str) -> str:
    return a if parse_stix_timestamp(a) >= parse_stix_timestamp(b) else b


def _strictest(*levels: TLP | None) -> TLP | None:
    present = [level for level in levels if level is not None]
    return max(present) if present else None


def _with_level(refs: list[str], level: TLP) -> list[str]:
    return [ref for ref in refs if ref not in MARKING_LEVEL] + [TLP2_IDS[level]]


def _adapt(
    prepared: _Prepared, objects: list[dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Apply the creator, galaxy, TLP, version and pattern rules of the module doc."""
    container = next(
        (
            obj
            for obj in objects
            if obj["type"] in ("report", "grouping") and obj["id"].endswith(prepared.uuid)
        ),
        None,
    )
    if container is None:
        raise InputError(prepared.place, "misp-stix made no report or grouping of the event")
    event_level = level_of_markings(container.get("object_marking_refs") or [])
    event_modified = container["modified"]
    # misp-stix dates the event's report and galaxy objects by the event's last-change
    # timestamp, which moves on every edit; 'created' must not change between versions, so
    # they are created at the event's own date (midnight UTC) when that is earlier.
    event_date = prepared.event.get("date")
    if isinstance(event_date, str) and len(event_date) == 10:
        dated = f"{event_date}T00:00:00.000Z"
        stamped = container["created"]
        with suppress(ValueError):
            if stix_micros(dated) < stix_micros(stamped):
                for obj in objects:
                    if obj.get("created") == stamped:
                        obj["created"] = dated
    kept = [
        obj
        for obj in objects
        if not (obj["type"] == "marking-definition" and obj["id"] in MARKING_LEVEL)
    ]
    places = {obj["id"]: _place_of(prepared, obj["id"]) for obj in kept}
    own = {obj["id"]: level_of_markings(obj.get("object_marking_refs") or []) for obj in kept}
    new_ids = _restate_galaxies(prepared, kept)
    levels = _levels(kept, own, event_level)

    for obj in kept:
        obj_id = obj["id"]
        level = levels.get(obj_id)
        if level is None:
            continue
        obj["object_marking_refs"] = _with_level(obj.get("object_marking_refs") or [], level)
        if level != own[obj_id] and "modified" in obj:
            obj["modified"] = _later(obj["modified"], event_modified)
        if obj["type"] in SCO_TYPES:
            new_ids[obj_id] = deterministic_id(obj["type"], "misp-sco", obj_id, TLP2_IDS[level])

    for obj in kept:
        place = places[obj["id"]]
        obj["id"] = new_ids.get(obj["id"], obj["id"])
        _rewrite_refs(obj, new_ids)
        if obj["type"] == "indicator":
            obj["pattern"] = _simple_ip_pattern(obj["pattern"])
        elif obj["type"] == "windows-registry-key" and isinstance(obj.get("key"), str):
            obj["key"] = _full_hive(obj["key"])
        yield place, obj


def _place_of(prepared: _Prepared, obj_id: str) -> str:
    return prepared.places.get(obj_id.partition("--")[2], prepared.place)


def _restate_galaxies(prepared: _Prepared, objects: list[dict[str, Any]]) -> dict[str, str]:
    """Give every SDO and SRO the event's creator; mint galaxy objects under that creator."""
    new_ids: dict[str, str] = {}
    for obj in objects:
        obj_type = obj["type"]
        from_cluster = obj["id"].partition("--")[2] in prepared.clusters
        if from_cluster:
            new_type = "intrusion-set" if obj_type == "threat-actor" else obj_type
            new_ids[obj["id"]] = deterministic_id(
                new_type, "misp-galaxy", prepared.creator, obj["id"]
            )
            if obj_type == "threat-actor":
                obj["type"] = "intrusion-set"
                for key in _THREAT_ACTOR_ONLY:
                    obj.pop(key, None)
        organisation = obj_type == "identity" and not from_cluster
        if organisation:
            # misp-stix stamps the organisation with each event's time; STIX forbids
            # 'created' to change between versions, so it gets one fixed value.
            obj["created"] = ORGANISATION_CREATED
        if obj_type in SCO_TYPES or obj_type == "marking-definition" or organisation:
            continue
        obj.setdefault("created_by_ref", prepared.creator)
    return new_ids


def _levels(
    objects: list[dict[str, Any]], own: dict[str, TLP | None], event_level: TLP | None
) -> dict[str, TLP | None]:
    """Each object's TLP under the event-bounds-everything rule (module doc)."""
    levels: dict[str, TLP | None] = {}
    relations = ("relationship", "sighting")
    for obj in objects:
        obj_type = obj["type"]
        if obj_type in SCO_TYPES or obj_type in relations or obj_type == "marking-definition":
            continue
        if obj_type == "identity" and own[obj["id"]] is None:
            continue  # an organisation's name is not the event's content
        levels[obj["id"]] = _strictest(own[obj["id"]], event_level)
    held: dict[str, TLP | None] = {}
    for obj in objects:
        if obj["type"] == "observed-data":
            for ref in obj.get("object_refs") or []:
                held[ref] = _strictest(held.get(ref), levels[obj["id"]])
    for obj in objects:
        if obj["type"] in SCO_TYPES:
            levels[obj["id"]] = _strictest(own[obj["id"]], held.get(obj["id"], event_level))
    for obj in objects:
        if obj["type"] in relations:
            ends = [obj.get(key) for key in ("source_ref", "target_ref", "sighting_of_ref")]
            levels[obj["id"]] = _strictest(
                own[obj["id"]], event_level, *(levels.get(end) for end in ends if end)
            )
    return levels


def _rewrite_refs(value: Any, new_ids: Mapping[str, str]) -> None:
    """Point every ``*_ref``/``*_refs`` (nested ones too) at the re-minted ids."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_ref") and isinstance(item, str):
                value[key] = new_ids.get(item, item)
            elif key.endswith("_refs") and isinstance(item, list):
                value[key] = [
                    new_ids.get(ref, ref) if isinstance(ref, str) else ref for ref in item
                ]
            else:
                _rewrite_refs(item, new_ids)
    elif isinstance(value, list):
        for item in value:
            _rewrite_refs(item, new_ids)


def _simple_ip_pattern(pattern: str) -> str:
    match = _IP_PATTERN.match(pattern)
    return f"[{match[2]}-addr:value = '{match[3]}']" if match else pattern


def _full_hive(key: str) -> str:
    """STIX names registry hives in full; MISP values often abbreviate them (``HKLM\\…``)."""
    hive, sep, rest = key.partition("\\")
    return f"{_HIVES.get(hive.upper(), hive)}{sep}{rest}"


def _merge_levels(kept: dict[str, Any], again: dict[str, Any]) -> None:
    """Two events stated one version: keep the first, at the stricter of the two levels."""
    if kept == again:
        return
    mine = level_of_markings(kept.get("object_marking_refs") or [])
    theirs = level_of_markings(again.get("object_marking_refs") or [])
    if theirs is not None and (mine is None or theirs > mine):
        kept["object_marking_refs"] = _with_level(kept.get("object_marking_refs") or [], theirs)
