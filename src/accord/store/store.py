"""The STIX store: every version kept whole, STIX versioning rules enforced, writes atomic.

A write goes through a :class:`Writer` opened by :meth:`Store.writer`. Objects are buffered
and flushed in batches inside **one** database transaction: either the whole file (bundle,
sync page, knowledge-base update) is stored, or nothing of it is.

Writers serialise on the ``clock`` row of the ``meta`` table (``BEGIN IMMEDIATE`` on SQLite,
``SELECT … FOR UPDATE`` on PostgreSQL). That makes ``date_added`` strictly increasing per
store, and lets the writer allocate row ids itself, which keeps bulk inserts fast.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from accord.model.errors import ForeignCreator, InputError, RevokedObject, VersionConflict
from accord.model.timestamps import stix_micros
from accord.model.tlp import TLP, defined_level
from accord.store import schema as s
from accord.store.bulk import bulk_insert
from accord.store.db import (
    SQLITE_CACHE_KIB,
    WRITE_CACHE_KIB,
    WRITE_OPTION,
    create_store_engine,
    is_sqlite,
    migrate,
)
from accord.store.prepare import (
    Prepared,
    content_hash,
    observable_rows,
    prepare,
    reference_rows,
    search_text,
    value_bounds,
)

BATCH_SIZE = 2000
_IS_CURRENT = [c.name for c in s.objects.columns].index("is_current")
_ID_CHUNK = 500
SOURCE_KINDS = ("file", "peer", "user", "kb", "node")


@dataclass(slots=True)
class ObjectRow:
    """One stored version with the store's own metadata beside it."""

    row_id: int
    id: str
    type: str
    modified_us: int
    tlp: TLP
    date_added_us: int
    source_kind: str
    source_name: str
    is_current: bool
    revoked: bool
    body: str
    # the level came from the node default: unmarked data, which stays home
    tlp_default: bool = False

    @property
    def obj(self) -> dict[str, Any]:
        return orjson.loads(self.body)


@dataclass
class WriteResult:
    """What a write did: new versions stored, identical versions skipped, per type."""

    stored: int = 0
    duplicates: int = 0
    # Counts only: a list of stored ids would grow with the file (230 MB for a 1 GB bundle).
    by_type: Counter[str] = field(default_factory=Counter)

    @property
    def received(self) -> int:
        return self.stored + self.duplicates

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "by_type": dict(sorted(self.by_type.items())),
        }


@dataclass(slots=True)
class _Version:
    row_id: int
    modified_us: int
    content_hash: str
    created_by_ref: str | None
    revoked: bool
    is_current: bool
    source_name: str


