"""STIX import with worker processes: same result as in-process, atomic, errors by place.

The scanner's chunk is made small here so that even a small file crosses many segments
and therefore many workers' batches.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from accord.ingest import prepare_pool, stix_scan
from accord.ingest.context import ImportContext
from accord.ingest.importer import import_file
from accord.model.errors import AccordError, InputError, VersionConflict
from accord.store import Store
from tests.store.stix_helpers import RCERT, indicator, malware, write_bundle_file


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stix_scan, "CHUNK_BYTES", 4096)


def _ctx() -> ImportContext:
    return ImportContext(identity_id=RCERT, source_name="parallel")


def _objects(n: int) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for i in range(n):
        if i % 3 == 0:
            objs.append(malware(name=f"family {i}", created_by_ref=RCERT))
        else:
            objs.append(indicator(f"[ipv4-addr:value = '10.9.{i // 256 % 256}.{i % 256}']"))
    return objs


def _state(store: Store) -> tuple[int, dict[str, int]]:
    return store.count_versions(), store.count_by_type()


def _dump(store: Store) -> list[tuple[str, str, bool, int]]:
    """Every stored row in date_added order: what a parallel import must reproduce."""
    return [(r.id, r.body, r.is_current, r.tlp) for r in store.iter_rows(all_versions=True)]


def test_workers_store_what_an_in_process_import_stores(tmp_path: Path) -> None:
    path = write_bundle_file(tmp_path / "b.json", _objects(900))
    dumps = []
    for workers in (0, 2):
        with Store.open(f"sqlite:///{tmp_path / f'w{workers}.db'}") as store:
            report = import_file(store, path, _ctx(), "stix", workers=workers)
            assert report.result.stored == 900
            dumps.append(_dump(store))
    assert dumps[0] == dumps[1]
    in_file = [obj["id"] for obj in json.loads(path.read_text("utf-8"))["objects"]]
    assert [row[0] for row in dumps[1]] == in_file  # date_added follows the file


def test_bad_object_in_the_middle_refuses_the_whole_file(store: Store, tmp_path: Path) -> None:
    objs = _objects(900)
    del objs[601]["pattern_type"]
    path = write_bundle_file(tmp_path / "bad.json", objs)
    before = _state(store)
    with pytest.raises(InputError) as info:
        import_file(store, path, _ctx(), "stix", workers=2)
    assert str(info.value) == (
        f"{path}: object 601 ({objs[601]['id']}): missing required property 'pattern_type'"
    )
    assert _state(store) == before
    assert store.get(objs[0]["id"]) is None


def test_version_conflict_found_by_the_writer_refuses_the_file(
    store: Store, tmp_path: Path
) -> None:
    stored = malware(created_by_ref=RCERT)
    store.put_objects([stored])
    objs = [*_objects(500), {**stored, "description": "changed"}, *_objects(300)]
    path = write_bundle_file(tmp_path / "conflict.json", objs)
    before = _state(store)
    with pytest.raises(InputError, match=r"object 500 \(.*\): version .* already stored"):
        import_file(store, path, _ctx(), "stix", workers=2)
    assert _state(store) == before


def _die(segment: object) -> None:
    os._exit(9)  # a worker killed mid-import, as the OOM killer would


def test_a_worker_that_dies_fails_the_import_clearly_and_stores_nothing(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare_pool, "_prepare_in_worker", _die)
    path = write_bundle_file(tmp_path / "w.json", _objects(600))
    before = _state(store)
    with pytest.raises(AccordError, match=r"worker process .* stopped unexpectedly"):
        import_file(store, path, _ctx(), "stix", workers=2)
    assert _state(store) == before


def test_truncated_file_is_refused_whole(store: Store, tmp_path: Path) -> None:
    path = write_bundle_file(tmp_path / "t.json", _objects(600))
    path.write_bytes(path.read_bytes()[:-500])
    before = _state(store)
    with pytest.raises(InputError, match="truncated or malformed JSON after"):
        import_file(store, path, _ctx(), "stix", workers=2)
    assert _state(store) == before


def test_progress_is_reported_per_thousand_objects(store: Store, tmp_path: Path) -> None:
    path = write_bundle_file(tmp_path / "p.json", _objects(2100))
    counted: list[int] = []
    positions: list[int] = []
    import_file(
        store,
        path,
        _ctx(),
        "stix",
        on_position=positions.append,
        on_object=counted.append,
        workers=2,
    )
    assert sum(counted) == 2000 and set(counted) == {1000}
    assert max(positions) == path.stat().st_size


def test_input_errors_survive_pickling() -> None:
    for error in (InputError("object 3 (x)", "why"), VersionConflict("object 4", "conflict")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (copy.place, copy.reason, str(copy)) == (error.place, error.reason, str(error))
