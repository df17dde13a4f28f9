"""Adversarial inputs for the importers and the hunt readers (audit findings).

Every test here states the project's bar for bad input: a clear ``InputError`` (or, for a
hunt, a reported problem or a failed file) naming the place and the reason, never another
exception, and a refused import leaves the store exactly as it was.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from accord.ingest.context import ImportContext
from accord.ingest.csv_indicators import indicator_id
from accord.ingest.importer import import_file
from accord.model.errors import InputError
from accord.model.observables import Observable
from accord.model.tlp import TLP
from accord.store import Store
from accord.store.home import NodeHome
from tests.cli.test_node import run, squeeze
from tests.store.stix_helpers import RCERT, bundle, malware

MISP_EVENT = Path(__file__).resolve().parents[1] / "fixtures" / "misp" / "event.json"
# Few examples and no shrinking: each example opens a store or runs a hunt, and a failing
# example here is already minimal enough to read.
FAST = settings(
    max_examples=8,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _ctx() -> ImportContext:
    return ImportContext(identity_id=RCERT, source_name="audit")


def _state(store: Store) -> tuple[int, dict[str, int]]:
    return store.count_versions(), store.count_by_type()


def _refused(store: Store, path: Path, fmt: str = "auto") -> str:
    """Import ``path``, expecting a clean refusal that leaves the store as it was."""
    before = _state(store)
    with pytest.raises(InputError) as info:
        import_file(store, path, _ctx(), fmt, workers=0)
    assert _state(store) == before
    return str(info.value)


def _misp(tmp_path: Path, change: Callable[[dict[str, Any]], Any], name: str = "misp.json") -> Path:
    data = json.loads(MISP_EVENT.read_text("utf-8"))
    change(data["Event"])
    path = tmp_path / name
    path.write_text(json.dumps(data), "utf-8")
    return path


@pytest.fixture(autouse=True)
def _quiet_pymisp() -> Iterator[None]:
    """pymisp logs every attribute it rejects; the assertions say what matters."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


# --- STIX ---------------------------------------------------------------------------------


