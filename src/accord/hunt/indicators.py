"""The indicator side of a hunt: active values from the store, warninglists applied.

Active means the current version, not revoked, and ``valid_until`` absent or in the future.
Values come from the store's value index (``observables``), already normalised per kind, so
the hunt compares like with like. Values named by a *suppressing* warninglist (benign
infrastructure) are left out and reported; *annotating* lists (popularity) travel with the
value onto its hits.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
from sqlalchemy import literal, or_, select

from accord.hunt.matchtables import MATCH_TABLES, NET_KINDS, STORE_TO_MATCH, match_tables_arrow
from accord.model.observables import Observable
from accord.store import schema as s
from accord.store.store import Store

HUNTED_KINDS = (*STORE_TO_MATCH, *NET_KINDS)


@dataclass(slots=True)
class IndicatorValue:
    """One hunted value of one indicator (or SCO)."""

    ikey: int
    obj_id: str
    obj_type: str
    kind: str
    value: str
    tlp: int
    date_added_us: int
    annotations: list[dict[str, Any]] = field(default_factory=list)


SNAPSHOT_SCHEMA = pa.schema(
    [
        ("ikey", pa.int64()),
        ("obj_id", pa.string()),
        ("obj_type", pa.string()),
        ("kind", pa.string()),
        ("value", pa.string()),
        ("tlp", pa.int32()),
        ("date_added_us", pa.int64()),
        ("valid_until_us", pa.int64()),
        ("annotations", pa.string()),
    ]
)


@dataclass
class IndicatorSet:
    """The hunted values, column-wise (a million of them stay a few Arrow buffers).

    ``ikey`` identifies a value for the whole run; subsets keep it. Hits are resolved to
    their indicator with :meth:`prefetch` (one pass over the keys for a whole file's hits)
    rather than an index over every value, which would cost more than most hunts find.
    ``match_tables``, when known, are the match definition's inputs for exactly this set
    (kept with the snapshot, see :func:`load_indicators`).
    """

    table: pa.Table
    suppressed: list[dict[str, Any]]
    clock_us: int
    warninglists_applied: bool
    match_tables: dict[str, pa.Table] | None = None
    _cache: dict[int, IndicatorValue] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def values(self) -> list[IndicatorValue]:
        """Every value as an object (for small sets and tests; hunts use :meth:`get`)."""
        return [_value(row) for row in self.table.to_pylist()]

    def prefetch(self, ikeys: Iterable[int]) -> None:
        """Resolve these keys in one pass, so that :meth:`get` on them is a lookup."""
        wanted = sorted({int(k) for k in ikeys} - self._cache.keys())
        if not wanted:
            return
        mask = pc.is_in(self.table.column("ikey"), value_set=pa.array(wanted, pa.int64()))
        for row in self.table.filter(mask).to_pylist():
            self._cache[int(row["ikey"])] = _value(row)

    def get(self, ikey: int) -> IndicatorValue:
        if ikey not in self._cache:
            self.prefetch([ikey])
        return self._cache[ikey]

    def subset(self, added_after_us: int | None) -> IndicatorSet:
        """Only the values added after a store clock (``None``: all of them)."""
        if added_after_us is None:
            return self
        mask = pc.greater(self.table.column("date_added_us"), added_after_us)
        return IndicatorSet(
            self.table.filter(mask), self.suppressed, self.clock_us, self.warninglists_applied
        )

    def obj_ids(self) -> set[str]:
        return set(self.table.column("obj_id").to_pylist())

    @property
    def has_ipv6_networks(self) -> bool:
        return bool(pc.any(pc.equal(self.table.column("kind"), "ipv6-net")).as_py())

    def tables(self) -> dict[str, pa.Table]:
        """The match definition's indicator inputs as Arrow tables (engines load them into
        their own connection with :func:`accord.hunt.matchtables.create_match_tables`)."""
        if self.match_tables is None:
            self.match_tables = match_tables_arrow(self.table)
        return self.match_tables


def _value(row: dict[str, Any]) -> IndicatorValue:
    return IndicatorValue(
        int(row["ikey"]),
        row["obj_id"],
        row["obj_type"],
        row["kind"],
        row["value"],
        row["tlp"],
        row["date_added_us"],
        orjson.loads(row["annotations"]) if row["annotations"] else [],
    )


# Object types whose values the hunt matches: a new version of one of these (a new
# indicator, a revocation) is what makes a file due for hunting again. Sightings the hunt
# itself writes do not.
VALUE_TYPES = (
    "indicator",
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "email-addr",
    "email-message",
    "file",
    "artifact",
    "x509-certificate",
)


def store_clock(store: Store) -> int:
    """The ``date_added`` high-water mark of value-bearing objects (indicators and SCOs).

    Walks the ``date_added`` index from the newest object down, a page at a time, until it
    meets one of :data:`VALUE_TYPES`: what sits on top is usually a few sightings, so this
    reads a handful of index entries instead of filtering the whole table by type.
    """
    o = s.objects
    below: int | None = None
    with store.engine.connect() as conn:
        while True:
            query = select(o.c.type, o.c.date_added_us).order_by(o.c.date_added_us.desc())
            if below is not None:
                query = query.where(o.c.date_added_us < below)
            page = conn.execute(query.limit(500)).all()
            for obj_type, added in page:
                if obj_type in VALUE_TYPES:
                    return int(added)
            if len(page) < 500:
                return 0
            below = int(page[-1][1])


def _warninglists() -> Any | None:
    """The warninglist lookup module, when this build has it."""
    try:
        return importlib.import_module("accord.ingest.warninglists")
    except ImportError:
        return None


WARNINGLIST_GENERATION = "warninglists.generation"  # the warninglist loader's meta key


def _snapshot_name(clock: int, store: Store, use_warninglists: bool) -> str:
    generation = store.get_meta(WARNINGLIST_GENERATION) or "none"
    tag = hashlib.sha256(generation.encode()).hexdigest()[:10]
    return f"indicators-{clock}-{tag}-{'wl' if use_warninglists else 'all'}"


# A snapshot is brought forward from the previous one when what arrived since is small next
# to it: the full read joins a million values with the wide objects table (seconds), while
# the objects added by a sync are usually a few thousand, found through the date_added index.
INCREMENTAL_MAX_SHARE = 0.25
INCREMENTAL_MIN = 1000  # objects always worth bringing forward, whatever the snapshot's size


def load_indicators(
    store: Store,
    *,
    use_warninglists: bool = True,
    now_us: int | None = None,
    cache_dir: Path | None = None,
    clock_us: int | None = None,
) -> IndicatorSet:
    """Every active indicator/SCO value of a hunted kind, warninglists applied.

    With ``cache_dir`` the prepared set is kept as a snapshot named after the store clock
    and the warninglist generation, so that hunts between two intelligence updates do not
    re-read (and re-check) a million values; expiry (``valid_until``) is applied at load.
    The snapshot is an uncompressed Arrow file, memory-mapped: loading it costs nothing
    until a column is used, and the engines scan its columns in place. After an update,
    the previous snapshot is brought forward with the objects added since (the retro-hunt
    after a sync), unless they are many.
    """
    now = now_us if now_us is not None else time.time_ns() // 1000
    clock = clock_us if clock_us is not None else store_clock(store)
    if cache_dir is None:
        found, suppressed, applied = _read_all(store, now, use_warninglists)
        return IndicatorSet(found, suppressed, clock, applied)
    name = _snapshot_name(clock, store, use_warninglists)
    snapshot = cache_dir / f"{name}.arrow"
    if snapshot.exists():
        table = _read_arrow(snapshot)
        meta = orjson.loads((cache_dir / f"{name}.json").read_bytes())
        cached = IndicatorSet(_live(table, now), meta["suppressed"], clock, meta["applied"])
        if cached.table is table:  # nothing expired since: the prepared tables still hold
            cached.match_tables = _prepared(cached, cache_dir, name)
        return cached
    brought = _bring_forward(store, cache_dir, name, clock, now, use_warninglists)
    found, suppressed, applied = brought or _read_all(store, now, use_warninglists)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for old in cache_dir.glob("indicators-*"):
        old.unlink(missing_ok=True)
    (cache_dir / f"{name}.json").write_bytes(
        orjson.dumps({"suppressed": suppressed, "applied": applied, "built_us": now})
    )
    _write_arrow(found, snapshot)
    result = IndicatorSet(found, suppressed, clock, applied)
    result.match_tables = _prepared(result, cache_dir, name)
    return result


_Read = tuple[pa.Table, list[dict[str, Any]], bool]  # values, suppressed, lists applied


def _read_all(store: Store, now: int, use_warninglists: bool) -> _Read:
    """Every active value, read from the store."""
    return _checked(store, _query(store, now), use_warninglists)


def _checked(store: Store, found: pa.Table, use_warninglists: bool) -> _Read:
    """``found`` with the warninglists applied (when asked and available)."""
    module = _warninglists() if use_warninglists else None
    suppressed: list[dict[str, Any]] = []
    if module is not None and found.num_rows:
        found, suppressed = _apply_warninglists(store, module, found)
    return found, suppressed, module is not None


def _previous(cache_dir: Path, name: str, clock: int) -> tuple[str, int] | None:
    """The newest older snapshot made with the same warninglists and mode, if any."""
    _, _, rest = name.partition("-")  # indicators-{clock}-{tag}-{mode}
    suffix = rest.partition("-")[2]
    best: tuple[str, int] | None = None
    for meta in cache_dir.glob(f"indicators-*-{suffix}.json"):
        stem = meta.name.removesuffix(".json")
        number = stem.split("-")[1]
        if not number.isdigit() or not (cache_dir / f"{stem}.arrow").exists():
            continue
        if int(number) < clock and (best is None or int(number) > best[1]):
            best = (stem, int(number))
    return best


def _bring_forward(
    store: Store, cache_dir: Path, name: str, clock: int, now: int, use_warninglists: bool
) -> _Read | None:
    """The previous snapshot, with every object added since its clock replaced by the
    store's current values for it (new indicators, new versions, revocations); None when
    there is no usable previous snapshot or when so much arrived that a full read is
    cheaper."""
    previous = _previous(cache_dir, name, clock) if cache_dir.is_dir() else None
    if previous is None:
        return None
    stem, since = previous
    meta = orjson.loads((cache_dir / f"{stem}.json").read_bytes())
    built = meta.get("built_us")
    if built is None or now < built:  # values that had expired by then may be live again
        return None
    base = _live(_read_arrow(cache_dir / f"{stem}.arrow"), now)
    changed = _changed_since(
        store, since, int(INCREMENTAL_MAX_SHARE * base.num_rows) + INCREMENTAL_MIN
    )
    if changed is None:
        return None
    parts = [
        _query(store, now, ids=changed[i : i + _ID_CHUNK])
        for i in range(0, len(changed), _ID_CHUNK)
    ]
    fresh = pa.concat_tables(parts) if parts else SNAPSHOT_SCHEMA.empty_table()
    fresh, fresh_suppressed, applied = _checked(store, fresh, use_warninglists)
    if applied != meta["applied"]:
        return None
    gone = pa.array(changed, pa.string())
    kept = base.filter(pc.invert(pc.is_in(base.column("obj_id"), value_set=gone)))
    start = (pc.max(base.column("ikey")).as_py() + 1) if base.num_rows else 0
    fresh = fresh.set_column(0, "ikey", pc.add(fresh.column("ikey"), start))
    merged = pa.concat_tables([kept, fresh]).combine_chunks()
    replaced = set(changed)
    suppressed = [x for x in meta["suppressed"] if x["indicator"] not in replaced]
    return merged, suppressed + fresh_suppressed, applied


_ID_CHUNK = 500


def _changed_since(store: Store, since_us: int, limit: int) -> list[str] | None:
    """Ids of value-bearing objects added after ``since_us`` (through the date_added
    index), or None when there are more than ``limit`` of them."""
    o = s.objects
    query = (
        select(o.c.id, o.c.type)
        .where(o.c.date_added_us > since_us)
        .order_by(o.c.date_added_us)
        .limit(limit * 4 + 1)  # sightings and other objects ride along; bounded all the same
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    if len(rows) > limit * 4:
        return None
    ids = list(dict.fromkeys(obj_id for obj_id, obj_type in rows if obj_type in VALUE_TYPES))
    return None if len(ids) > limit else ids


def _prepared(indicators: IndicatorSet, cache_dir: Path, name: str) -> dict[str, pa.Table]:
    """The snapshot's match tables from the cache (made and kept there if missing, e.g. after
    an upgrade that changed them)."""
    paths = {t: cache_dir / f"{name}.{t}.arrow" for t in MATCH_TABLES}
    if not all(p.exists() for p in paths.values()):
        for table_name, prepared in indicators.tables().items():
            _write_arrow(prepared, paths[table_name])
    return {t: _read_arrow(p) for t, p in paths.items()}


def _write_arrow(table: pa.Table, path: Path) -> None:
    """An uncompressed Arrow file, written aside and renamed into place."""
    tmp = path.with_name(f".{path.name}")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def _read_arrow(path: Path) -> pa.Table:
    """An Arrow file, memory-mapped: pages are read when a column is first used."""
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def _live(table: pa.Table, now: int) -> pa.Table:
    """Drop the values whose ``valid_until`` has passed (no copy when none has)."""
    until = table.column("valid_until_us")
    if until.null_count == len(until):
        return table
    expired = pc.fill_null(pc.less_equal(until, now), False)
    if not pc.any(expired).as_py():
        return table
    return table.filter(pc.invert(expired))


def _query(store: Store, now: int, ids: list[str] | None = None) -> pa.Table:
    """Active values of every object (``ids`` None) or of the current versions of these."""
    o, v = s.objects, s.observables
    query = (
        select(
            v.c.obj_id,
            o.c.type,
            v.c.kind,
            v.c.value,
            o.c.tlp,
            o.c.date_added_us,
            o.c.valid_until_us,
        )
        .join(o, o.c.row_id == v.c.row_id)
        .where(
            o.c.is_current,
            o.c.revoked.is_(False),
            or_(o.c.valid_until_us.is_(None), o.c.valid_until_us > now),
            # ``kind || ''``: not the (kind, value) index, whose order would turn the join
            # into a million random reads of the wide objects table; scanned in storage
            # order it reads them in order (3x faster on SQLite, the same elsewhere)
            (v.c.kind + literal("")).in_(HUNTED_KINDS),
        )
    )
    if ids is not None:  # a few objects: found through the id index, then their values
        query = query.where(o.c.id.in_(ids))
    with store.engine.connect() as conn:
        # plain driver tuples: a million rows through SQLAlchemy's Row machinery cost seconds
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        rows = conn.exec_driver_sql(sql).cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 7
    return pa.table(
        [
            pa.array(range(len(rows)), pa.int64()),
            *(
                pa.array(col, field.type)
                for col, field in zip(columns, list(SNAPSHOT_SCHEMA)[1:8], strict=True)
            ),
            pa.nulls(len(rows), pa.string()),
        ],
        schema=SNAPSHOT_SCHEMA,
    )


def _apply_warninglists(
    store: Store, module: Any, found: pa.Table
) -> tuple[pa.Table, list[dict[str, Any]]]:
    kinds = found.column("kind").to_pylist()
    values = found.column("value").to_pylist()
    observables = [Observable(k, v) for k, v in zip(kinds, values, strict=True)]
    matches = module.lookup(store, observables)
    keep: list[bool] = []
    notes: list[str | None] = []
    suppressed: list[dict[str, Any]] = []
    ids = found.column("obj_id").to_pylist()
    for obj_id, obs in zip(ids, observables, strict=True):
        hits = matches.get(obs) or []
        if hits and module.is_suppressed(hits):
            suppressed.append(
                {
                    "indicator": obj_id,
                    "kind": obs.kind,
                    "value": obs.value,
                    "lists": sorted({m.name for m in hits if m.effect == "suppress"}),
                }
            )
            keep.append(False)
            notes.append(None)
            continue
        keep.append(True)
        notes.append(orjson.dumps([m.as_dict() for m in hits]).decode() if hits else None)
    found = found.set_column(
        found.schema.get_field_index("annotations"), "annotations", pa.array(notes, pa.string())
    )
    return found.filter(pa.array(keep, pa.bool_())), suppressed