class Store:
    """A node's STIX 2.1 store on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, node_default_tlp: TLP = TLP.AMBER) -> None:
        self.engine = engine
        self.node_default_tlp = node_default_tlp
        self.is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str, node_default_tlp: TLP = TLP.AMBER, *, migrate_schema: bool = True):
        engine = create_store_engine(url)
        if migrate_schema:
            migrate(engine)
        store = cls(engine, node_default_tlp)
        store._ensure_clock()
        return store

    @staticmethod
    def url_is_sqlite(url: str) -> bool:
        return is_sqlite(url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meta ---------------------------------------------------------------------------

    def _ensure_clock(self) -> None:
        with self.transaction() as conn:
            if conn.execute(select(s.meta.c.value).where(s.meta.c.key == "clock")).first():
                return
            conn.execute(insert(s.meta).values(key="clock", value="0"))

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).first()
            return row[0] if row else None

    def set_meta(self, key: str, value: str, conn: Connection | None = None) -> None:
        def _do(c: Connection) -> None:
            done = c.execute(update(s.meta).where(s.meta.c.key == key).values(value=value))
            if done.rowcount == 0:
                c.execute(insert(s.meta).values(key=key, value=value))

        if conn is not None:
            _do(conn)
        else:
            with self.transaction() as c:
                _do(c)

    # --- writing ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: on SQLite it holds the write lock from BEGIN (IMMEDIATE),
        so concurrent writers wait their turn instead of failing on a lock upgrade.

        Every write to the store's tables, including capabilities' own tables, should go
        through this (or :meth:`writer`); plain ``engine.connect()`` is for reads.
        """
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def writer(
        self,
        source_kind: str,
        source_name: str,
        import_tlp: TLP | None = None,
        *,
        bulk: bool = False,
    ) -> Iterator[Writer]:
        """Open an atomic write. Leaving the block with an exception stores nothing.

        ``bulk`` is for a writer that only puts objects (an import): on SQLite its
        transaction skips the foreign-key checks, which its own rows always satisfy
        (their index rows name rows it inserts or has read in the same transaction).
        Code that writes other tables through ``writer.conn`` keeps the default.
        """
        if source_kind not in SOURCE_KINDS:
            raise ValueError(f"unknown source kind {source_kind!r}")
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with self._write_settings(conn, bulk), conn.begin():
                writer = Writer(self, conn, source_kind, source_name, import_tlp)
                yield writer
                writer.flush()
                writer.finish()

    @contextmanager
    def _write_settings(self, conn: Connection, bulk: bool) -> Iterator[None]:
        """On SQLite, connection settings for the duration of a write (set before its
        transaction begins, restored after it ends, before the connection is pooled).

        The page cache grows: a bulk import inserts into indexes keyed by random ids, and
        once they outgrow the cache SQLite spills dirty pages to the WAL and reads them
        back, again and again (a 900,000-object import ran 37 % faster with 256 MiB than
        with 64 MiB). The cache only fills as pages are touched, so a small write costs
        nothing more, and restoring the size frees the rest. A ``bulk`` writer also turns
        foreign-key enforcement off (about 6 % of an import's writing time), which SQLite
        only allows outside a transaction.
        """
        if not self.is_sqlite:
            yield
            return
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
        if bulk:
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            if bulk:
                raw.execute("PRAGMA foreign_keys = ON")

    def put_objects(
        self,
        objs: Iterable[Mapping[str, Any]],
        source_kind: str = "user",
        source_name: str = "api",
        import_tlp: TLP | None = None,
    ) -> WriteResult:
        """Store many objects atomically (a convenience over :meth:`writer`)."""
        with self.writer(source_kind, source_name, import_tlp) as w:
            for index, obj in enumerate(objs):
                w.put(obj, f"object {index}")
        return w.result

    # --- reading ------------------------------------------------------------------------

    def _row(self, r: Any) -> ObjectRow:
        return ObjectRow(
            row_id=r.row_id,
            id=r.id,
            type=r.type,
            modified_us=r.modified_us,
            tlp=TLP(r.tlp),
            date_added_us=r.date_added_us,
            source_kind=r.source_kind,
            source_name=r.source_name,
            is_current=bool(r.is_current),
            revoked=bool(r.revoked),
            body=r.body,
            tlp_default=bool(r.tlp_default),
        )

    _COLUMNS = (
        s.objects.c.row_id,
        s.objects.c.id,
        s.objects.c.type,
        s.objects.c.modified_us,
        s.objects.c.tlp,
        s.objects.c.date_added_us,
        s.objects.c.source_kind,
        s.objects.c.source_name,
        s.objects.c.is_current,
        s.objects.c.revoked,
        s.objects.c.body,
        s.objects.c.tlp_default,
    )

    def get_row(self, obj_id: str) -> ObjectRow | None:
        """The current version of an object, with metadata."""
        with self.engine.connect() as conn:
            r = conn.execute(
                select(*self._COLUMNS).where(s.objects.c.id == obj_id, s.objects.c.is_current)
            ).first()
        return self._row(r) if r else None

    def get(self, obj_id: str) -> dict[str, Any] | None:
        row = self.get_row(obj_id)
        return row.obj if row else None

    def versions(self, obj_id: str) -> list[ObjectRow]:
        """Every stored version of an object, oldest ``modified`` first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*self._COLUMNS)
                .where(s.objects.c.id == obj_id)
                .order_by(s.objects.c.modified_us)
            ).all()
        return [self._row(r) for r in rows]

    def get_many(self, ids: Sequence[str]) -> dict[str, ObjectRow]:
        """Current versions of many objects, by id."""
        found: dict[str, ObjectRow] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = list(ids[start : start + _ID_CHUNK])
                rows = conn.execute(
                    select(*self._COLUMNS).where(s.objects.c.id.in_(chunk), s.objects.c.is_current)
                )
                for r in rows:
                    found[r.id] = self._row(r)
        return found

    def iter_rows(
        self,
        *,
        types: Sequence[str] | None = None,
        tlp_max: TLP | None = None,
        added_after_us: int | None = None,
        all_versions: bool = False,
        created_by: str | None = None,
        batch: int = 1000,
    ) -> Iterator[ObjectRow]:
        """Stream rows in ``date_added`` order with a keyset cursor (bounded memory)."""
        cursor = added_after_us if added_after_us is not None else -1
        while True:
            query = select(*self._COLUMNS).where(s.objects.c.date_added_us > cursor)
            if not all_versions:
                query = query.where(s.objects.c.is_current)
            if types:
                query = query.where(s.objects.c.type.in_(list(types)))
            if tlp_max is not None:
                query = query.where(s.objects.c.tlp <= int(tlp_max))
            if created_by:
                query = query.where(s.objects.c.created_by_ref == created_by)
            query = query.order_by(s.objects.c.date_added_us).limit(batch)
            with self.engine.connect() as conn:
                rows = [self._row(r) for r in conn.execute(query)]
            yield from rows
            if len(rows) < batch:
                return
            cursor = rows[-1].date_added_us

    def count_by_type(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(s.objects.c.type, func.count())
                .where(s.objects.c.is_current)
                .group_by(s.objects.c.type)
            ).all()
        return {t: n for t, n in sorted(rows)}

    def count_versions(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.objects)).scalar_one())

    def provenance(self, obj_id: str) -> list[dict[str, Any]]:
        """Which file, peer or user delivered each version, and when (first delivery first)."""
        o, p = s.objects.c, s.provenance.c
        first = select(
            o.modified_us,
            o.source_kind,
            o.source_name,
            o.date_added_us.label("received_us"),
        ).where(o.id == obj_id)
        later = (
            select(o.modified_us, p.source_kind, p.source_name, p.received_us)
            .join(s.provenance, p.row_id == o.row_id)
            .where(o.id == obj_id)
        )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(first.union_all(later))]
        return sorted(rows, key=lambda r: (r["received_us"], r["modified_us"]))

    def referencing(self, obj_id: str, prop: str | None = None) -> list[tuple[str, str]]:
        """``(source id, property)`` of current objects whose refs point at ``obj_id``."""
        query = select(s.refs.c.src_id, s.refs.c.prop).where(s.refs.c.dst_id == obj_id)
        if prop:
            query = query.where(s.refs.c.prop == prop)
        with self.engine.connect() as conn:
            return [(r.src_id, r.prop) for r in conn.execute(query)]

    def references(self, obj_id: str) -> list[tuple[str, str]]:
        """``(property, target id)`` of the refs the current version of ``obj_id`` holds."""
        query = select(s.refs.c.prop, s.refs.c.dst_id).where(s.refs.c.src_id == obj_id)
        with self.engine.connect() as conn:
            return [(r.prop, r.dst_id) for r in conn.execute(query)]

    def ids_by_marking(self, marking_ref: str) -> list[str]:
        query = (
            select(s.objects.c.id)
            .join(s.object_markings, s.object_markings.c.row_id == s.objects.c.row_id)
            .where(s.object_markings.c.marking_ref == marking_ref, s.objects.c.is_current)
        )
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(query)]


class Writer:
    """Buffers objects and writes them in batches within one transaction."""

    def __init__(
        self,
        store: Store,
        conn: Connection,
        source_kind: str,
        source_name: str,
        import_tlp: TLP | None,
    ) -> None:
        self.store = store
        self.conn = conn
        self.source_kind = source_kind
        self.source_name = source_name[:500]
        self.import_tlp = import_tlp
        self.result = WriteResult()
        self._pending: list[tuple[Mapping[str, Any], str]] = []
        self._clock: int | None = None
        self._next_row: int | None = None
        self._received_us = time.time_ns() // 1000
        # TLP levels of marking definitions under non-standard ids (a producer's own "TLP:RED"
        # definition), by id; None for a marking that defines no TLP level
        self._custom_levels: dict[str, int | None] = {}
        self._defined_here: dict[str, int] = {}

    def put(self, obj: Mapping[str, Any], place: str = "") -> None:
        """Queue one object; it is validated now and stored at the next flush."""
        self._pending.append(prepare(obj, place))
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def put_prepared(self, items: Iterable[Prepared]) -> None:
        """Queue objects already validated by :func:`~accord.store.prepare.prepare` (for
        example in worker processes); versioning rules are applied at the flush."""
        self._pending.extend(items)
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def put_many(self, objs: Iterable[Mapping[str, Any]], place_prefix: str = "object") -> None:
        for index, obj in enumerate(objs):
            self.put(obj, f"{place_prefix} {index}")

    # -- internals --------------------------------------------------------------------

    def _lock_clock(self) -> None:
        query = select(s.meta.c.value).where(s.meta.c.key == "clock")
        if not self.store.is_sqlite:
            query = query.with_for_update()
            # A bulk load into a young table has no planner statistics yet, and PostgreSQL
            # then scans the table for every batch's id lookup. The writer's own queries are
            # all index probes, so tell the planner so for this transaction only.
            self.conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        self._clock = int(self.conn.execute(query).scalar_one())
        top = self.conn.execute(select(func.max(s.objects.c.row_id))).scalar()
        self._next_row = (top or 0) + 1

    def _existing(self, ids: Iterable[str]) -> dict[str, list[_Version]]:
        """Stored versions of a batch's ids (most ids of a bulk import are new)."""
        found: dict[str, list[_Version]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _ID_CHUNK):
            chunk = unique[start : start + _ID_CHUNK]
            for (
                row_id,
                obj_id,
                modified_us,
                digest,
                creator,
                revoked,
                current,
                source,
            ) in self._versions_of(chunk):
                found.setdefault(obj_id, []).append(
                    _Version(
                        row_id,
                        modified_us,
                        digest,
                        creator,
                        bool(revoked),
                        bool(current),
                        source,
                    )
                )
        return found

    def _versions_of(self, ids: list[str]) -> Iterable[Sequence[Any]]:
        """Version rows of ``ids``. The batch travels as one parameter (a JSON array on
        SQLite, an array on PostgreSQL): rendering and binding 500 placeholders per query
        through SQLAlchemy cost more than the index probes themselves."""
        columns = (
            "row_id, id, modified_us, content_hash, created_by_ref, revoked, is_current, "
            "source_name"
        )
        dialect = self.conn.dialect.name
        if dialect == "sqlite":
            return self.conn.exec_driver_sql(
                f"SELECT {columns} FROM objects WHERE id IN (SELECT value FROM json_each(?))",
                (orjson.dumps(ids).decode(),),
            )
        if dialect == "postgresql":
            return self.conn.exec_driver_sql(
                f"SELECT {columns} FROM objects WHERE id = ANY(%(ids)s)", {"ids": ids}
            )
        o = s.objects.c
        query = select(
            o.row_id,
            o.id,
            o.modified_us,
            o.content_hash,
            o.created_by_ref,
            o.revoked,
            o.is_current,
            o.source_name,
        )
        return self.conn.execute(query.where(o.id.in_(ids)))

    def _created_of(self, row_id: int, queued: Mapping[int, str | None]) -> str | None:
        """``created`` of a stored (or queued) version: read only when a new version of an
        existing object arrives, which is rare next to new objects."""
        if row_id in queued:
            return queued[row_id]
        body = self.conn.execute(
            select(s.objects.c.body).where(s.objects.c.row_id == row_id)
        ).scalar()
        return orjson.loads(body).get("created") if body else None

    def flush(self) -> None:
        if not self._pending:
            return
        if self._clock is None:
            self._lock_clock()
        pending, self._pending = self._pending, []
        known = self._existing(p.id for p in pending)
        self._resolve_custom_markings(pending)

        # Rows are lists in table column order (see schema.py): they go to the driver as
        # they are, which is measurably cheaper than dicts on a bulk import.
        object_rows: list[list[Any]] = []
        marking_rows: list[tuple[Any, ...]] = []
        provenance_rows: list[tuple[Any, ...]] = []
        ref_rows: list[tuple[Any, ...]] = []
        value_rows: list[tuple[Any, ...]] = []
        demoted: list[int] = []
        batch_rows: dict[int, list[Any]] = {}
        batch_created: dict[int, str | None] = {}
        default_tlp = int(
            self.import_tlp if self.import_tlp is not None else self.store.node_default_tlp
        )
        source_kind, source_name = self.source_kind, self.source_name
        result = self.result
        by_type = result.by_type
        assert self._next_row is not None and self._clock is not None
        next_row, clock = self._next_row, self._clock

        for p in pending:
            obj_id = p.id
            modified_us = p.modified_us
            versions = known.get(obj_id)
            if versions is not None:
                same = next((v for v in versions if v.modified_us == modified_us), None)
                if same is not None:
                    if same.content_hash != p.digest:
                        what = f"version {p.modified}" if p.versioned else "this object"
                        raise VersionConflict(
                            p.described,
                            f"{what} is already stored with different content; a change "
                            "needs a new 'modified' timestamp",
                        )
                    result.duplicates += 1
                    if same.source_name != source_name and same.row_id >= 0:
                        provenance_rows.append(
                            (same.row_id, source_kind, source_name, self._received_us)
                        )
                        same.source_name = source_name
                    continue
                self._check_new_version(p, versions, batch_created)
                current = next((v for v in versions if v.is_current), None)
            else:
                versions = known[obj_id] = []
                current = None
            becomes_current = current is None or modified_us > current.modified_us
            row_id = next_row
            next_row += 1
            if becomes_current and current is not None:
                current.is_current = False
                in_batch = batch_rows.get(current.row_id)
                if in_batch is not None:  # an older version queued in this very batch
                    in_batch[_IS_CURRENT] = False
                    ref_rows[:] = [r for r in ref_rows if r[0] != current.row_id]
                    value_rows[:] = [r for r in value_rows if r[0] != current.row_id]
                else:
                    demoted.append(current.row_id)
            versions.append(
                _Version(
                    row_id,
                    modified_us,
                    p.digest,
                    p.creator,
                    p.revoked,
                    becomes_current,
                    source_name,
                )
            )
            # date_added: strictly increasing, and never behind the wall clock.
            now = time.time_ns() // 1000
            clock = now if now > clock else clock + 1
            level, from_default = self._level(p, default_tlp)
            row = [
                row_id,
                obj_id,
                p.type,
                modified_us,
                p.creator,
                p.spec_version,
                p.revoked,
                becomes_current,
                level,
                clock,
                source_kind,
                source_name,
                p.digest,
                p.valid_until_us,
                p.search_text,
                p.body,
                from_default,
            ]
            object_rows.append(row)
            batch_rows[row_id] = row
            batch_created[row_id] = p.created
            if p.markings:
                marking_rows += [(row_id, ref) for ref in p.markings]
            # The first delivery is recorded on the row itself (source_kind/name,
            # date_added); the provenance table holds later deliveries of the same version.
            if becomes_current:
                if p.refs:
                    ref_rows += [(row_id, obj_id, prop, dst) for prop, dst in p.refs]
                if p.values:
                    value_rows += [(row_id, obj_id, *value) for value in p.values]
            by_type[p.type] += 1
        result.stored += len(object_rows)
        self._next_row, self._clock = next_row, clock

        conn = self.conn
        if demoted:
            conn.execute(
                update(s.objects).where(s.objects.c.row_id.in_(demoted)).values(is_current=False)
            )
            conn.execute(delete(s.refs).where(s.refs.c.row_id.in_(demoted)))
            conn.execute(delete(s.observables).where(s.observables.c.row_id.in_(demoted)))
        for table, rows in (
            (s.objects, object_rows),
            (s.object_markings, marking_rows),
            (s.provenance, provenance_rows),
            (s.refs, ref_rows),
            (s.observables, value_rows),
        ):
            bulk_insert(conn, table, rows)

    def _level(self, p: Prepared, default_tlp: int) -> tuple[int, bool]:
        """The stored TLP level of ``p`` and whether it came from the node default (see
        :func:`accord.model.tlp.effective_tlp`, which this mirrors, plus TLP definitions
        under producers' own ids)."""
        own = p.own_tlp
        if p.custom_refs:
            levels = self._custom_levels
            custom = [lvl for ref in p.custom_refs if (lvl := levels.get(ref)) is not None]
            if custom:
                own = max(custom) if own is None else max(own, *custom)
        if own is None:
            level, from_default = default_tlp, self.import_tlp is None
        else:
            level, from_default = own, False
        if p.granular_tlp is not None and p.granular_tlp > level:
            level = p.granular_tlp
        return level, from_default

    def _resolve_custom_markings(self, pending: list[Prepared]) -> None:
        """Learn the TLP level of every non-standard marking id the batch uses: from TLP
        definitions in this write, else from the store (one query for the batch)."""
        for p in pending:
            if p.tlp_defined is not None:
                self._custom_levels[p.id] = p.tlp_defined
                self._defined_here[p.id] = p.tlp_defined
        unknown = sorted(
            {ref for p in pending for ref in p.custom_refs} - self._custom_levels.keys()
        )
        for start in range(0, len(unknown), _ID_CHUNK):
            chunk = unknown[start : start + _ID_CHUNK]
            for obj_id, body in self.conn.execute(
                select(s.objects.c.id, s.objects.c.body).where(
                    s.objects.c.id.in_(chunk),
                    s.objects.c.type == "marking-definition",
                    s.objects.c.is_current,
                )
            ):
                level = defined_level(orjson.loads(body))
                self._custom_levels[obj_id] = None if level is None else int(level)
            for ref in chunk:
                self._custom_levels.setdefault(ref, None)

    def _check_new_version(
        self, p: Prepared, versions: list[_Version], queued_created: Mapping[int, str | None]
    ) -> None:
        """A new version of a known object: same creator, revocation permanent, same
        ``created``. Raises the refusal naming the object."""
        if not versions:
            return
        obj_id = p.id
        stored_creator = versions[0].created_by_ref
        if stored_creator != p.creator:
            raise ForeignCreator(
                p.described,
                f"{obj_id} was created by {stored_creator or 'an unnamed producer'}, "
                f"but this version names {p.creator or 'no creator'}; only the creator "
                "may version an object (re-publish under a new id with 'derived-from')",
            )
        modified_us = p.modified_us
        revoked_before = [v for v in versions if v.revoked and v.modified_us < modified_us]
        if revoked_before and not p.revoked:
            raise RevokedObject(
                p.described,
                f"{obj_id} was revoked; revocation is permanent, so a later "
                "version must stay revoked",
            )
        if p.revoked and any(not v.revoked and v.modified_us > modified_us for v in versions):
            raise RevokedObject(
                p.described,
                f"{obj_id} has a later version that is not revoked; revocation is "
                "permanent, so this revoked version contradicts the history",
            )
        if p.versioned:
            stored_created = self._created_of(versions[0].row_id, queued_created)
            if (
                stored_created is not None
                and p.created is not None
                and stix_micros(stored_created) != stix_micros(p.created)
            ):
                raise InputError(
                    p.described,
                    f"'created' is {p.created} but the stored versions of "
                    f"{obj_id} say {stored_created}; 'created' never changes "
                    "between versions",
                )

    def finish(self) -> None:
        """Persist the clock; called once, after the last flush, inside the transaction.

        A TLP definition under a producer's own id may arrive after (or long after) the
        objects it marks: every stored object marked with one written here is raised to its
        level (never lowered), so the order of a bundle does not decide what may leave.
        """
        o, m = s.objects, s.object_markings
        for ref, level in self._defined_here.items():
            self.conn.execute(
                update(o)
                .where(
                    o.c.tlp < level,
                    o.c.row_id.in_(select(m.c.row_id).where(m.c.marking_ref == ref)),
                )
                .values(tlp=level, tlp_default=False)
            )
        if self._clock is not None:
            self.conn.execute(
                update(s.meta).where(s.meta.c.key == "clock").values(value=str(self._clock))
            )


__all__ = [
    "ObjectRow",
    "Store",
    "WriteResult",
    "Writer",
    "content_hash",
    "observable_rows",
    "reference_rows",
    "search_text",
    "value_bounds",
]
