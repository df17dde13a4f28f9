"""Load a knowledge base into the store: one atomic write, new versions only where needed.

Galaxy-derived objects are built with a fixed ``modified`` (see :mod:`.common`), so the
first load and every re-run with unchanged upstream data produce identical objects and the
store stores nothing. When an upstream entry changes, its object is compared with the
stored current version *ignoring* ``modified``; a difference becomes a new version whose
``modified`` is now (millisecond precision, strictly after the stored version).

Three cases are deliberately left alone, and counted as ``kept``:

* the current version came from somewhere else (an imported MITRE bundle, a peer): it is
  newer than the galaxy's view and usually richer, so the galaxy does not overwrite it;
* the stored version is revoked and the galaxy's is not: revocation is permanent in STIX;
* a marking definition already stored (they are unversioned).

An object with a knowledge-base id but another creator cannot be versioned here at all:
the store refuses it (``ForeignCreator``) and the whole update stops with that reason.

Objects this knowledge base loaded earlier and that upstream no longer has (a dropped
``uses`` link, a merged actor) are *retired*: a new version with ``revoked: true``, so
attribution stops counting them while their history stays in the store.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pymispgalaxies import Cluster
from sqlalchemy import Connection, Select, select

from accord.ingest.kb import actors, attack
from accord.ingest.kb.common import galaxies_package_version
from accord.model.stix import is_versioned
from accord.model.timestamps import format_millis, from_micros, now_utc, to_micros
from accord.model.tlp import TLP
from accord.store import Store
from accord.store import schema as s
from accord.store.store import Writer, content_hash

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while objects are queued for the write."""

_PROGRESS_EVERY = 500
_CHUNK = 500


@dataclass
class KbResult:
    """What one knowledge-base update did."""

    name: str
    version: str
    objects: Counter[str] = field(default_factory=Counter)
    new: int = 0
    updated: int = 0
    retired: int = 0
    unchanged: int = 0
    kept: int = 0
    stored_by_type: Counter[str] = field(default_factory=Counter)

    @property
    def received(self) -> int:
        """Objects in the upstream build."""
        return sum(self.objects.values())

    @property
    def stored(self) -> int:
        """New versions written: new objects, changed objects and retired objects."""
        return self.new + self.updated + self.retired

    def as_dict(self) -> dict[str, Any]:
        return {
            "kb": self.name,
            "version": self.version,
            "objects": self.received,
            "by_type": dict(sorted(self.objects.items())),
            "stored": self.stored,
            "new": self.new,
            "updated": self.updated,
            "retired": self.retired,
            "unchanged": self.unchanged,
            "kept": self.kept,
            "stored_by_type": dict(sorted(self.stored_by_type.items())),
        }


def update_attack(
    store: Store,
    progress: ProgressCallback | None = None,
    *,
    clusters: Mapping[str, Cluster] | None = None,
    now: datetime | None = None,
) -> KbResult:
    """Load MITRE ATT&CK Enterprise from the installed galaxies (``kb.attack.version``)."""
    clusters = clusters if clusters is not None else attack.load_attack_clusters()
    objects = attack.build_attack_objects(clusters)
    details = {name: clusters[name].version for name in attack.ATTACK_CLUSTERS}
    return load_kb(
        store,
        "attack",
        attack.attack_version(clusters),
        attack.MITRE_IDENTITY_ID,
        objects,
        clusters=details,
        progress=progress,
        now=now,
    )


