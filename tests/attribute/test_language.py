"""ICD 203 terms, the likelihood/confidence separation, and Admiralty grading."""

from __future__ import annotations

import pytest

from accord.attribute.evidence import Source, merge, resolve_items
from accord.attribute.grading import Grade, better, credibility_from_confidence, reliability_of
from accord.attribute.graph import KnowledgeGraph
from accord.attribute.language import (
    estimative,
    mixes_likelihood_and_confidence,
    percent,
    statement,
)
from accord.attribute.params import DEFAULT_PARAMETERS
from accord.attribute.report import build_result
from tests.attribute.conftest import knowledge_base, partner_intel


@pytest.mark.parametrize(
    ("p", "term"),
    [
        (0.0, "almost no chance"),
        (0.049, "almost no chance"),
        (0.05, "very unlikely"),
        (0.2, "unlikely"),
        (0.449, "unlikely"),
        (0.45, "roughly even chance"),
        (0.549, "roughly even chance"),
        (0.55, "likely"),
        (0.8, "very likely"),
        (0.95, "almost certain"),
        (1.0, "almost certain"),
    ],
)
def test_estimative_bands_follow_icd_203(p: float, term: str) -> None:
    assert estimative(p) == term


def test_percent_never_rounds_to_certainty() -> None:
    assert (percent(0.004), percent(0.9996), percent(0.5)) == ("<1%", ">99%", "50%")


def test_the_checker_finds_a_mixed_sentence() -> None:
    assert mixes_likelihood_and_confidence("It is likely, with high confidence. Fine.")
    assert not mixes_likelihood_and_confidence("It is unlikely. Confidence is high.")


@pytest.mark.parametrize("refs", [[], ["T9001"], ["S9001", "T9003"], ["T9004", "S9002"]])
def test_summaries_never_put_likelihood_and_confidence_in_one_sentence(refs) -> None:
    graph = KnowledgeGraph([*knowledge_base(), *partner_intel()])
    source = Source(None, "us", "local", Grade("B", 2))
    items = merge(resolve_items(graph, refs, source, DEFAULT_PARAMETERS)[0])
    result = build_result(graph, "incident--x", items, DEFAULT_PARAMETERS)
    assert mixes_likelihood_and_confidence(result.summary) == []
    assert "Confidence is" in result.summary


def test_statements_read_as_sentences_in_every_band() -> None:
    assert statement(0.44, "X did") == "It is unlikely (44%) that X did."
    assert statement(0.02, "X did") == "There is almost no chance (2%) that X did."
    assert statement(0.5, "X did") == "There is a roughly even chance (50%) that X did."
    for refs in ([], ["T9004", "S9002"]):  # not attributed: no "at unlikely (44%)"
        graph = KnowledgeGraph([*knowledge_base(), *partner_intel()])
        source = Source(None, "us", "local", Grade("B", 2))
        items = merge(resolve_items(graph, refs, source, DEFAULT_PARAMETERS)[0])
        summary = build_result(graph, "incident--x", items, DEFAULT_PARAMETERS).summary
        assert not any(f"at {term} (" in summary for term in ("unlikely", "likely", "roughly"))


@pytest.mark.parametrize(
    ("confidence", "digit"),
    [(None, 6), (True, 6), (100, 1), (80, 1), (79, 2), (60, 2), (50, 3), (30, 4), (19, 5), (0, 5)],
)
def test_stix_confidence_maps_to_admiralty_credibility(confidence, digit) -> None:
    assert credibility_from_confidence(confidence) == digit


def test_reliability_comes_from_the_source_identity() -> None:
    assert reliability_of({"x_accord_reliability": "c"}) == "C"
    assert reliability_of({"x_accord_reliability": "Z"}) == "F"
    assert reliability_of(None) == "F"
    assert reliability_of(None, own=True) == "B"


def test_grades_parse_order_and_weigh() -> None:
    assert str(Grade.parse("b2")) == "B2"
    with pytest.raises(ValueError):
        Grade.parse("G9")
    assert better(Grade("D", 4), Grade("F", 6)) == Grade("F", 6)  # unknown beats known-bad
    assert Grade("A", 1).factor == 1.0 > Grade("B", 2).factor > Grade("F", 6).factor
