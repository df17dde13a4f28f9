"""The hand-written STIX fixtures are themselves right: OASIS-valid and complete."""

from __future__ import annotations

import json

import pytest

from accord.model.stix import SCO_TYPES, SDO_TYPES, SRO_TYPES, check_object
from accord.model.tlp import TLP1_IDS, TLP2_IDS
from tests.store.stix_helpers import FIXTURES, load_objects, validation_errors


@pytest.mark.parametrize("name", ["all_types.json", "versions.json"])
def test_fixture_passes_oasis_validator(name: str) -> None:
    text = (FIXTURES / name).read_text("utf-8")
    assert validation_errors(text) == []
    for obj in json.loads(text)["objects"]:
        check_object(obj)  # and accord's own rules


def test_fixture_covers_every_stix_type() -> None:
    objs = load_objects("all_types.json")
    types = {o["type"] for o in objs}
    assert len(SDO_TYPES) == 19 and len(SRO_TYPES) == 2 and len(SCO_TYPES) == 18
    assert types >= SDO_TYPES | SRO_TYPES | SCO_TYPES
    assert {"marking-definition", "extension-definition", "language-content"} <= types
    assert "x-acme-widget" in types

    markings = {o["id"]: o for o in objs if o["type"] == "marking-definition"}
    assert set(TLP2_IDS.values()) <= set(markings)
    assert set(markings) & set(TLP1_IDS.values())
    assert any(o.get("definition_type") == "statement" for o in markings.values())

    ext_types = {
        t for o in objs if o["type"] == "extension-definition" for t in o["extension_types"]
    }
    assert {"property-extension", "new-sdo"} <= ext_types
    used = [
        e["extension_type"]
        for o in objs
        if o["type"] != "marking-definition"
        for e in (o.get("extensions") or {}).values()
    ]
    assert "property-extension" in used and "new-sdo" in used
    assert any(o.get("granular_markings") for o in objs)
    assert any(k.startswith("x_") for o in objs for k in o)


def test_versions_fixture_has_history_out_of_order_and_revoked_last() -> None:
    objs = [o for o in load_objects("versions.json") if o["type"] == "threat-actor"]
    assert len({o["id"] for o in objs}) == 1 and len(objs) == 4
    modified = [o["modified"] for o in objs]
    assert modified != sorted(modified)  # written out of order
    latest = max(objs, key=lambda o: o["modified"])
    assert latest.get("revoked") is True
    assert sum(bool(o.get("revoked")) for o in objs) == 1
