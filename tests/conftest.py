"""Shared fixtures: a store on every backend, and node homes.

PostgreSQL tests use the real server on 127.0.0.1:5432 (user postgres, trust auth). Each test
gets its own throw-away database. Where the server cannot be reached the tests skip with the
reason, except under ``CI=true``, where an unreachable server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.model.tlp import TLP
from accord.store import Store
from accord.store.home import NodeHome

PG_ADMIN_URL = os.environ.get("ACCORD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _pg_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(
            PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3, autocommit=True
        ) as conn:
            conn.execute("select 1")
        return None
    except Exception as exc:  # any failure to connect means: not reachable here
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}"


_PG_REASON = _pg_reason()


def require_postgres() -> None:
    if _PG_REASON is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires PostgreSQL: {_PG_REASON}")
    pytest.skip(_PG_REASON)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database URL, dropped after the test."""
    require_postgres()
    import psycopg

    name = f"accord_t_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each backend: the same test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    st = Store.open(store_url, TLP.AMBER)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(f"sqlite:///{tmp_path / 'store.db'}", TLP.AMBER)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def node_home(tmp_path: Path) -> NodeHome:
    """An initialised node on SQLite."""
    return NodeHome.init(tmp_path / "node", "Test CERT", country="RR", sector="government")


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (it holds reference material beside the repository)")
    return SHARED
