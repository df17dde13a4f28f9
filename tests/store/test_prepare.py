"""What the store derives from an object alone, and the writer's bulk settings."""

from __future__ import annotations

import gc
import hashlib
import pickle
from functools import partial
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from accord.ingest.importer import gc_paused
from accord.model.errors import InputError
from accord.model.timestamps import format_micros, stix_micros
from accord.model.tlp import TLP, marking_definition
from accord.store import Store
from accord.store.db import SQLITE_CACHE_KIB
from accord.store.prepare import Prepared, content_hash, prepare
from tests.store.stix_helpers import RCERT, TLP2, indicator, malware, sdo


def test_content_hash_is_the_hash_of_canonical_json() -> None:
    """The stored hashes of existing stores must stay valid: same recipe as always."""
    obj = indicator("[ipv4-addr:value = '198.51.100.7']", valid_from="2025-01-01T00:00:00Z", x_n=1)
    canonical = dict(obj)
    for key in ("created", "modified", "valid_from"):
        canonical[key] = format_micros(stix_micros(obj[key]))
    expected = hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert content_hash(obj) == expected
    assert content_hash({**obj, "valid_until": "not a time"}) != expected  # kept as written


def test_prepared_rows() -> None:
    rel = sdo(
        "relationship",
        relationship_type="indicates",
        source_ref="indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        target_ref="malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        created_by_ref=RCERT,
        object_marking_refs=[TLP2["green"], TLP2["green"]],
    )
    p = prepare(rel, "object 7")
    assert p.described == f"object 7 ({rel['id']})"
    assert p.refs == (("source_ref", rel["source_ref"]), ("target_ref", rel["target_ref"]))
    assert p.markings == (TLP2["green"],)
    assert p.own_tlp == int(TLP.GREEN)
    assert orjson.loads(p.body) == rel
    ind = prepare(indicator("[ipv4-addr:value = '10.0.0.0/8']"), "object 8")
    assert ind.values == (("ipv4-net", "10.0.0.0/8", "0a000000", "0affffff"),)
    assert ind.own_tlp is None  # the import or node default applies
    assert prepare(marking_definition(TLP.RED)).own_tlp == int(TLP.CLEAR)


def test_prepared_crosses_a_process_boundary_as_a_plain_tuple() -> None:
    p = prepare(malware(), "object 1")
    back = partial(tuple.__new__, Prepared)(pickle.loads(pickle.dumps(tuple(p))))
    assert type(back) is Prepared and back == p and back.id == p.id


def test_prepare_names_the_place_and_reason() -> None:
    with pytest.raises(InputError) as info:
        prepare({**malware(), "modified": "yesterday"}, "object 3")
    assert info.value.place.startswith("object 3 (malware--")
    assert "property 'modified'" in info.value.reason


def test_integers_beyond_64_bits_are_refused_by_name() -> None:
    obj = malware(x_big=2**70)
    with pytest.raises(InputError, match="cannot store this object: Integer exceeds 64-bit"):
        prepare(obj, "object 0")


@pytest.mark.parametrize("bulk", [False, True])
def test_a_write_leaves_the_connection_settings_as_they_were(tmp_path: Path, bulk: bool) -> None:
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        with store.writer("user", "test", bulk=bulk) as writer:
            writer.put(malware())
            fk = writer.conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
            assert fk == (0 if bulk else 1)
        with pytest.raises(InputError), store.writer("user", "test", bulk=bulk) as writer:
            writer.put({"type": "malware"})
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert store.count_versions() == 1


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
