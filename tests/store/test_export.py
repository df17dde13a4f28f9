"""Export under a TLP ceiling: streamed bundle, markings included, OASIS-valid."""

from __future__ import annotations

import io
import json
from typing import Any

from accord.model.timestamps import stix_micros
from accord.model.tlp import TLP
from accord.store import Store
from accord.store.export import count_withheld, select_rows, write_bundle
from tests.store.stix_helpers import (
    TLP1,
    TLP2,
    by_version,
    indicator,
    load_objects,
    malware,
    new_id,
    validation_errors,
)


def _export(store: Store, tlp_max: TLP, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    out = io.BytesIO()
    rows = select_rows(store, tlp_max=tlp_max, **kwargs)
    result = write_bundle((r.obj for r in rows), out, store, tlp_max)
    return json.loads(out.getvalue()), result


def test_export_ceiling_markings_and_validity(store: Store) -> None:
    statement = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": new_id("marking-definition"),
        "created": "2025-01-01T00:00:00Z",
        "definition_type": "statement",
        "definition": {"statement": "Fictional copyright"},
    }
    objs = {
        "clear": malware(object_marking_refs=[TLP2["clear"]]),
        "white": malware(object_marking_refs=[TLP1["white"]]),
        "green": indicator(
            "[ipv4-addr:value = '198.51.100.1']",
            object_marking_refs=[TLP2["green"], statement["id"]],
        ),
        "amber": malware(object_marking_refs=[TLP1["amber"]]),
        "unmarked": malware(),  # node default: AMBER
        "strict": malware(object_marking_refs=[TLP2["amber+strict"]]),
        "red": malware(object_marking_refs=[TLP2["red"]]),
        "granular_red": malware(
            object_marking_refs=[TLP2["green"]],
            granular_markings=[{"marking_ref": TLP2["red"], "selectors": ["name"]}],
        ),
        "statement": statement,
    }
    store.put_objects(objs.values())

    def ids(bundle: dict[str, Any]) -> set[str]:
        return {o["id"] for o in bundle["objects"]}

    green, result = _export(store, TLP.GREEN)
    assert validation_errors(green) == []
    assert ids(green) == {
        objs["clear"]["id"],
        objs["white"]["id"],
        objs["green"]["id"],
        statement["id"],
        TLP2["clear"],
        TLP1["white"],
        TLP2["green"],
    }
    # the referenced marking definitions come along, as the standard objects
    by_id = {o["id"]: o for o in green["objects"]}
    assert by_id[TLP2["green"]]["extensions"][
        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
    ] == {"extension_type": "property-extension", "tlp_2_0": "green"}
    assert by_id[TLP1["white"]]["definition"] == {"tlp": "white"}
    assert by_id[statement["id"]] == statement
    assert result.markings_added == 3
    assert count_withheld(store, TLP.GREEN) == 5

    amber, _ = _export(store, TLP.AMBER)
    assert {objs["amber"]["id"], objs["unmarked"]["id"]} <= ids(amber)
    assert objs["strict"]["id"] not in ids(amber)
    assert validation_errors(amber) == []

    red, _ = _export(store, TLP.RED)
    assert {o["id"] for o in objs.values()} <= ids(red)
    assert TLP2["red"] in ids(red) and TLP2["amber+strict"] in ids(red)
    assert validation_errors(red) == []
    assert by_version(o for o in red["objects"] if o["id"] in ids(green) - set(TLP2.values())) == (
        by_version(o for o in green["objects"] if o["id"] not in TLP2.values())
    )


def test_export_all_versions_types_and_since(store: Store) -> None:
    objs = load_objects("versions.json")
    store.put_objects(objs)
    actor = next(o for o in objs if o["type"] == "threat-actor")
    history = [o for o in objs if o["id"] == actor["id"]]

    current, _ = _export(store, TLP.RED, types=["threat-actor"])
    assert [o["modified"] for o in current["objects"] if o["type"] == "threat-actor"] == [
        max(o["modified"] for o in history)
    ]
    everything, result = _export(store, TLP.RED, types=["threat-actor"], all_versions=True)
    exported = [o for o in everything["objects"] if o["type"] == "threat-actor"]
    assert by_version(exported) == by_version(history)
    assert result.by_type == {"threat-actor": 4}
    assert validation_errors(everything) == []
    # the marking the versions carry is appended once
    assert [o["id"] for o in everything["objects"] if o["type"] == "marking-definition"] == [
        TLP2["green"]
    ]

    later = malware()
    store.put_objects([later])
    cut = store.get_row(later["id"]).date_added_us - 1  # type: ignore[union-attr]
    since, _ = _export(store, TLP.RED, added_after_us=cut)
    assert [o["id"] for o in since["objects"]] == [later["id"]]
    assert stix_micros(actor["created"]) < cut
