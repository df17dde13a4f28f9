"""STIX 2.1 object rules that the store enforces on everything it accepts.

These checks are deliberately the ones the specification makes MUST-level: identifiers,
required properties, timestamps and pattern syntax. They run on every object of every
import, so they are written for speed; complex patterns are handed to the OASIS
``stix2-patterns`` parser, simple value patterns are checked by a strict subset grammar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stix2patterns.v21.object_validator import HASHES_REGEX as _HASH_RULES
from stix2patterns.validator import validate as _validate_pattern

from accord.model.observables import PatternNotSimple, parse_simple_pattern
from accord.model.timestamps import parse_stix_timestamp

SDO_TYPES = frozenset(
    {
        "attack-pattern",
        "campaign",
        "course-of-action",
        "grouping",
        "identity",
        "incident",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "note",
        "observed-data",
        "opinion",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
    }
)
SRO_TYPES = frozenset({"relationship", "sighting"})
SCO_TYPES = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)
META_TYPES = frozenset({"marking-definition", "extension-definition", "language-content"})
UNVERSIONED_TYPES = SCO_TYPES | {"marking-definition"}

# Required properties beyond the common ones (STIX 2.1, each object's "Required" table).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "attack-pattern": ("name",),
    "campaign": ("name",),
    "course-of-action": ("name",),
    "grouping": ("context", "object_refs"),
    "identity": ("name",),
    "incident": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "infrastructure": ("name",),
    "intrusion-set": ("name",),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "threat-actor": ("name",),
    "tool": ("name",),
    "vulnerability": ("name",),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    "extension-definition": ("name", "schema", "version", "extension_types", "created_by_ref"),
    "language-content": ("object_ref", "contents"),
    "autonomous-system": ("number",),
    "directory": ("path",),
    "domain-name": ("value",),
    "email-addr": ("value",),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": ("protocols",),
    "software": ("name",),
    "url": ("value",),
}
# Top-level properties that hold a STIX timestamp (checked on every object).
TIMESTAMP_PROPS = (
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "published",
    "first_observed",
    "last_observed",
    "object_modified",
)
_TYPE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,248})[a-z0-9]\Z")
_OPINIONS = frozenset({"strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"})


_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}\Z"
)


# The common, plainly valid form in one match. A UUID holds no "--", so the type group
# (lazy: it stops at the first "--" that a UUID follows) splits where rpartition("--")
# does; anything that does not match takes the full check below.
_IDENTIFIER = re.compile(
    r"([a-z0-9][a-z0-9-]{1,248}?[a-z0-9])--"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
)


def is_identifier(value: object, of_type: str | None = None) -> bool:
    """``type--uuid`` with an RFC 4122 UUID (variant bits ``10``); optionally of a given type.

    A regular expression rather than ``uuid.UUID()``: this runs several times per object on
    every import, and the constructor is the slow part of a naive check.
    """
    if not isinstance(value, str):
        return False
    plain = _IDENTIFIER.fullmatch(value)
    if plain is not None:
        return of_type is None or plain.group(1) == of_type
    obj_type, sep, ident = value.rpartition("--")
    if not sep or (of_type is not None and obj_type != of_type):
        return False
    return bool(_TYPE_NAME.match(obj_type)) and bool(_UUID.match(ident))


def is_sco(obj: Mapping[str, Any]) -> bool:
    """A cyber-observable: a standard SCO type, or a custom type defined by a new-sco
    extension (which, like every SCO, has no ``created``/``modified``)."""
    if obj.get("type") in SCO_TYPES:
        return True
    extensions = obj.get("extensions")
    return isinstance(extensions, Mapping) and any(
        isinstance(ext, Mapping) and ext.get("extension_type") == "new-sco"
        for ext in extensions.values()
    )


def is_versioned(obj: Mapping[str, Any]) -> bool:
    return obj.get("type") != "marking-definition" and not is_sco(obj)


class StixVersionError(ValueError):
    """STIX 2.0 (or older) content, which accord does not rewrite on the producer's behalf."""