@FAST
@given(big=st.integers(min_value=2**64) | st.integers(max_value=-(2**63) - 1))
def test_single_object_with_an_integer_beyond_64_bits_is_refused_not_rounded(
    sqlite_store: Store, big: int
) -> None:
    """In a bundle or a list such an integer is refused by name; a lone top-level object
    is parsed by orjson, which silently turns it into a float that is then stored."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one.json"
        path.write_text(json.dumps(malware(x_count=big)), "utf-8")
        message = _refused(sqlite_store, path, "stix")
    assert "object 0" in message


@pytest.mark.parametrize("prop", ["granular_markings", "external_references"])
@pytest.mark.parametrize("value", [5, 2.5, True])
def test_scalar_where_a_list_is_expected_is_an_input_error(
    sqlite_store: Store, tmp_path: Path, prop: str, value: Any
) -> None:
    """``marking_refs``/``search_text`` iterate these properties: a scalar raised TypeError."""
    obj = malware(**{prop: value})
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle([malware(), obj])), "utf-8")
    assert f"object 1 ({obj['id']})" in _refused(sqlite_store, path, "stix")


# --- PostgreSQL: a NUL character in indexed text ----------------------------------------


NUL_INPUTS = [
    ("stix", "b.json", json.dumps(bundle([malware(description="before\u0000after")]))),
    ("csv", "iocs.csv", "203.0.113.11,ip,before\x00after\n"),
    ("text", "report.txt", "C2 server 203.0.113.48 \x00 seen\n"),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("fmt", "name", "text"), NUL_INPUTS, ids=[f for f, _, _ in NUL_INPUTS])
def test_nul_character_on_postgresql_is_no_crash(
    pg_url: str, tmp_path: Path, fmt: str, name: str, text: str
) -> None:
    """The JSON body escapes U+0000, but the search text (name, description, pattern) is
    written raw, and PostgreSQL text refuses NUL: psycopg.DataError escaped the importer."""
    path = tmp_path / name
    path.write_text(text, "utf-8")
    with Store.open(pg_url, TLP.AMBER) as store:
        before = _state(store)
        try:
            import_file(store, path, _ctx(), fmt, workers=0)
        except InputError:
            assert _state(store) == before


# --- MISP ---------------------------------------------------------------------------------


def _add_attribute(misp_type: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        event["Attribute"].append(
            {
                "uuid": "00000000-0000-4000-8000-00000000a0d1",
                "type": misp_type,
                "category": "Network activity",
                "value": value,
                "to_ids": True,
                "timestamp": "1764928800",
            }
        )

    return change


@pytest.mark.parametrize(
    ("misp_type", "value"),
    [
        ("ip-dst|port", "203.0.113.1|abc"),
        ("port", "99999"),
        ("AS", "not-a-number"),
        ("email-src", "a@b"),
    ],
)
def test_attribute_that_pymisp_rejects_refuses_the_file(
    sqlite_store: Store, tmp_path: Path, misp_type: str, value: str
) -> None:
    """pymisp's validation drops such an attribute with a logged warning, which misp-stix
    files under ``parser.warnings``; only ``parser.errors`` is checked, so the event was
    stored without it: the silently shortened import the module doc promises to refuse."""
    path = _misp(tmp_path, _add_attribute(misp_type, value))
    assert "event 1 attribute 7" in _refused(sqlite_store, path, "misp")


SIGHTING = {
    "uuid": "00000000-0000-4000-9000-000000000001",
    "type": "0",
    "Organisation": {"uuid": "0a4a2f5e-2b1c-4a8e-9d1f-3e5b7c9d1a2b", "name": "CSRO"},
}
MISP_CRASHES: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    (
        "galaxy external_id a number",
        lambda e: e["Galaxy"][1]["GalaxyCluster"][0].update(meta={"external_id": [5]}),
    ),
    (
        "sighting date not epoch",
        lambda e: e["Attribute"][0].update(Sighting=[{**SIGHTING, "date_sighting": "yesterday"}]),
    ),
    ("timestamp of superscript digits", lambda e: e.update(timestamp="²")),
    ("date before year 1000", lambda e: (e.pop("timestamp"), e.update(date="0999-12-31"))),
]


@pytest.mark.parametrize(
    "change", [c for _, c in MISP_CRASHES], ids=[name for name, _ in MISP_CRASHES]
)
def test_misp_conversion_failures_are_input_errors(
    sqlite_store: Store, tmp_path: Path, change: Callable[[dict[str, Any]], Any]
) -> None:
    """AttributeError, ValueError and TypeError from misp-stix (and from ``_later`` on its
    4-digit-less years, and ``int()`` of a str.isdigit() superscript) escaped read_misp."""
    assert "event 1" in _refused(sqlite_store, _misp(tmp_path, change), "misp")


@FAST
@given(meta=st.text(min_size=1) | st.lists(st.integers(), min_size=1) | st.integers(1, 9))
def test_any_non_object_galaxy_meta_is_refused(sqlite_store: Store, meta: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _misp(Path(tmp), lambda e: e["Galaxy"][0]["GalaxyCluster"][0].update(meta=meta))
        assert "event 1" in _refused(sqlite_store, path, "misp")


def test_cli_import_of_a_misp_event_misp_stix_cannot_read(
    node_home: NodeHome, tmp_path: Path
) -> None:
    path = _misp(tmp_path, lambda e: e["Galaxy"][0]["GalaxyCluster"][0].update(meta="x"))
    result = run("import", "--home", str(node_home.path), str(path))
    assert result.exit_code == 2, result.exception
    assert "Traceback" not in result.stderr
    assert squeeze(f"{path}: event 1") in squeeze(result.stderr)


# --- CSV ----------------------------------------------------------------------------------


@FAST
@given(comment=st.text(alphabet="abc ,#'", max_size=12))
def test_unterminated_quote_does_not_swallow_the_following_rows(
    sqlite_store: Store, comment: str
) -> None:
    """csv.reader (strict=False) ends an open quoted field at the end of the file, so the
    rows after it became part of the first row's comment and were never imported."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "iocs.csv"
        path.write_text(f'203.0.113.9,ip,"{comment}\n198.51.100.2,ip\n', "utf-8")
        assert "line" in _refused(sqlite_store, path, "csv")


def test_fullwidth_digits_do_not_make_an_ip_into_a_domain(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """IDNA folds '２０３.0.113.21' to '203.0.113.21' after the IP check: it was stored as
    [domain-name:value = '203.0.113.21'], an address no hunt compares as a domain."""
    path = tmp_path / "iocs.csv"
    path.write_text("\uff12\uff10\uff13.0.113.21\n", "utf-8")
    try:
        import_file(sqlite_store, path, _ctx(), "csv")
    except InputError:
        return
    assert sqlite_store.get(indicator_id(RCERT, Observable("domain", "203.0.113.21"))) is None
