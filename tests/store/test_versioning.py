"""STIX versioning rules in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.model.errors import ForeignCreator, InputError, RevokedObject, VersionConflict
from accord.model.tlp import TLP, tlp1_marking_definition
from accord.store import Store
from accord.store.store import content_hash
from tests.store.stix_helpers import (
    BACKENDS,
    OTHER_CREATOR,
    RCERT,
    TLP2,
    indicator,
    malware,
    new_id,
    open_module_store,
)


@pytest.fixture(scope="module", params=BACKENDS)
def mstore(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    yield from open_module_store(request, tmp_path_factory)


MODS = [
    "2025-01-01T00:00:00.000Z",
    "2025-02-01T00:00:00.000Z",
    "2025-02-01T00:00:00.000001Z",
    "2025-03-01T00:00:00Z",
]


def _versions(n: int = 4, **props: Any) -> list[dict[str, Any]]:
    base = malware(created=MODS[0], created_by_ref=RCERT, **props)
    return [{**base, "modified": MODS[i], "description": f"version {i}"} for i in range(n)]


def _state(store: Store) -> tuple[int, dict[str, int]]:
    return store.count_versions(), store.count_by_type()


def test_every_arrival_order_makes_the_latest_modified_current(mstore: Store) -> None:
    for order in itertools.permutations(range(4)):
        versions = _versions()
        for i in order:
            mstore.put_objects([versions[i]])
        _assert_history(mstore, versions)


def test_versions_in_one_batch_out_of_order(mstore: Store) -> None:
    versions = _versions()
    result = mstore.put_objects([versions[2], versions[0], versions[3], versions[1]])
    assert result.stored == 4 and result.duplicates == 0
    _assert_history(mstore, versions)


def test_versions_one_per_write_out_of_order(mstore: Store) -> None:
    versions = _versions()
    for i in (1, 3, 0, 2):
        mstore.put_objects([versions[i]])
    _assert_history(mstore, versions)


def _assert_history(store: Store, versions: list[dict[str, Any]]) -> None:
    obj_id = versions[0]["id"]
    assert store.get(obj_id) == versions[-1]
    history = store.versions(obj_id)
    assert [row.obj for row in history] == versions  # oldest modified first, bodies whole
    assert [row.is_current for row in history] == [False] * (len(versions) - 1) + [True]
    assert store.get_row(obj_id).is_current  # type: ignore[union-attr]
    assert list(store.get_many([obj_id])) == [obj_id]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.datetimes(
            min_value=datetime(2020, 1, 1),
            max_value=datetime(2030, 1, 1),
        ),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    st.randoms(use_true_random=False),
    st.integers(1, 3),
)
def test_random_orderings_make_the_max_modified_current(
    mstore: Store, stamps: list[Any], rnd: random.Random, batch: int
) -> None:
    base = malware(created="2019-01-01T00:00:00Z", created_by_ref=RCERT)
    versions = [
        {**base, "modified": s.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "x_n": i}
        for i, s in enumerate(stamps)
    ]
    shuffled = versions[:]
    rnd.shuffle(shuffled)
    for start in range(0, len(shuffled), batch):
        mstore.put_objects(shuffled[start : start + batch])
    latest = max(versions, key=lambda v: v["modified"])
    assert mstore.get(base["id"]) == latest
    rows = mstore.versions(base["id"])
    assert len(rows) == len(versions)
    assert [r.obj["modified"] for r in rows if r.is_current] == [latest["modified"]]


def test_same_version_different_content_is_a_conflict_and_stores_nothing(mstore: Store) -> None:
    v1 = _versions(1)[0]
    mstore.put_objects([v1])
    before = _state(mstore)
    other = malware(created_by_ref=RCERT)
    changed = {**v1, "description": "changed without a new modified"}
    with pytest.raises(VersionConflict) as info:
        mstore.put_objects([other, changed])
    message = str(info.value)
    assert f"object 1 ({v1['id']})" in message
    assert f"version {v1['modified']} is already stored with different content" in message
    assert _state(mstore) == before
    assert mstore.get(other["id"]) is None
    assert mstore.get(v1["id"]) == v1


def test_conflict_inside_one_batch(mstore: Store) -> None:
    v1 = _versions(1)[0]
    before = _state(mstore)
    with pytest.raises(VersionConflict, match=r"object 1 \("):
        mstore.put_objects([v1, {**v1, "description": "twin"}])
    assert _state(mstore) == before


def test_key_order_and_whitespace_do_not_make_a_conflict(mstore: Store) -> None:
    v1 = _versions(1)[0]
    mstore.put_objects([v1])
    reordered = dict(reversed(list(v1.items())))
    assert content_hash(reordered) == content_hash(v1)
    result = mstore.put_objects([reordered])
    assert (result.stored, result.duplicates) == (0, 1)


def test_same_version_with_other_timestamp_precision_is_a_duplicate(mstore: Store) -> None:
    v1 = malware(created="2025-01-01T00:00:00Z", modified="2025-01-01T00:00:00Z")
    mstore.put_objects([v1])
    reserialised = {**v1, "created": "2025-01-01T00:00:00.000Z"}
    reserialised["modified"] = "2025-01-01T00:00:00.000Z"
    result = mstore.put_objects([reserialised])
    assert (result.stored, result.duplicates) == (0, 1)


def test_new_version_must_keep_created(mstore: Store) -> None:
    v1, v2 = _versions(2)
    mstore.put_objects([v1])
    with pytest.raises(InputError, match="created"):
        mstore.put_objects([{**v2, "created": "2024-12-31T00:00:00.000Z"}])


def test_standard_tlp_definition_variants_do_not_block_a_file(mstore: Store) -> None:
    canonical = tlp1_marking_definition(TLP.GREEN)
    mstore.put_objects([canonical])
    variant = {**canonical, "created": "2017-01-20T00:00:00Z", "x_opencti_order": 2}
    obj = malware(object_marking_refs=[canonical["id"]])
    mstore.put_objects([variant, obj])
    assert mstore.get(obj["id"]) == obj
    assert mstore.get(canonical["id"]) == canonical


def test_foreign_creator_is_refused(mstore: Store) -> None:
    v1, v2 = _versions(2)
    mstore.put_objects([v1])
    before = _state(mstore)
    with pytest.raises(ForeignCreator) as info:
        mstore.put_objects([{**v2, "created_by_ref": OTHER_CREATOR}])
    message = str(info.value)
    assert f"{v1['id']} was created by {RCERT}" in message
    assert f"this version names {OTHER_CREATOR}" in message
    assert "only the creator may version an object" in message
    assert _state(mstore) == before


def test_dropping_the_creator_is_foreign_too(mstore: Store) -> None:
    v1, v2 = _versions(2)
    mstore.put_objects([v1])
    unnamed = {k: v for k, v in v2.items() if k != "created_by_ref"}
    with pytest.raises(ForeignCreator, match="names no creator"):
        mstore.put_objects([unnamed])


def test_foreign_creator_on_an_older_version_is_refused(mstore: Store) -> None:
    v1, v2 = _versions(2)
    mstore.put_objects([v2])
    with pytest.raises(ForeignCreator):
        mstore.put_objects([{**v1, "created_by_ref": OTHER_CREATOR}])


def test_unversioned_creator_rule_within_a_batch(mstore: Store) -> None:
    v1, v2 = _versions(2)
    before = _state(mstore)
    with pytest.raises(ForeignCreator):
        mstore.put_objects([v1, {**v2, "created_by_ref": OTHER_CREATOR}])
    assert _state(mstore) == before


def test_revocation_is_permanent(mstore: Store) -> None:
    v1, v2, v3 = _versions(3)
    revoked = {**v2, "revoked": True}
    mstore.put_objects([v1, revoked])
    before = _state(mstore)
    with pytest.raises(RevokedObject) as info:
        mstore.put_objects([v3])
    assert f"{v1['id']} was revoked; revocation is permanent" in str(info.value)
    assert _state(mstore) == before
    assert mstore.get(v1["id"]) == revoked
    assert mstore.get_row(v1["id"]).revoked  # type: ignore[union-attr]
    # A later version that stays revoked is allowed.
    mstore.put_objects([{**v3, "revoked": True}])
    assert mstore.get(v1["id"])["modified"] == v3["modified"]  # type: ignore[index]


def test_older_history_after_a_revocation_is_accepted(mstore: Store) -> None:
    v1, v2, v3 = _versions(3)
    revoked = {**v3, "revoked": True}
    mstore.put_objects([v1, revoked])
    result = mstore.put_objects([v2])
    assert result.stored == 1
    assert mstore.get(v1["id"]) == revoked
    assert len(mstore.versions(v1["id"])) == 3


def test_revocation_arriving_before_a_stored_later_version_is_refused(mstore: Store) -> None:
    v1, v2, v3 = _versions(3)
    mstore.put_objects([v1, v3])
    with pytest.raises(RevokedObject):
        mstore.put_objects([{**v2, "revoked": True}])


def test_identical_reimport_is_a_no_op_with_provenance(mstore: Store) -> None:
    versions = _versions(2)
    first = mstore.put_objects(versions, "file", "a.json")
    assert (first.stored, first.duplicates) == (2, 0)
    before = _state(mstore)
    added = {r.modified_us: r.date_added_us for r in mstore.versions(versions[0]["id"])}

    again = mstore.put_objects(versions, "file", "a.json")
    assert (again.stored, again.duplicates, again.received) == (0, 2, 2)
    assert again.by_type == {}
    assert len(mstore.provenance(versions[0]["id"])) == 2

    other = mstore.put_objects(versions, "peer", "peer-b")
    assert (other.stored, other.duplicates) == (0, 2)
    assert _state(mstore) == before
    prov = mstore.provenance(versions[0]["id"])
    assert sorted((p["source_kind"], p["source_name"]) for p in prov) == [
        ("file", "a.json"),
        ("file", "a.json"),
        ("peer", "peer-b"),
        ("peer", "peer-b"),
    ]
    # date_added describes the first arrival and never moves.
    assert {r.modified_us: r.date_added_us for r in mstore.versions(versions[0]["id"])} == added


def test_duplicate_within_one_write_is_counted_once(mstore: Store) -> None:
    v1 = _versions(1)[0]
    result = mstore.put_objects([v1, dict(v1), dict(v1)])
    assert (result.stored, result.duplicates) == (1, 2)
    assert len(mstore.provenance(v1["id"])) == 1


def test_date_added_strictly_increasing_across_and_within_writes(mstore: Store) -> None:
    batch = [indicator(f"[ipv4-addr:value = '198.51.100.{i}']") for i in range(50)]
    mstore.put_objects(batch[:20])
    mstore.put_objects(batch[20:21])
    with mstore.writer("user", "t") as writer:
        for i, obj in enumerate(batch[21:]):
            writer.put(obj, f"object {i}")
            if i == 10:
                writer.flush()
    ours = {o["id"] for o in batch}
    rows = [r for r in mstore.iter_rows(batch=7) if r.id in ours]
    added = [r.date_added_us for r in rows]
    assert len(added) == 50
    assert all(b > a for a, b in itertools.pairwise(added))
    assert [r.id for r in rows] == [o["id"] for o in batch]  # in write order


def test_date_added_steps_by_one_microsecond_when_the_clock_is_ahead(store: Store) -> None:
    future = 4_102_444_800_000_000  # 2100-01-01 in microseconds
    store.set_meta("clock", str(future))
    store.put_objects([malware(), malware()])
    added = sorted(r.date_added_us for r in store.iter_rows())
    assert added == [future + 1, future + 2]


def test_scos_and_markings_are_unversioned(mstore: Store) -> None:
    ip = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": new_id("ipv4-addr"),
        "value": "192.0.2.1",
    }
    marking = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": new_id("marking-definition"),
        "created": "2025-01-01T00:00:00Z",
        "definition_type": "statement",
        "definition": {"statement": "Fictional"},
    }
    mstore.put_objects([ip, marking])
    assert mstore.put_objects([ip, marking]).duplicates == 2
    for obj in (ip, marking):
        rows = mstore.versions(obj["id"])
        assert len(rows) == 1 and rows[0].modified_us == 0 and rows[0].is_current
    with pytest.raises(VersionConflict, match="this object is already stored with different"):
        mstore.put_objects([{**ip, "value": "192.0.2.2"}])
    with pytest.raises(VersionConflict):
        mstore.put_objects([{**marking, "definition": {"statement": "changed"}}])
    # an SCO with a stray 'modified' is still not a new version
    with pytest.raises(VersionConflict):
        mstore.put_objects([{**ip, "x_note": "n", "modified": "2025-05-01T00:00:00Z"}])


def test_writer_exception_rolls_back_everything(mstore: Store) -> None:
    mstore.put_objects([malware()])
    before = _state(mstore)
    with pytest.raises(RuntimeError), mstore.writer("user", "t") as writer:
        for i in range(2500):  # crosses a BATCH_SIZE flush
            writer.put(indicator(f"[ipv4-addr:value = '10.0.{i // 256}.{i % 256}']"), str(i))
        raise RuntimeError("operator pressed ctrl-c")
    assert _state(mstore) == before


def test_invalid_object_is_refused_with_place_and_id(mstore: Store) -> None:
    bad = malware()
    del bad["is_family"]
    before = _state(mstore)
    with pytest.raises(InputError) as info:
        mstore.put_objects([malware(), bad])
    assert str(info.value) == f"object 1 ({bad['id']}): missing required property 'is_family'"
    assert _state(mstore) == before


def test_tlp_index_column_and_body_untouched(mstore: Store) -> None:
    unmarked = malware()
    marked = malware(object_marking_refs=[TLP2["green"]])
    mstore.put_objects([unmarked, marked], import_tlp=TLP.RED)
    assert mstore.get_row(unmarked["id"]).tlp is TLP.RED  # type: ignore[union-attr]
    assert mstore.get_row(marked["id"]).tlp is TLP.GREEN  # type: ignore[union-attr]
    assert mstore.get(unmarked["id"]) == unmarked
    assert "object_marking_refs" not in mstore.get(unmarked["id"])  # type: ignore[operator]
    plain = malware()
    mstore.put_objects([plain])
    assert mstore.get_row(plain["id"]).tlp is TLP.AMBER  # type: ignore[union-attr]
    green = mstore.ids_by_marking(TLP2["green"])
    assert marked["id"] in green and unmarked["id"] not in green


def test_node_default_tlp_is_configurable(mstore: Store) -> None:
    green_store = Store(mstore.engine, TLP.GREEN)  # the same database, another node default
    obj = malware()
    green_store.put_objects([obj])
    assert green_store.get_row(obj["id"]).tlp is TLP.GREEN  # type: ignore[union-attr]
    assert mstore.get_row(obj["id"]).tlp is TLP.GREEN  # type: ignore[union-attr]


def test_unknown_source_kind_is_refused(mstore: Store) -> None:
    with pytest.raises(ValueError, match="unknown source kind"):
        mstore.put_objects([malware()], source_kind="carrier-pigeon")


def test_concurrent_writers_keep_date_added_unique_and_ordered(mstore: Store) -> None:
    """Writers serialise on the clock: no two versions share a date_added, and a later
    commit never gets an earlier date_added (TAXII paging by added_after relies on it)."""
    from concurrent.futures import ThreadPoolExecutor

    batches = [
        [malware(x_writer=w, x_batch=b) for _ in range(15)] for w in range(4) for b in range(3)
    ]

    def write(batch: list[dict[str, Any]]) -> None:
        mstore.put_objects(batch, "peer", f"writer-{batch[0]['x_writer']}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, batches))
    ours = {o["id"] for batch in batches for o in batch}
    rows = [r for r in mstore.iter_rows() if r.id in ours]
    assert len(rows) == 180
    added = [r.date_added_us for r in sorted(rows, key=lambda r: r.row_id)]
    assert added == sorted(added) and len(set(added)) == len(added)
    for batch in batches:  # each write is contiguous in date_added order
        positions = sorted(i for i, r in enumerate(rows) if r.id in {o["id"] for o in batch})
        assert positions == list(range(positions[0], positions[0] + len(batch)))
