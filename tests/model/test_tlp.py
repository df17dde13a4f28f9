"""TLP 2.0 and 1.0: standard ids, WHITE = CLEAR, effective level, most restrictive wins."""

from __future__ import annotations

import pytest

from accord.model.tlp import (
    TLP,
    TLP1_IDS,
    TLP2_IDS,
    effective_tlp,
    level_of_markings,
    marking_definition,
    marking_refs,
    standard_marking,
    tlp1_marking_definition,
)
from tests.store.stix_helpers import TLP1, TLP2, indicator, validation_errors


def test_standard_ids_match_the_reference() -> None:
    assert {
        TLP.CLEAR: TLP2["clear"],
        TLP.GREEN: TLP2["green"],
        TLP.AMBER: TLP2["amber"],
        TLP.AMBER_STRICT: TLP2["amber+strict"],
        TLP.RED: TLP2["red"],
    } == TLP2_IDS
    assert {
        TLP.CLEAR: TLP1["white"],
        TLP.GREEN: TLP1["green"],
        TLP.AMBER: TLP1["amber"],
        TLP.RED: TLP1["red"],
    } == TLP1_IDS


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("clear", TLP.CLEAR),
        ("WHITE", TLP.CLEAR),
        ("TLP:WHITE", TLP.CLEAR),
        ("green", TLP.GREEN),
        ("TLP:AMBER", TLP.AMBER),
        ("amber+strict", TLP.AMBER_STRICT),
        ("Amber-Strict", TLP.AMBER_STRICT),
        ("tlp:red", TLP.RED),
    ],
)
def test_parse(text: str, level: TLP) -> None:
    assert TLP.parse(text) is level


def test_parse_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="unknown TLP level 'purple'"):
        TLP.parse("purple")


def test_levels_are_ordered_by_restriction() -> None:
    assert TLP.CLEAR < TLP.GREEN < TLP.AMBER < TLP.AMBER_STRICT < TLP.RED
    assert str(TLP.AMBER_STRICT) == "TLP:AMBER+STRICT"


@pytest.mark.parametrize("level", list(TLP))
def test_standard_marking_objects_are_valid_stix(level: TLP) -> None:
    objs = [marking_definition(level)]
    if level in TLP1_IDS:
        objs.append(tlp1_marking_definition(level))
    for obj in objs:
        assert standard_marking(obj["id"]) == obj
        bundle = {"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}
        assert validation_errors({**bundle, "objects": [obj]}) == []


def test_tlp1_white_is_clear_and_each_tlp1_maps_to_its_level() -> None:
    assert level_of_markings([TLP1["white"]]) is TLP.CLEAR
    assert level_of_markings([TLP1["green"]]) is TLP.GREEN
    assert level_of_markings([TLP1["amber"]]) is TLP.AMBER
    assert level_of_markings([TLP1["red"]]) is TLP.RED
    assert tlp1_marking_definition(TLP.CLEAR)["definition"] == {"tlp": "white"}


def test_non_tlp_markings_have_no_level() -> None:
    statement = "marking-definition--0c2e3b3a-1e6f-4e0a-9a6b-6d2f2e4b9a11"
    assert level_of_markings([statement]) is None
    assert standard_marking(statement) is None


def test_most_restrictive_marking_wins_including_granular() -> None:
    obj = indicator(
        "[ipv4-addr:value = '198.51.100.1']",
        object_marking_refs=[TLP2["green"], TLP1["amber"]],
        granular_markings=[{"marking_ref": TLP2["red"], "selectors": ["description"]}],
    )
    assert marking_refs(obj) == [TLP2["green"], TLP1["amber"], TLP2["red"]]
    assert effective_tlp(obj, TLP.CLEAR, TLP.CLEAR) is TLP.RED
    obj.pop("granular_markings")
    assert effective_tlp(obj, TLP.RED, TLP.RED) is TLP.AMBER


def test_effective_tlp_precedence() -> None:
    unmarked = indicator("[ipv4-addr:value = '198.51.100.1']")
    assert effective_tlp(unmarked, None, TLP.AMBER) is TLP.AMBER
    assert effective_tlp(unmarked, None, TLP.GREEN) is TLP.GREEN
    assert effective_tlp(unmarked, TLP.RED, TLP.AMBER) is TLP.RED
    assert effective_tlp(unmarked, TLP.CLEAR, TLP.AMBER) is TLP.CLEAR
    own = {**unmarked, "object_marking_refs": [TLP2["clear"]]}
    assert effective_tlp(own, TLP.RED, TLP.RED) is TLP.CLEAR
    statement_only = {
        **unmarked,
        "object_marking_refs": ["marking-definition--0c2e3b3a-1e6f-4e0a-9a6b-6d2f2e4b9a11"],
    }
    assert effective_tlp(statement_only, TLP.GREEN, TLP.AMBER) is TLP.GREEN
    assert effective_tlp(marking_definition(TLP.RED), TLP.RED, TLP.RED) is TLP.CLEAR
