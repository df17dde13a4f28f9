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
    """Most restrictive TLP among marking ids, or None when none of them is TLP.

    Granular TLP markings count too: a part of the object at RED makes the object RED for
    every automated path, because redaction of parts is a separate, explicit step.
    """
    levels = [MARKING_LEVEL[r] for r in refs if r in MARKING_LEVEL]
    return max(levels) if levels else None


def effective_tlp(obj: Mapping[str, Any], import_default: TLP | None, node_default: TLP) -> TLP:
    """The level an object is handled at: its own marking, else the import default, else the
    node default. Marking definitions themselves are public (CLEAR)."""
    if obj.get("type") == "marking-definition":
        return TLP.CLEAR
    own = level_of_markings(marking_refs(obj))
    if own is not None:
        return own
    if import_default is not None:
        return import_default
    return node_default
