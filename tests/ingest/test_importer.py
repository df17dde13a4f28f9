"""``import_file`` on STIX input: lossless, atomic, refusals that name the place and reason."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.ingest.context import ImportContext
from accord.ingest.importer import import_file
from accord.model.errors import InputError
from accord.model.tlp import TLP
from accord.store import Store
from tests.store.stix_helpers import (
    BACKENDS,
    FIXTURES,
    OTHER_CREATOR,
    RCERT,
    TLP2,
    by_version,
    indicator,
    load_objects,
    malware,
    open_module_store,
    write_bundle_file,
)


@pytest.fixture(scope="module", params=BACKENDS)
def mstore(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    yield from open_module_store(request, tmp_path_factory)


def _ctx(tlp: TLP | None = None, source: str = "") -> ImportContext:
    return ImportContext(identity_id=RCERT, source_name=source, tlp=tlp)


def _state(store: Store) -> tuple[int, dict[str, int]]:
    return store.count_versions(), store.count_by_type()


def _stored_versions(store: Store, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row.obj for obj_id in {o["id"] for o in objs} for row in store.versions(obj_id)]


def test_fixtures_import_losslessly(store: Store) -> None:
    """Every type, extension, custom property and version comes back exactly as given."""
    expected: list[dict[str, Any]] = []
    for name in ("all_types.json", "versions.json"):
        report = import_file(store, FIXTURES / name, _ctx(), "stix")
        assert report.ok and report.format == "stix"
        expected += load_objects(name)
    assert by_version(_stored_versions(store, expected)) == by_version(expected)
    actor = next(o for o in load_objects("versions.json") if o["type"] == "threat-actor")
    rows = store.versions(actor["id"])
    assert len(rows) == 4 and rows[-1].is_current and rows[-1].revoked
    assert store.get(actor["id"])["revoked"] is True  # type: ignore[index]
    # effective TLP per object: own marking, most restrictive, granular included
    objs = {o["id"]: o for o in expected}
    levels = {obj_id: store.get_row(obj_id).tlp for obj_id in objs}  # type: ignore[union-attr]
    report = next(o for o in expected if o["type"] == "report")
    assert levels[report["id"]] is TLP.RED  # GREEN object marking, RED granular marking
    sighting = next(o for o in expected if o["type"] == "sighting")
    assert levels[sighting["id"]] is TLP.RED
    hash_ind = next(o for o in expected if o["type"] == "indicator" and "MD5" in o["pattern"])
    assert levels[hash_ind["id"]] is TLP.GREEN  # TLP 1.0 GREEN
    vuln = next(o for o in expected if o["type"] == "vulnerability")
    assert levels[vuln["id"]] is TLP.CLEAR  # TLP 1.0 WHITE
    sco = next(o for o in expected if o["type"] == "mutex")
    assert levels[sco["id"]] is TLP.AMBER  # unmarked: node default


def test_reimport_is_a_no_op_and_records_the_new_source(mstore: Store, tmp_path: Path) -> None:
    objs = [malware(created_by_ref=RCERT), indicator("[ipv4-addr:value = '198.51.100.3']")]
    path = write_bundle_file(tmp_path / "a.json", objs)
    first = import_file(mstore, path, _ctx(), "stix")
    assert first.result.stored == 2
    before = _state(mstore)
    again = import_file(mstore, path, _ctx(), "stix")
    assert (again.result.stored, again.result.duplicates) == (0, 2)
    assert again.as_dict()["stored"] == 0 and again.as_dict()["duplicates"] == 2
    other = import_file(mstore, path, _ctx(source="peer-feed"), "stix")
    assert other.result.stored == 0
    assert _state(mstore) == before
    sources = [p["source_name"] for p in mstore.provenance(objs[0]["id"])]
    assert sources == [str(path), "peer-feed"]


def test_import_tlp_sets_the_index_only(mstore: Store, tmp_path: Path) -> None:
    unmarked = malware()
    marked = malware(object_marking_refs=[TLP2["clear"]])
    path = write_bundle_file(tmp_path / "b.json", [unmarked, marked])
    import_file(mstore, path, _ctx(tlp=TLP.RED), "stix")
    assert mstore.get_row(unmarked["id"]).tlp is TLP.RED  # type: ignore[union-attr]
    assert mstore.get_row(marked["id"]).tlp is TLP.CLEAR  # type: ignore[union-attr]
    assert mstore.get(unmarked["id"]) == unmarked  # no marking added to the object
    assert mstore.get(marked["id"]) == marked


def test_oasis_samples_round_trip(shared_dir: Path, store: Store) -> None:
    samples = sorted((shared_dir / "samples" / "stix").glob("*.json"))
    assert samples, "no OASIS samples found"
    for path in samples:
        data = json.loads(path.read_text("utf-8"))
        objs = data["objects"] if data.get("type") == "bundle" else [data]
        import_file(store, path, _ctx(), "stix")
        assert by_version(_stored_versions(store, objs)) == by_version(objs), path.name


# --- refusals: the whole file, with the place and the reason ------------------------------


def _many(n: int) -> list[dict[str, Any]]:
    return [
        indicator(f"[ipv4-addr:value = '10.{i // 65536}.{i // 256 % 256}.{i % 256}']")
        for i in range(n)
    ]


def _refuse(store: Store, path: Path) -> str:
    before = _state(store)
    with pytest.raises(InputError) as info:
        import_file(store, path, _ctx(), "stix")
    assert _state(store) == before, "a refused file must store nothing"
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message


def test_invalid_500th_object_refuses_the_whole_bundle(mstore: Store, tmp_path: Path) -> None:
    objs = _many(2600)  # crosses the writer's batch flush before the bad object
    bad = objs[2499]
    del bad["valid_from"]
    message = _refuse(mstore, write_bundle_file(tmp_path / "bad.json", objs))
    assert message == (
        f"{tmp_path / 'bad.json'}: object 2499 ({bad['id']}): "
        "missing required property 'valid_from'"
    )
    objs = _many(600)
    objs[499]["pattern"] = "[ipv4-addr:value = '1.2.3.4'"
    message = _refuse(mstore, write_bundle_file(tmp_path / "bad500.json", objs))
    assert f"object 499 ({objs[499]['id']}): invalid STIX pattern" in message
    assert mstore.get(objs[0]["id"]) is None


def test_version_conflict_midway_stores_nothing(mstore: Store, tmp_path: Path) -> None:
    v1 = malware(created_by_ref=RCERT)
    mstore.put_objects([v1])
    objs = [*_many(30), {**v1, "description": "silently changed"}, *_many(30)]
    message = _refuse(mstore, write_bundle_file(tmp_path / "conflict.json", objs))
    assert f"object 30 ({v1['id']}): version {v1['modified']} is already stored" in message


def test_foreign_creator_in_a_file(mstore: Store, tmp_path: Path) -> None:
    v1 = malware(created_by_ref=RCERT)
    mstore.put_objects([v1])
    v2 = {**v1, "modified": "2025-06-01T00:00:00Z", "created_by_ref": OTHER_CREATOR}
    message = _refuse(mstore, write_bundle_file(tmp_path / "foreign.json", [*_many(3), v2]))
    assert f"object 3 ({v1['id']}): {v1['id']} was created by {RCERT}" in message


def test_revoked_then_unrevoked_in_one_file(mstore: Store, tmp_path: Path) -> None:
    v1 = malware(created_by_ref=RCERT, revoked=True)
    v2 = {**v1, "modified": "2025-06-01T00:00:00Z", "revoked": False}
    message = _refuse(mstore, write_bundle_file(tmp_path / "revoked.json", [v1, v2]))
    assert "object 1" in message and "revocation is permanent" in message


def _bundle_text(objs: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objs})


REFUSALS: list[tuple[str, Any, str]] = [
    (
        "truncated",
        lambda objs: _bundle_text(objs)[:-60],
        "object 2: truncated or malformed JSON after 2 complete objects",
    ),
    (
        "wrong type",
        lambda objs: _bundle_text([*objs[:1], {**objs[1], "type": "Indicator"}]),
        "object 1 ({id1}): missing or invalid 'type': 'Indicator'",
    ),
    (
        "wrong id type",
        lambda objs: _bundle_text([*objs[:1], {**objs[1], "type": "malware", "is_family": True}]),
        "object 1 ({id1}): 'id' must be 'malware--<uuid>'",
    ),
    (
        "wrong top-level type",
        lambda objs: json.dumps({"type": "report", "objects": objs}),
        "top-level 'type' is 'report', not 'bundle'",
    ),
    (
        "unbalanced pattern",
        lambda objs: _bundle_text([*objs[:1], {**objs[1], "pattern": "[ipv4-addr:value = '1.2"}]),
        "object 1 ({id1}): invalid STIX pattern",
    ),
    (
        "pattern syntax",
        lambda objs: _bundle_text(
            [*objs[:1], {**objs[1], "pattern": "[ipv4-addr:value = '1.2.3.4'] AND"}]
        ),
        "object 1 ({id1}): invalid STIX pattern \"[ipv4-addr:value = '1.2.3.4'] AND\"",
    ),
    (
        "semantically wrong pattern",
        lambda objs: _bundle_text(
            [
                *objs[:1],
                {**objs[1], "pattern": "[file:hashes.'SHA-256' = 'aa'] AND [file:name = 'x']"},
            ]
        ),
        "object 1 ({id1}): invalid STIX pattern \"[file:hashes.'SHA-256' = 'aa'] AND "
        "[file:name = 'x']\": FAIL: 'aa' is not a valid SHA-256 hash",
    ),
    (
        "bad month",
        lambda objs: _bundle_text([*objs[:1], {**objs[1], "valid_from": "2025-13-01T00:00:00Z"}]),
        "object 1 ({id1}): property 'valid_from': invalid date or time in '2025-13-01T00:00:00Z'",
    ),
    (
        "missing Z",
        lambda objs: _bundle_text([*objs[:1], {**objs[1], "modified": "2025-01-01T00:00:00"}]),
        "object 1 ({id1}): property 'modified': not a STIX timestamp",
    ),
    (
        "missing property",
        lambda objs: _bundle_text(
            [*objs[:1], {k: v for k, v in objs[1].items() if k != "pattern_type"}]
        ),
        "object 1 ({id1}): missing required property 'pattern_type'",
    ),
    (
        "STIX 2.0 bundle",
        lambda objs: json.dumps(
            {
                "type": "bundle",
                "id": f"bundle--{uuid.uuid4()}",
                "spec_version": "2.0",
                "objects": objs,
            }
        ),
        "bundle: this is a STIX 2.0 bundle (spec_version '2.0')",
    ),
    (
        "STIX 2.0 objects",
        lambda objs: _bundle_text(
            [*objs[:1], {k: v for k, v in objs[1].items() if k != "spec_version"}]
        ),
        "object 1 ({id1}): no 'spec_version': this is STIX 2.0 content",
    ),
]


@pytest.mark.parametrize(
    ("case", "make", "expected"), REFUSALS, ids=[case for case, _, _ in REFUSALS]
)
def test_invalid_files_are_refused_whole(
    mstore: Store, tmp_path: Path, case: str, make: Any, expected: str
) -> None:
    objs = [malware(), indicator("[ipv4-addr:value = '198.51.100.9']"), malware()]
    path = tmp_path / "in.json"
    path.write_text(make(objs), "utf-8")
    message = _refuse(mstore, path)
    assert message.startswith(f"{path}: {expected.format(id1=objs[1]['id'])}"), message
    assert mstore.get(objs[0]["id"]) is None


def test_empty_pattern_is_an_input_error(mstore: Store, tmp_path: Path) -> None:
    path = write_bundle_file(tmp_path / "empty.json", [indicator("")])
    assert "object 0" in _refuse(mstore, path)


def test_wrong_hash_in_a_simple_pattern_is_refused(mstore: Store, tmp_path: Path) -> None:
    bad = indicator("[file:hashes.'SHA-256' = 'not-a-hash']")
    message = _refuse(mstore, write_bundle_file(tmp_path / "hash.json", [bad]))
    assert f"object 0 ({bad['id']}): invalid STIX pattern" in message


def test_missing_file_and_unknown_format(mstore: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        import_file(mstore, tmp_path / "absent.json", _ctx(), "stix")
    path = write_bundle_file(tmp_path / "ok.json", [malware()])
    with pytest.raises(InputError, match="unknown format 'xml'"):
        import_file(mstore, path, _ctx(), "xml")


def test_auto_format_detects_stix(mstore: Store, tmp_path: Path) -> None:
    obj = malware()
    report = import_file(mstore, write_bundle_file(tmp_path / "auto.json", [obj]), _ctx())
    assert report.format == "stix"
    assert mstore.get(obj["id"]) == obj


def test_progress_callbacks(mstore: Store, tmp_path: Path) -> None:
    path = write_bundle_file(tmp_path / "p.json", _many(2100))
    positions: list[int] = []
    counted: list[int] = []
    import_file(
        mstore, path, _ctx(), "stix", on_position=positions.append, on_object=counted.append
    )
    assert positions and max(positions) == path.stat().st_size
    assert sum(counted) == 2000


# --- streaming ---------------------------------------------------------------------------

N_STREAM = 200_000
_TEMPLATE = (
    '{{"type": "indicator", "spec_version": "2.1", "id": "indicator--{uuid}", '
    '"created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", '
    '"pattern": "[ipv4-addr:value = \'10.{a}.{b}.{c}\']", "pattern_type": "stix", '
    '"valid_from": "2025-01-01T00:00:00Z"}}'
)

# Run in a child process so that ru_maxrss (a high-water mark) measures this import alone.
_CHILD = """
import json, resource, sys
from pathlib import Path
from accord.ingest.context import ImportContext
from accord.ingest.importer import import_file
from accord.store import Store
store = Store.open(sys.argv[2])
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ctx = ImportContext(identity_id=sys.argv[3], source_name="big")
report = import_file(store, Path(sys.argv[1]), ctx, "stix")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth": (peak - baseline) * 1024, "stored": report.result.stored}))
"""


def _big_lines(n: int) -> Iterator[str]:
    for i in range(n):
        ident = uuid.UUID(int=(0x4A << 120) | i, version=4)
        yield _TEMPLATE.format(uuid=ident, a=i >> 16, b=(i >> 8) & 255, c=i & 255)


def _parsed_size(n: int) -> int:
    """Bytes of Python objects the first ``n`` indicators take once parsed whole."""
    text = "[" + ",".join(_big_lines(n)) + "]"
    tracemalloc.start()
    try:
        parsed = json.loads(text)
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parsed) == n
    return size


@pytest.mark.slow
def test_large_bundle_streams_with_bounded_memory(tmp_path: Path) -> None:
    """SQLite only: the point is the reader and writer, not the server's memory."""
    path = tmp_path / "big.json"
    with path.open("w", encoding="utf-8") as out:
        out.write('{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c8e8d5a5", ')
        out.write('"objects": [\n')
        out.write(",\n".join(_big_lines(N_STREAM)))
        out.write("\n]}\n")
    assert path.stat().st_size > 50_000_000
    parsed_whole = _parsed_size(10_000) * (N_STREAM // 10_000)
    assert parsed_whole > 150_000_000  # the Python objects alone, were the file loaded whole
    url = f"sqlite:///{tmp_path / 'big.db'}"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), url, RCERT],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["stored"] == N_STREAM
    with Store.open(url) as store:
        assert store.count_by_type() == {"indicator": N_STREAM}
    # Bounded: the SQLite page cache (up to 256 MB while writing, see Store.writer) and
    # batch buffers, not the parsed bundle (which would also need the 60 MB of text).
    # About 60 MB measured here (worker processes, separate, hold ~80 MB each).
    assert result["growth"] < 150_000_000, f"RSS grew by {result['growth'] / 1e6:.0f} MB"
    assert result["growth"] < parsed_whole