def check_object(obj: object) -> None:
    """Raise ``ValueError`` with the reason when ``obj`` is not a valid STIX 2.1 object."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise ValueError(f"a STIX object must be a JSON object, got {type(obj).__name__}")
    obj_type = obj.get("type")
    if not isinstance(obj_type, str) or not _TYPE_NAME.match(obj_type):
        raise ValueError(f"missing or invalid 'type': {obj_type!r}")
    if obj_type == "bundle":
        raise ValueError("a bundle cannot be nested inside a bundle")
    if not is_identifier(obj.get("id"), obj_type):
        raise ValueError(f"'id' must be '{obj_type}--<uuid>', got {obj.get('id')!r}")
    spec = obj.get("spec_version")
    sco = is_sco(obj)
    if spec is None and not sco and obj_type != "marking-definition":
        if obj_type in SDO_TYPES or obj_type in SRO_TYPES:
            raise StixVersionError(
                "no 'spec_version': this is STIX 2.0 content; accord stores STIX 2.1 only "
                "(convert it to 2.1 first, keeping the producer's ids)"
            )
        raise ValueError("missing required property 'spec_version'")
    if spec is not None and spec != "2.1":
        raise StixVersionError(f"spec_version {spec!r} is not supported; accord stores STIX 2.1")

    if not sco:
        for prop in ("created", "modified") if obj_type != "marking-definition" else ("created",):
            if prop not in obj:
                raise ValueError(f"missing required property '{prop}'")
    for prop in _REQUIRED.get(obj_type, ()):
        if prop not in obj or obj[prop] is None:
            raise ValueError(f"missing required property '{prop}'")

    stamps: dict[str, Any] = {}
    for prop in TIMESTAMP_PROPS:
        if prop in obj:
            try:
                stamps[prop] = parse_stix_timestamp(obj[prop])
            except ValueError as exc:
                raise ValueError(f"property '{prop}': {exc}") from None
    if "created" in stamps and "modified" in stamps and stamps["modified"] < stamps["created"]:
        raise ValueError("'modified' is earlier than 'created'")
    _check_refs(obj)
    for prop in _LISTS_OF_OBJECTS:
        value = obj.get(prop)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value)
        ):
            raise ValueError(f"'{prop}' must be a list of objects")
    if obj.get("revoked") not in (None, True, False):
        raise ValueError("'revoked' must be a boolean")
    if "created_by_ref" in obj and not is_identifier(obj["created_by_ref"], "identity"):
        raise ValueError(f"'created_by_ref' must be an identity id, got {obj['created_by_ref']!r}")

    if obj_type == "indicator":
        _check_indicator(obj, stamps)
    elif obj_type == "malware" and obj.get("is_family") is True and not obj.get("name"):
        raise ValueError("a malware family ('is_family': true) requires 'name'")
    elif obj_type == "opinion" and obj.get("opinion") not in _OPINIONS:
        raise ValueError(f"'opinion' must be one of {sorted(_OPINIONS)}, got {obj['opinion']!r}")
    elif obj_type == "sighting":
        count = obj.get("count")
        if count is not None and (not isinstance(count, int) or not 0 <= count <= 999_999_999):
            raise ValueError("'count' must be an integer from 0 to 999,999,999")
        first, last = stamps.get("first_seen"), stamps.get("last_seen")
        if first is not None and last is not None and last < first:
            raise ValueError("'last_seen' is earlier than 'first_seen'")
    elif obj_type == "marking-definition" and not (
        obj.get("definition_type") or obj.get("extensions")
    ):
        raise ValueError("a marking-definition needs 'definition_type' or 'extensions'")


# Common properties whose items the store reads (markings, external ids for search).
_LISTS_OF_OBJECTS = ("granular_markings", "external_references")

_REF_KINDS: dict[str, int] = {}


def _ref_kind(key: str) -> int:
    """1 for ``*_ref``, 2 for ``*_refs``, 0 otherwise (memoised: keys repeat across
    objects, and a dict probe is cheaper than an lru_cache call)."""
    kind = 1 if key.endswith("_ref") and key != "object_ref" else 2 if key.endswith("_refs") else 0
    if len(_REF_KINDS) < 4096:
        _REF_KINDS[key] = kind
    return kind


def _check_refs(obj: Mapping[str, Any]) -> None:
    kinds = _REF_KINDS
    for key, value in obj.items():
        kind = kinds.get(key)
        if kind is None:
            kind = _ref_kind(key)
        if kind == 1:
            if not is_identifier(value):
                raise ValueError(f"'{key}' must be a STIX identifier, got {value!r}")
        elif kind == 2:
            if not isinstance(value, list) or not all(is_identifier(v) for v in value):
                raise ValueError(f"'{key}' must be a list of STIX identifiers")
            if not value and key == "object_refs":
                raise ValueError(f"'{key}' must not be empty")


def _check_indicator(obj: Mapping[str, Any], stamps: Mapping[str, Any]) -> None:
    if "valid_until" in stamps and stamps["valid_until"] <= stamps["valid_from"]:
        raise ValueError("'valid_until' must be later than 'valid_from'")
    pattern = obj["pattern"]
    if not isinstance(pattern, str):
        raise ValueError("'pattern' must be a string")
    if obj.get("pattern_type") != "stix":
        return  # Sigma, YARA, Snort…: opaque to the store, kept whole.
    if not pattern.strip():
        raise ValueError("'pattern' must not be empty")
    try:
        comparisons = parse_simple_pattern(pattern)
    except PatternNotSimple:
        comparisons = None
    if comparisons is not None:
        # The fast path skips stix2-patterns, so apply its one semantic check that
        # concerns simple patterns: hash literals must fit their algorithm.
        for _obj_type, path, _op, literal in comparisons:
            if len(path) == 2 and path[0] == "hashes":
                rule = _HASH_RULES.get(path[1].upper().replace("-", ""))
                if rule and not re.match(rule[0], literal):
                    raise ValueError(
                        f"invalid STIX pattern {pattern!r}: {literal!r} is not a valid "
                        f"{rule[1]} hash"
                    )
        return
    try:
        errors = _validate_pattern(pattern, stix_version="2.1", ret_errs=True, print_errs=False)
    except Exception as exc:  # the ANTLR-based parser can fail on odd input; still a refusal
        raise ValueError(f"invalid STIX pattern {pattern!r}: {exc}") from None
    ok, messages = errors if isinstance(errors, tuple) else (errors, [])
    if not ok:
        detail = "; ".join(str(m) for m in messages) or "syntax error"
        raise ValueError(f"invalid STIX pattern {pattern!r}: {detail}")


def display_name(obj: Mapping[str, Any]) -> str:
    """A short human label for any object: its name, value, pattern or relationship."""
    if obj.get("type") == "relationship":
        return f"{obj.get('source_ref')} {obj.get('relationship_type')} {obj.get('target_ref')}"
    for key in ("name", "value", "pattern", "opinion", "sighting_of_ref", "content"):
        value = obj.get(key)
        if isinstance(value, str):
            return value if len(value) <= 120 else value[:117] + "..."
    return ""