def update_actors(
    store: Store,
    progress: ProgressCallback | None = None,
    *,
    cluster: Cluster | None = None,
    attack_objects: Sequence[Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> KbResult:
    """Load the MISP threat-actor catalogue and its links to ATT&CK (``kb.actors.version``)."""
    cluster = cluster if cluster is not None else actors.load_actor_cluster()
    objects = actors.build_actor_objects(cluster, attack_objects)
    return load_kb(
        store,
        "actors",
        actors.actors_version(cluster),
        actors.MISP_IDENTITY_ID,
        objects,
        clusters={actors.ACTORS: cluster.version},
        progress=progress,
        now=now,
    )


def load_kb(
    store: Store,
    name: str,
    version: str,
    identity_id: str,
    objects: Sequence[Mapping[str, Any]],
    *,
    clusters: Mapping[str, int] | None = None,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> KbResult:
    """Write ``objects`` as knowledge base ``name`` in one transaction and record its version.

    ``identity_id`` creates the knowledge base's objects (all but identities and marking
    definitions): what this knowledge base created in an earlier load and is missing from
    ``objects`` is retired.
    """
    now_ms = to_micros(now or now_utc()) // 1000
    result = KbResult(name, version)
    prefix = _source_prefix(name)
    built_ids = {obj["id"] for obj in objects}
    with store.writer("kb", f"{prefix}{version}", import_tlp=TLP.CLEAR) as writer:
        # Read through the writer's own connection: it holds the write lock (on SQLite from
        # BEGIN), so no concurrent update can slip a version in between read and write.
        conn = writer.conn
        current = _current_by_creator(conn, identity_id)
        current.update(
            _current_by_id(conn, [o["id"] for o in objects if "created_by_ref" not in o])
        )
        retiring = sorted(
            (
                row
                for row in current.values()
                if row.id not in built_ids
                and not row.revoked
                and row.source_kind == "kb"
                and row.source_name.startswith(prefix)
            ),
            key=lambda row: row.id,
        )
        # Most objects are unchanged and still at their first version: the stored content
        # hash settles those. Only the others need their stored body, fetched in one go.
        pending: list[tuple[Mapping[str, Any], _Current | None]] = []
        for obj in objects:
            result.objects[obj["type"]] += 1
            row = current.get(obj["id"])
            if row is not None and row.content_hash == content_hash(obj):
                result.unchanged += 1
            else:
                pending.append((obj, row))
        bodies = _bodies(conn, [row.row_id for _, row in pending if row is not None])
        bodies.update(_bodies(conn, [row.row_id for row in retiring]))
        total = len(pending) + len(retiring)
        for done, (obj, row) in enumerate(pending, start=1):
            stored = orjson.loads(bodies[row.row_id]) if row is not None else None
            _sync(writer, result, obj, row, stored, now_ms)
            if progress is not None and done % _PROGRESS_EVERY == 0:
                progress(done, total)
        for row in retiring:
            retired = {**orjson.loads(bodies[row.row_id]), "revoked": True}
            writer.put({**retired, "modified": _later(now_ms, row)}, f"{name}: retiring {row.id}")
            result.retired += 1
            result.stored_by_type[row.type] += 1
        if progress is not None:
            progress(total, total)
        meta = {
            "version": version,
            "clusters": json.dumps(dict(clusters or {}), sort_keys=True),
            "source": f"pymispgalaxies {galaxies_package_version()}",
            "updated_at": format_millis(from_micros(now_ms * 1000)),
        }
        for key, value in meta.items():
            store.set_meta(f"kb.{name}.{key}", value, conn=conn)
    return result


def _sync(
    writer: Writer,
    result: KbResult,
    obj: Mapping[str, Any],
    row: _Current | None,
    stored: Mapping[str, Any] | None,
    now_ms: int,
) -> None:
    """Store ``obj`` when new, as a new version when changed; count what was left alone."""
    place = f"{result.name}: {obj['id']}"
    if row is None or stored is None:
        writer.put(obj, place)
        result.new += 1
        result.stored_by_type[obj["type"]] += 1
        return
    if not is_versioned(obj):  # a marking definition stored with other content: keep it
        result.kept += 1
        return
    if _without_modified(stored) == _without_modified(obj):
        result.unchanged += 1
        return
    ours = row.source_kind == "kb" and row.source_name.startswith(_source_prefix(result.name))
    if not ours or (row.revoked and not obj.get("revoked")):
        result.kept += 1
        return
    writer.put({**obj, "modified": _later(now_ms, row)}, place)
    result.updated += 1
    result.stored_by_type[obj["type"]] += 1


def _source_prefix(name: str) -> str:
    """Start of the provenance name of every write of knowledge base ``name``."""
    return f"{name} galaxy v"


def _without_modified(obj: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {k: v for k, v in obj.items() if k != "modified"}, option=orjson.OPT_SORT_KEYS
    )


def _later(now_ms: int, row: _Current) -> str:
    """``now`` in milliseconds, or one millisecond after the stored version if that is later."""
    stamp_ms = max(now_ms, row.modified_us // 1000 + 1)
    return format_millis(from_micros(stamp_ms * 1000))


@dataclass(slots=True, frozen=True)
class _Current:
    """What the update needs to know of a stored current version (its body comes later)."""

    row_id: int
    id: str
    type: str
    modified_us: int
    revoked: bool
    source_kind: str
    source_name: str
    content_hash: str


_CURRENT_COLUMNS = (
    s.objects.c.row_id,
    s.objects.c.id,
    s.objects.c.type,
    s.objects.c.modified_us,
    s.objects.c.revoked,
    s.objects.c.source_kind,
    s.objects.c.source_name,
    s.objects.c.content_hash,
)


def _rows(conn: Connection, query: Select[Any]) -> dict[str, _Current]:
    return {
        r.id: _Current(
            r.row_id,
            r.id,
            r.type,
            r.modified_us,
            bool(r.revoked),
            r.source_kind,
            r.source_name,
            r.content_hash,
        )
        for r in conn.execute(query)
    }


def _current_by_creator(conn: Connection, identity_id: str) -> dict[str, _Current]:
    """Every current object of one creator, in one indexed query.

    One query instead of thousands of ids in ``IN`` lists: besides being fewer round trips,
    it avoids a PostgreSQL pitfall where a prepared ``IN ($1…$500)`` statement gets a
    generic sequential plan on a freshly loaded table and each chunk takes most of a second.
    """
    query = select(*_CURRENT_COLUMNS).where(
        s.objects.c.created_by_ref == identity_id, s.objects.c.is_current
    )
    return _rows(conn, query)


def _current_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, _Current]:
    """Current versions of a few ids (identities and markings, which have no creator)."""
    found: dict[str, _Current] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        query = select(*_CURRENT_COLUMNS).where(s.objects.c.id.in_(chunk), s.objects.c.is_current)
        found.update(_rows(conn, query))
    return found


def _bodies(conn: Connection, row_ids: Sequence[int]) -> dict[int, str]:
    """Stored JSON of the given rows (only those the content hash could not settle)."""
    found: dict[int, str] = {}
    for start in range(0, len(row_ids), _CHUNK):
        chunk = list(row_ids[start : start + _CHUNK])
        query = select(s.objects.c.row_id, s.objects.c.body).where(s.objects.c.row_id.in_(chunk))
        found.update({r.row_id: r.body for r in conn.execute(query)})
    return found
