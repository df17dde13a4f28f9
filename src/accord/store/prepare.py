"""Everything the store derives from one object alone, computed before any database work.

:func:`prepare` validates an object and computes its row pieces: version timestamp,
content hash, stored body, search text, marking, reference and value index rows. None of
it depends on what the store already holds, so it can run anywhere: in the writer's
thread for a small write, or in worker processes for a bulk import, with only the
versioning decisions (which need the store) left to :class:`~accord.store.store.Writer`.

A :class:`Prepared` is a named tuple of plain values so that it crosses a process
boundary cheaply (pickling a tuple is several times faster than a dict or a dataclass).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from accord.model.errors import InputError
from accord.model.observables import Observable, network_bounds, pattern_observables
from accord.model.observables import sco_observables as _sco_observables
from accord.model.stix import TIMESTAMP_PROPS, check_object, is_sco, is_versioned
from accord.model.timestamps import canonical_stamp, stix_micros
from accord.model.tlp import (
    MARKING_LEVEL,
    defined_level,
    granular_refs,
    level_of_markings,
    marking_refs,
    standard_marking,
)

# Top-level timestamps hashed in one precision (see content_hash). object_modified is
# hashed as written: it always was, and changing it would change stored hashes.
HASHED_STAMPS = frozenset(TIMESTAMP_PROPS) - {"object_modified"}
_SEARCH_TEXT_KEYS = ("name", "description", "pattern", "value", "content", "abstract", "opinion")
_SEARCH_LIST_KEYS = ("aliases", "labels", "x_mitre_aliases")
_NOT_REFS = frozenset({"object_marking_refs", "created_by_ref"})
_ADDRESS_KINDS = frozenset({"ipv4", "ipv6", "ipv4-net", "ipv6-net"})

ValueRow = tuple[str, str, str | None, str | None]  # kind, value, lo, hi


class Prepared(NamedTuple):
    """One validated object and the store rows derived from it alone.

    ``own_tlp`` is the level its object-level TLP markings give it (CLEAR for a marking
    definition with none), or None when the import or node default applies;
    ``granular_tlp`` the strictest granular TLP marking (it can raise the level, never
    stand in for an object-level marking); ``custom_refs`` the object-level marking ids
    that are not standard TLP ids (a producer's own TLP definition may be among them: the
    writer resolves them); ``tlp_defined`` the level a marking definition under a
    non-standard id defines, if it is a TLP one. ``values`` index the typed observable
    values with their address bounds.
    """

    place: str
    id: str
    type: str
    versioned: bool
    modified: str | None
    modified_us: int
    created: str | None
    creator: str | None
    spec_version: str | None
    revoked: bool
    own_tlp: int | None
    digest: str
    valid_until_us: int | None
    search_text: str | None
    body: str
    markings: tuple[str, ...]
    refs: tuple[tuple[str, str], ...]
    values: tuple[ValueRow, ...]
    granular_tlp: int | None = None
    custom_refs: tuple[str, ...] = ()
    tlp_defined: int | None = None

    @property
    def described(self) -> str:
        """Where the object came from, for error messages: ``object 12 (indicator--…)``."""
        return f"{self.place} ({self.id})" if self.place else self.id


def content_hash(obj: Mapping[str, Any]) -> str:
    """Hash of the object's canonical JSON: sorted keys, and top-level timestamps in one
    precision, so that ``…00Z`` and ``…00.000Z`` (python-stix2's spelling) are the same
    version's content, not a conflict. The stored body keeps the producer's spelling."""
    canonical = dict(obj)
    for key in HASHED_STAMPS.intersection(canonical):
        value = canonical[key]
        if isinstance(value, str):
            try:  # noqa: SIM105 - try is cheaper than suppress() on this hot path
                canonical[key] = canonical_stamp(value)
            except ValueError:
                pass  # not a timestamp: hashed as written
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def observable_rows(obj: Mapping[str, Any]) -> list[Observable]:
    """Typed values an object contributes to the value index."""
    obj_type = obj.get("type")
    if obj_type == "indicator" and obj.get("pattern_type") == "stix":
        pattern = obj.get("pattern")
        return pattern_observables(pattern) if isinstance(pattern, str) else []
    if is_sco(obj):
        return _sco_observables(obj)
    return []


def value_bounds(value: Observable) -> tuple[str | None, str | None]:
    """Hex bounds of an address or network, for containment queries; None otherwise."""
    if value.kind in _ADDRESS_KINDS:
        return network_bounds(value.value)
    return None, None


_KEY_ROLES: dict[str, int] = {}


def _key_role(key: str) -> int:
    """1 for an indexed ``*_ref``, 2 for an indexed ``*_refs``, 0 otherwise. Markings and
    creators have their own indexed columns/tables. Memoised: keys repeat across objects."""
    role = (
        0 if key in _NOT_REFS else 1 if key.endswith("_ref") else 2 if key.endswith("_refs") else 0
    )
    if len(_KEY_ROLES) < 4096:
        _KEY_ROLES[key] = role
    return role


def reference_rows(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(property, target id)`` for every top-level ``*_ref`` and ``*_refs`` property."""
    found: list[tuple[str, str]] = []
    roles = _KEY_ROLES
    for key, value in obj.items():
        role = roles.get(key)
        if role is None:
            role = _key_role(key)
        if role == 1:
            if isinstance(value, str):
                found.append((key, value))
        elif role == 2 and isinstance(value, list):
            found.extend((key, v) for v in value if isinstance(v, str))
    return found


def search_text(obj: Mapping[str, Any]) -> str | None:
    """Lower-cased words that ``accord search`` matches with LIKE."""
    parts: list[str] = []
    for key in _SEARCH_TEXT_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            parts.append(value[:4000])
    for key in _SEARCH_LIST_KEYS:
        value = obj.get(key)
        if isinstance(value, list):
            parts.extend(str(v) for v in value)
    for ref in obj.get("external_references") or []:
        if isinstance(ref, Mapping) and ref.get("external_id"):
            parts.append(str(ref["external_id"]))
    # NUL is dropped: PostgreSQL text cannot hold it, and no one searches for it (the body,
    # escaped JSON, keeps the object exactly as received).
    return " ".join(parts).lower().replace("\x00", "") if parts else None


def describe(place: str, obj: object) -> str:
    ident = obj.get("id") if isinstance(obj, Mapping) else None
    if place and ident:
        return f"{place} ({ident})"
    return place or str(ident or "object")


def prepare(obj: Mapping[str, Any], place: str = "") -> Prepared:
    """Validate ``obj`` (raising :class:`InputError` naming ``place`` and the reason) and
    derive its rows."""
    try:
        check_object(obj)
    except ValueError as exc:
        raise InputError(describe(place, obj), str(exc)) from None
    obj_id: str = obj["id"]
    if obj_id in MARKING_LEVEL:
        # Producers re-serialise the standard TLP definitions (other precision, vendor x_
        # properties). They are the standard's, not the producer's: keep the canonical
        # object and treat any copy as that object.
        canonical = standard_marking(obj_id)
        assert canonical is not None
        obj = canonical
    versioned = is_versioned(obj)
    obj_type: str = obj["type"]
    modified = obj.get("modified") if versioned else None
    try:
        body = orjson.dumps(obj).decode()
    except TypeError as exc:  # an integer beyond 64 bits, which orjson cannot write
        raise InputError(describe(place, obj), f"cannot store this object: {exc}") from None
    markings = marking_refs(obj)
    own_tlp: int | None = None
    granular_tlp: int | None = None
    custom_refs: tuple[str, ...] = ()
    tlp_defined: int | None = None
    if markings:
        object_level = obj.get("object_marking_refs") or []
        level = level_of_markings(object_level)
        own_tlp = None if level is None else int(level)
        custom_refs = tuple(r for r in object_level if r not in MARKING_LEVEL)
        if "granular_markings" in obj:
            granular = level_of_markings(granular_refs(obj))
            granular_tlp = None if granular is None else int(granular)
    if obj_type == "marking-definition":
        own_tlp = 0 if own_tlp is None else own_tlp  # public unless marked itself
        if obj_id not in MARKING_LEVEL:
            defined = defined_level(obj)
            tlp_defined = None if defined is None else int(defined)
    valid_until = obj.get("valid_until")
    values: list[ValueRow] = []
    for value in observable_rows(obj):
        if "\x00" in value.value:
            raise InputError(describe(place, obj), f"a NUL character in the {value.kind} value")
        lo, hi = value_bounds(value)
        values.append((value.kind, value.value, lo, hi))
    return Prepared(
        place,
        obj_id,
        obj_type,
        versioned,
        modified,
        stix_micros(modified) if modified is not None else 0,
        obj.get("created"),
        obj.get("created_by_ref"),
        obj.get("spec_version"),
        bool(obj.get("revoked")),
        own_tlp,
        content_hash(obj),
        stix_micros(valid_until) if valid_until else None,
        search_text(obj),
        body,
        tuple(dict.fromkeys(markings)) if markings else (),
        tuple(reference_rows(obj)),
        tuple(values),
        granular_tlp,
        custom_refs,
        tlp_defined,
    )
