"""The HTML report: its TLP is the high-water mark of what it shows, hostile strings stay
text, and it works in a real browser (Chromium through chromedriver) under its own CSP."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.attribute.html import render_html
from accord.attribute.marking import result_markings, result_tlp
from accord.attribute.record import save_attribution
from accord.attribute.result import AttributionResult
from accord.attribute.service import attribute_bundle, attribute_incident
from accord.model.tlp import TLP, marking_definition
from accord.store import Store
from tests.attribute.conftest import (
    RESPONDER,
    TECH,
    incident,
    knowledge_base,
    link,
    observed_indicator,
    partner_intel,
    responder_identity,
    sid,
)

HOSTILE = "<img src=x onerror=\"document.title='pwned'\">Evil</script>"
GREEN = marking_definition(TLP.GREEN)["id"]
RED = marking_definition(TLP.RED)["id"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        # Public knowledge is CLEAR (as `accord kb update` stores it); the partner's GREEN.
        opened.put_objects(knowledge_base(), "kb", "test kb", import_tlp=TLP.CLEAR)
        opened.put_objects(partner_intel(), "peer", "partner", import_tlp=TLP.GREEN)
        opened.put_objects([responder_identity()], "user", "ids", import_tlp=TLP.CLEAR)
        yield opened


def _attribute(store: Store, *, red_evidence: bool) -> AttributionResult:
    inc = {**incident(HOSTILE), "object_marking_refs": [GREEN]}
    loader = observed_indicator("loader", "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']")
    loader["object_marking_refs"] = [RED if red_evidence else GREEN]
    heron = observed_indicator("heron c2", "[ipv4-addr:value = '198.51.100.7']")
    heron["object_marking_refs"] = [GREEN]
    objects = [inc, loader, heron, link(inc, loader), link(inc, heron), link(inc, TECH["T9004"])]
    for o in objects[3:]:
        o["object_marking_refs"] = [GREEN]
    store.put_objects(objects, "file", "incident.json")
    return attribute_incident(store, inc["id"], None, save=False)


def test_the_report_is_marked_with_the_most_restricted_evidence(store: Store) -> None:
    result = _attribute(store, red_evidence=True)
    assert store.get_row(result.incident).tlp is TLP.GREEN
    assert any(e.ref == sid("indicator", "loader") for e in result.evidence)
    assert result_tlp(store, result) is TLP.RED
    assert result.tlp == "TLP:RED"  # set by the service, so every renderer has it
    statement = "marking-definition--" + "1" * 8 + "-1111-4111-8111-" + "1" * 12
    incident_markings = {"object_marking_refs": [GREEN, statement]}
    assert result_markings(result, incident_markings) == [RED, statement]
    page = render_html(result, result_tlp(store, result))
    assert page.count(">TLP:RED</div>") == 2


def test_the_stored_note_goes_no_further_than_its_most_restricted_evidence(store: Store):
    result = _attribute(store, red_evidence=True)
    saved_id, stored = save_attribution(store, result, RESPONDER)
    assert stored
    note = store.get(saved_id)
    assert note["object_marking_refs"] == [RED]
    assert store.get_row(saved_id).tlp is TLP.RED
    assert note["x_accord_attribution"]["tlp"] == "TLP:RED"


def test_a_bundle_laid_over_the_store_counts_its_own_markings(store: Store, tmp_path: Path):
    inc = {**incident("bundle case"), "object_marking_refs": [GREEN]}
    loader = observed_indicator("loader 2", "[file:hashes.'SHA-256' = '" + "cd" * 32 + "']")
    loader["object_marking_refs"] = [RED]
    links = [link(inc, loader), link(inc, TECH["T9004"])]
    for o in links:
        o["object_marking_refs"] = [GREEN]
    bundle = {"type": "bundle", "id": "bundle--" + "2" * 8 + "-2222-4222-8222-" + "2" * 12}
    bundle["objects"] = [inc, loader, *links]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(bundle))
    before = store.count_versions()
    result = attribute_bundle(store, path, None)
    assert result.tlp == "TLP:RED"
    assert store.count_versions() == before


def test_without_restricted_evidence_the_report_keeps_the_incident_level(store: Store) -> None:
    result = _attribute(store, red_evidence=False)
    assert result_tlp(store, result) is TLP.GREEN


def test_hostile_strings_are_escaped(store: Store) -> None:
    page = render_html(_attribute(store, red_evidence=False), TLP.GREEN)
    assert "<img" not in page
    assert "&lt;img src=x" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def _chrome_or_skip():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
    except ImportError:
        webdriver = None
    if not (chromium and driver and webdriver):
        reason = "Chromium, chromedriver and selenium are needed for the browser test"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; .ci/run installs them")
        pytest.skip(reason)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def test_the_report_in_a_real_browser(store: Store, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    result = _attribute(store, red_evidence=True)
    page = tmp_path / "report.html"
    page.write_text(render_html(result, result_tlp(store, result)), encoding="utf-8")
    browser = _chrome_or_skip()
    try:
        browser.get(page.as_uri())
        banners = browser.find_elements(By.CSS_SELECTOR, "div.tlp")
        assert [b.text for b in banners] == ["TLP:RED", "TLP:RED"]
        assert browser.find_element(By.ID, "verdict").text == result.verdict
        assert browser.find_element(By.ID, "summary").text == result.summary
        # The hostile incident name is shown as text and never became an element.
        assert HOSTILE in browser.find_element(By.TAG_NAME, "h1").text
        assert browser.find_elements(By.TAG_NAME, "img") == []
        assert browser.title.startswith("TLP:RED")
        rows = browser.find_elements(By.CSS_SELECTOR, "tr.hyp")
        assert len(rows) == len(result.hypotheses)
        # The script ran (its CSP hash matched): the leader is chosen, the rest hidden.
        visible = [d for d in browser.find_elements(By.CSS_SELECTOR, "details.weights")]
        assert [d.is_displayed() for d in visible] == [i == 0 for i in range(len(rows))]
        second = rows[1]
        second.click()
        assert "chosen" in second.get_attribute("class")
        assert visible[1].is_displayed() and not visible[0].is_displayed()
        name = second.find_element(By.CLASS_NAME, "name").text
        assert browser.find_element(By.ID, "chosen").text == name
        lit = browser.find_elements(By.CSS_SELECTOR, ".ach .lit")
        assert lit, "choosing a hypothesis highlights its ACH column"
        assert all(c.get_attribute("data-col") == "1" for c in lit)
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
    finally:
        browser.quit()
