"""Engines for SQLite (embedded default) and PostgreSQL, and schema migration on open."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")
# Execution option that marks a connection as a writer's (BEGIN IMMEDIATE on SQLite).
WRITE_OPTION = "accord_write"
# SQLite page cache per connection, and while a Writer holds it (see Store.writer).
SQLITE_CACHE_KIB = 65536
WRITE_CACHE_KIB = 262144


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def create_store_engine(url: str) -> Engine:
    """An engine tuned for the store: WAL and immediate write locks on SQLite."""
    url = normalize_url(url)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": 60}, isolation_level=None)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # pysqlite's own transaction handling is off (isolation_level=None). Writers ask
            # for the write lock at BEGIN (see Store.transaction) so that concurrent writers
            # queue instead of failing on a lock upgrade; readers begin deferred, and under
            # WAL they never wait for a writer.
            immediate = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    # psycopg prepares a statement after a few executions; a prepared plan for a chunked
    # ``id IN (…500 values…)`` lookup turned out far slower than planning each one afresh
    # (seconds per batch on a large store), so server-side preparation is off.
    return create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None})


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revisions (idempotent).

    Capabilities add their tables in their own revisions branching from ``0001`` (hunt,
    share…), so the upgrade target is every head, not one linear head.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")
