"""Loading knowledge bases into the store: counts, stable ids, no-op re-runs, new versions."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from accord.ingest.kb import find_intrusion_sets, kb_status, update_actors, update_attack
from accord.ingest.kb.actors import MISP_IDENTITY_ID
from accord.ingest.kb.attack import GROUPS, MITRE_IDENTITY_ID, load_attack_clusters
from accord.ingest.kb.common import stable_id
from accord.model.tlp import TLP
from accord.store import Store

APT29 = "intrusion-set--899ce53f-13a0-479b-a0e4-67d46e241542"
APT29_VALUE = "APT29 - G0016"
# T1566.001 Spearphishing Attachment, which APT29 uses.
SPEARPHISHING_ATTACHMENT = "attack-pattern--2e34237d-8574-43f6-aace-ae2915de8597"


def test_full_load_on_each_backend(store: Store) -> None:
    attack = update_attack(store)
    actors = update_actors(store)
    assert attack.stored == attack.new == sum(attack.objects.values())
    assert actors.unchanged == 1  # the TLP:CLEAR marking the ATT&CK load already stored
    status = kb_status(store)
    assert status["attack"]["objects"]["intrusion-set"] >= 150
    assert status["attack"]["objects"]["attack-pattern"] >= 600
    software = status["attack"]["objects"]["malware"] + status["attack"]["objects"]["tool"]
    assert software >= 600
    assert status["actors"]["objects"]["intrusion-set"] >= 800
    assert store.get_meta("kb.attack.version") == attack.version
    assert store.get_meta("kb.actors.version") == actors.version
    versions = store.count_versions()

    again = update_attack(store), update_actors(store)
    assert [r.stored for r in again] == [0, 0]
    assert [r.unchanged for r in again] == [attack.received, actors.received]
    assert store.count_versions() == versions
    found = {o["id"]: o for o in find_intrusion_sets(store, "Cozy Bear")}
    assert APT29 in found
    assert found[APT29]["created_by_ref"] == MITRE_IDENTITY_ID
    misp = [o for o in found.values() if o["created_by_ref"] == MISP_IDENTITY_ID]
    assert [o["name"] for o in misp] == ["APT29"]
    same = stable_id("relationship", misp[0]["id"], "duplicate-of", APT29)
    assert same in {src for src, _ in store.referencing(APT29, "target_ref")}
    assert status["actors"]["objects"]["relationship"] >= 150


@pytest.fixture(scope="module")
def loaded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store with ATT&CK, loaded once and copied per test."""
    path = tmp_path_factory.mktemp("kb") / "template.db"
    store = Store.open(f"sqlite:///{path}", TLP.AMBER)
    try:
        update_attack(store)
    finally:
        store.close()
    return path


@pytest.fixture
def loaded(loaded_template: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "store.db"
    shutil.copyfile(loaded_template, path)
    store = Store.open(f"sqlite:///{path}", TLP.AMBER)
    try:
        yield store
    finally:
        store.close()


def _received(result: Any) -> int:
    return sum(result.objects.values())


def test_changed_upstream_entry_becomes_a_new_version(loaded: Store) -> None:
    clusters = load_attack_clusters()
    clusters[GROUPS][APT29_VALUE].description = "Changed upstream."
    first = datetime(2030, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    result = update_attack(loaded, clusters=clusters, now=first)
    assert (result.updated, result.new, result.retired) == (1, 0, 0)
    assert result.stored_by_type == {"intrusion-set": 1}
    versions = loaded.versions(APT29)
    assert [v.obj["modified"] for v in versions] == [
        "2017-01-01T00:00:00.000Z",
        "2030-05-01T12:00:00.123Z",
    ]
    current = loaded.get(APT29)
    assert current is not None
    assert current["description"] == "Changed upstream."
    assert current["created"] == "2017-01-01T00:00:00.000Z"
    assert "Cozy Bear" in current["aliases"]

    # The same upstream data again: nothing new, although `modified` differs from the build.
    assert update_attack(loaded, clusters=clusters).stored == 0

    # Another change, with a clock behind the stored version: still strictly later.
    clusters[GROUPS][APT29_VALUE].description = "Changed twice."
    update_attack(loaded, clusters=clusters, now=datetime(2029, 1, 1, tzinfo=UTC))
    assert loaded.get(APT29)["modified"] == "2030-05-01T12:00:00.124Z"  # type: ignore[index]


def test_link_dropped_upstream_is_retired(loaded: Store) -> None:
    clusters = load_attack_clusters()
    apt29 = clusters[GROUPS][APT29_VALUE]
    target = SPEARPHISHING_ATTACHMENT.split("--")[1]
    assert any(r["dest-uuid"] == target for r in apt29.related)
    apt29.related = [r for r in apt29.related if r["dest-uuid"] != target]
    result = update_attack(loaded, clusters=clusters)
    assert (result.retired, result.updated, result.new) == (1, 0, 0)
    link = loaded.get(stable_id("relationship", APT29, "uses", SPEARPHISHING_ATTACHMENT))
    assert link is not None and link["revoked"] is True
    # Once retired, a second run has nothing left to do.
    assert update_attack(loaded, clusters=clusters).stored == 0


def test_newer_version_from_elsewhere_is_kept(loaded: Store) -> None:
    official = dict(loaded.get(SPEARPHISHING_ATTACHMENT) or {})
    official.update(modified="2024-04-10T17:00:00.000Z", description="From MITRE's bundle.")
    loaded.put_objects([official], "file", "enterprise-attack.json", TLP.CLEAR)
    clusters = load_attack_clusters()
    clusters[GROUPS][APT29_VALUE].description = "Changed upstream."
    result = update_attack(loaded, clusters=clusters)
    assert result.kept == 1
    assert result.updated == 1  # APT29 itself, which only the galaxy had
    current = loaded.get(SPEARPHISHING_ATTACHMENT)
    assert current is not None and current["description"] == "From MITRE's bundle."


def test_group_keeps_its_id_and_is_findable_by_every_name(loaded: Store) -> None:
    for name in ("Cozy Bear", "cozy  bear", "G0016", "NOBELIUM", "apt29"):
        ids = {o["id"] for o in find_intrusion_sets(loaded, name)}
        assert APT29 in ids, name
    assert APT29 not in {o["id"] for o in find_intrusion_sets(loaded, "APT2")}
    assert find_intrusion_sets(loaded, "no such group anywhere") == []


def test_status_reports_versions_and_counts(loaded: Store) -> None:
    status = kb_status(loaded)
    attack = status["attack"]
    assert attack["loaded"] is True
    assert attack["clusters"][GROUPS] >= 1
    assert attack["source"].startswith("pymispgalaxies ")
    assert attack["revoked"] > 0  # revoked ATT&CK entries, kept for old references
    assert status["actors"]["loaded"] is False
    assert set(status["warninglists"]) >= {"available", "lists", "entries"}
