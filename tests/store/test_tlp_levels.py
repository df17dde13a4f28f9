"""The TLP level stored beside each object: object-level markings, granular ones, defaults,
and TLP definitions published under a producer's own id (on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from accord.model.tlp import TLP, TLP2_EXTENSION_ID, TLP2_IDS, effective_tlp
from accord.store import Store
from accord.store import schema as s

STAMP = "2026-01-10T00:00:00.000Z"
CREATOR = "identity--0f3b3b8e-5f55-4b0c-9b8e-2a7c1d9e6f10"
PRIVATE_RED = "marking-definition--" + "3" * 8 + "-3333-4333-8333-" + "3" * 12
PRIVATE_AMBER = "marking-definition--" + "4" * 8 + "-4444-4444-8444-" + "4" * 12


def _indicator(**extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "created_by_ref": CREATOR,
        "name": "c2",
        "description": "detail",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": STAMP,
        **extra,
    }


def _tlp1_style(marking_id: str, level: str) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": STAMP,
        "definition_type": "tlp",
        "name": f"TLP:{level.upper()}",
        "definition": {"tlp": level},
    }


def _tlp2_style(marking_id: str, level: str) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": STAMP,
        "name": f"TLP:{level.upper()}",
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level}
        },
    }


def _stored(store: Store, obj_id: str) -> tuple[TLP, bool]:
    o = s.objects.c
    with store.engine.connect() as conn:
        tlp, from_default = conn.execute(
            select(o.tlp, o.tlp_default).where(o.id == obj_id, o.is_current)
        ).one()
    return TLP(tlp), bool(from_default)


def test_defaults_and_markings_are_told_apart(store: Store) -> None:
    marked = _indicator(object_marking_refs=[TLP2_IDS[TLP.GREEN]])
    unmarked = _indicator()
    store.put_objects([marked, unmarked], "file", "a.json")
    assert _stored(store, marked["id"]) == (TLP.GREEN, False)
    assert _stored(store, unmarked["id"]) == (TLP.AMBER, True)  # the node default
    given = _indicator()
    store.put_objects([given], "file", "b.json", import_tlp=TLP.GREEN)
    assert _stored(store, given["id"]) == (TLP.GREEN, False)  # the analyst's --tlp


def test_a_granular_marking_raises_the_level_but_never_marks_the_object(store: Store) -> None:
    part_green = _indicator(
        granular_markings=[{"selectors": ["name"], "marking_ref": TLP2_IDS[TLP.GREEN]}]
    )
    part_red = _indicator(
        object_marking_refs=[TLP2_IDS[TLP.GREEN]],
        granular_markings=[{"selectors": ["description"], "marking_ref": TLP2_IDS[TLP.RED]}],
    )
    store.put_objects([part_green, part_red], "file", "granular.json")
    assert _stored(store, part_green["id"]) == (TLP.AMBER, True)  # the rest is unmarked
    assert _stored(store, part_red["id"]) == (TLP.RED, False)
    assert effective_tlp(part_green, None, TLP.AMBER) is TLP.AMBER
    assert effective_tlp(part_red, None, TLP.AMBER) is TLP.RED


def test_a_marking_definition_is_public_unless_marked_itself(store: Store) -> None:
    statement = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": STAMP,
        "definition_type": "statement",
        "definition": {"statement": "Copyright CERT"},
    }
    secret = {**statement, "id": f"marking-definition--{uuid.uuid4()}"}
    secret["object_marking_refs"] = [TLP2_IDS[TLP.RED]]
    store.put_objects([statement, secret], "file", "markings.json")
    assert _stored(store, statement["id"]) == (TLP.CLEAR, False)
    assert _stored(store, secret["id"]) == (TLP.RED, False)


def test_a_private_tlp_definition_is_honoured_in_either_order(store: Store) -> None:
    before = _indicator(object_marking_refs=[PRIVATE_RED])
    after = _indicator(object_marking_refs=[PRIVATE_AMBER, TLP2_IDS[TLP.GREEN]])
    # the definition first, in the same write
    store.put_objects([_tlp1_style(PRIVATE_RED, "red"), before], "file", "one.json")
    assert _stored(store, before["id"]) == (TLP.RED, False)
    # the object first, its definition in a later import: the object is raised then
    store.put_objects([after], "file", "two.json")
    assert _stored(store, after["id"]) == (TLP.GREEN, False)
    store.put_objects([_tlp2_style(PRIVATE_AMBER, "amber+strict")], "file", "three.json")
    assert _stored(store, after["id"]) == (TLP.AMBER_STRICT, False)
    # a later object marked with the now known definition gets it at once
    later = _indicator(object_marking_refs=[PRIVATE_AMBER])
    store.put_objects([later], "file", "four.json")
    assert _stored(store, later["id"]) == (TLP.AMBER_STRICT, False)


def test_a_private_definition_never_lowers_a_level(store: Store) -> None:
    red = _indicator(object_marking_refs=[TLP2_IDS[TLP.RED], PRIVATE_RED])
    store.put_objects([red], "file", "one.json")
    store.put_objects([_tlp1_style(PRIVATE_RED, "white")], "file", "two.json")
    assert _stored(store, red["id"]) == (TLP.RED, False)


def test_upgrading_a_store_records_which_levels_came_from_a_default(store_url: str) -> None:
    """The 0004 migration backfills ``tlp_default`` on a store written before it: unmarked
    objects are flagged (they stay home), marked ones and marking definitions are not."""
    from alembic import command
    from alembic.config import Config

    from accord.store.db import MIGRATIONS, WRITE_OPTION

    marked = _indicator(object_marking_refs=[TLP2_IDS[TLP.GREEN]])
    unmarked = _indicator()
    definition = _tlp1_style(PRIVATE_RED, "red")
    with Store.open(store_url, TLP.AMBER) as store:
        store.put_objects([marked, unmarked, definition], "file", "old.json")
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with store.engine.connect() as conn:
            cfg.attributes["connection"] = conn.execution_options(**{WRITE_OPTION: True})
            command.downgrade(cfg, "0004_tlp_default@0001")
            conn.commit()
    with Store.open(store_url, TLP.AMBER) as store:  # upgrades again
        assert _stored(store, unmarked["id"]) == (TLP.AMBER, True)
        assert _stored(store, marked["id"]) == (TLP.GREEN, False)
        assert _stored(store, definition["id"]) == (TLP.CLEAR, False)
