"""Traffic Light Protocol 2.0 (FIRST) as STIX 2.1 marking definitions.

Levels are ordered by restriction so that policy code can compare them with ``<=``.
TLP 1.0 markings are recognised by their standard ids, and TLP 1.0 WHITE is CLEAR.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum
from typing import Any

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


class TLP(IntEnum):
    """TLP levels, from least to most restrictive."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        return "AMBER+STRICT" if self is TLP.AMBER_STRICT else self.name

    @classmethod
    def parse(cls, text: str) -> TLP:
        """Parse ``clear``, ``white``, ``green``, ``amber``, ``amber+strict``, ``red``…"""
        key = text.strip().upper().replace("TLP:", "").replace("TLP", "").strip()
        key = key.replace("+", "_").replace("-", "_").replace(" ", "_")
        if key == "WHITE":
            return cls.CLEAR
        try:
            return cls[key]
        except KeyError:
            choices = "clear, green, amber, amber+strict, red"
            raise ValueError(f"unknown TLP level {text!r} (choose {choices})") from None

    def __str__(self) -> str:
        return f"TLP:{self.label}"


TLP2_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

TLP1_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    TLP.GREEN: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    TLP.AMBER: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    TLP.RED: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}

MARKING_LEVEL: dict[str, TLP] = {
    **{ref: level for level, ref in TLP2_IDS.items()},
    **{ref: level for level, ref in TLP1_IDS.items()},
}

_TLP2_NAMES = {
    TLP.CLEAR: "clear",
    TLP.GREEN: "green",
    TLP.AMBER: "amber",
    TLP.AMBER_STRICT: "amber+strict",
    TLP.RED: "red",
}
_TLP1_NAMES = {TLP.CLEAR: "white", TLP.GREEN: "green", TLP.AMBER: "amber", TLP.RED: "red"}


def marking_definition(level: TLP) -> dict[str, Any]:
    """The standard TLP 2.0 marking-definition object for ``level`` (as published by OASIS)."""
    name = _TLP2_NAMES[level]
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS[level],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{name.upper()}",
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": name}
        },
    }


def tlp1_marking_definition(level: TLP) -> dict[str, Any]:
    """The standard TLP 1.0 marking-definition object (STIX 2.1 section 7.2.1.4)."""
    name = _TLP1_NAMES[level]
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP1_IDS[level],
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{name.upper()}",
        "definition": {"tlp": name},
    }


def standard_marking(marking_id: str) -> dict[str, Any] | None:
    """The standard object for a TLP 1.0 or 2.0 marking id, or None for other markings."""
    level = MARKING_LEVEL.get(marking_id)
    if level is None:
        return None
    if marking_id in TLP2_IDS.values():
        return marking_definition(level)
    return tlp1_marking_definition(level)


def marking_refs(obj: Mapping[str, Any]) -> list[str]:
    """All marking ids an object carries: object-level and granular."""
    refs = list(obj.get("object_marking_refs") or [])
    for granular in obj.get("granular_markings") or []:
        ref = granular.get("marking_ref") if isinstance(granular, Mapping) else None
        if ref:
            refs.append(ref)
    return refs


def level_of_markings(refs: Iterable[str]) -> TLP | None:
    """Most restrictive TLP among marking ids (standard TLP 1.0 and 2.0 ids), or None when
    none of them is TLP. See :func:`effective_tlp` for how object-level and granular
    markings combine."""
    levels = [MARKING_LEVEL[r] for r in refs if r in MARKING_LEVEL]
    return max(levels) if levels else None


def defined_level(obj: Mapping[str, Any]) -> TLP | None:
    """The TLP level a marking-definition *defines*, under whatever id: the standard ids,
    but also a producer's own copy (``definition_type: tlp`` with ``definition.tlp``, or the
    TLP 2.0 property extension). None for any other object or marking.

    Producers do publish TLP definitions under ids of their own; honouring them is the
    safe reading (an object marked with a private "TLP:RED" definition is RED), whereas
    ignoring them would hand the object the import or node default.
    """
    if obj.get("type") != "marking-definition":
        return None
    standard = MARKING_LEVEL.get(str(obj.get("id")))
    if standard is not None:
        return standard
    names: list[Any] = []
    definition = obj.get("definition")
    if obj.get("definition_type") == "tlp" and isinstance(definition, Mapping):
        names.append(definition.get("tlp"))
    extension = (obj.get("extensions") or {}).get(TLP2_EXTENSION_ID)
    if isinstance(extension, Mapping):
        names.append(extension.get("tlp_2_0"))
    levels: list[TLP] = []
    for name in names:
        if isinstance(name, str):
            try:
                levels.append(TLP.parse(name))
            except ValueError:
                levels.append(TLP.RED)  # a TLP definition we cannot read: the strictest
    return max(levels) if levels else None


def granular_refs(obj: Mapping[str, Any]) -> list[str]:
    """Marking ids of the object's granular markings (each covers only some properties)."""
    return [
        str(g["marking_ref"])
        for g in obj.get("granular_markings") or []
        if isinstance(g, Mapping) and g.get("marking_ref")
    ]


def effective_tlp(obj: Mapping[str, Any], import_default: TLP | None, node_default: TLP) -> TLP:
    """The level an object is handled at: its own (object-level) marking, else the import
    default, else the node default; a granular TLP marking stricter than that raises it
    (a RED part makes the object RED for every automated path) but never lowers it, and
    never stands in for an object-level marking: an object whose only TLP marking covers
    its ``name`` is otherwise unmarked. A marking definition is public (CLEAR) unless it
    carries a marking itself."""
    own = level_of_markings(obj.get("object_marking_refs") or [])
    if obj.get("type") == "marking-definition":
        return own if own is not None else TLP.CLEAR
    if own is not None:
        level = own
    elif import_default is not None:
        level = import_default
    else:
        level = node_default
    granular = level_of_markings(granular_refs(obj))
    return max(level, granular) if granular is not None else level
