"""Helpers shared by the store, ingest and CLI tests: fixtures, object builders, validation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from stix2validator import ValidationOptions, validate_instance, validate_string

from accord.model.tlp import TLP
from accord.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stix"

RCERT = "identity--044bb466-a447-4d2e-8521-f791051dc09d"  # creator in the fixtures
OTHER_CREATOR = "identity--3b0d6a5e-9c1f-4d7a-8e2b-5f4c3a2b1d0e"
T0 = "2025-01-01T00:00:00.000Z"

TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1 = {
    "white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}

VersionKey = tuple[str, str | None]


def new_id(obj_type: str) -> str:
    return f"{obj_type}--{uuid.uuid4()}"


def load_objects(name: str) -> list[dict[str, Any]]:
    """The ``objects`` of a fixture bundle."""
    data = json.loads((FIXTURES / name).read_text("utf-8"))
    return list(data["objects"])


def version_key(obj: Mapping[str, Any]) -> VersionKey:
    """What identifies a version: ``id`` + ``modified`` (None for unversioned objects)."""
    return obj["id"], obj.get("modified")


def by_version(objs: Iterable[Mapping[str, Any]]) -> dict[VersionKey, dict[str, Any]]:
    return {version_key(o): dict(o) for o in objs}


def bundle(objs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "bundle", "id": new_id("bundle"), "objects": [dict(o) for o in objs]}


def write_bundle_file(path: Path, objs: Iterable[Mapping[str, Any]]) -> Path:
    path.write_text(json.dumps(bundle(objs)), "utf-8")
    return path


def sdo(obj_type: str, modified: str = T0, **props: Any) -> dict[str, Any]:
    """A minimal valid SDO/SRO of ``obj_type`` with a fresh id (override anything via props)."""
    obj: dict[str, Any] = {
        "type": obj_type,
        "spec_version": "2.1",
        "id": props.pop("id", None) or new_id(obj_type),
        "created": props.pop("created", T0),
        "modified": modified,
    }
    obj.update(props)
    return obj


def indicator(pattern: str, **props: Any) -> dict[str, Any]:
    props.setdefault("pattern_type", "stix")
    props.setdefault("valid_from", T0)
    return sdo("indicator", pattern=pattern, **props)


def malware(name: str = "Fictional Loader", **props: Any) -> dict[str, Any]:
    props.setdefault("is_family", True)
    return sdo("malware", name=name, **props)


def validation_errors(data: str | Mapping[str, Any]) -> list[str]:
    """stix2-validator errors (not warnings) for a bundle given as JSON text or a dict."""
    options = ValidationOptions(version="2.1")
    if isinstance(data, str):
        results = validate_string(data, options)
    else:
        results = validate_instance(dict(data), options)
    found: list[str] = []
    for result in results if isinstance(results, list) else [results]:
        found.extend(str(e) for e in result.errors)
    return found


# --- one store per test module ----------------------------------------------------------
#
# Creating and dropping a PostgreSQL database costs about a second, so tests that only add
# objects under fresh ids share one store per module and backend; each asserts on its own
# ids or on counts taken before and after. Tests that need an empty store use ``store``.

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def open_module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """Body of a module-scoped store fixture parametrized with :data:`BACKENDS`."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module_store") / "store.db"
        with Store.open(f"sqlite:///{path}", TLP.AMBER) as st:
            yield st
        return
    from tests.conftest import PG_ADMIN_URL, require_postgres

    require_postgres()
    import psycopg

    name = f"accord_m_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with Store.open(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", TLP.AMBER) as st:
            yield st
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
