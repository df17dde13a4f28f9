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
import ipaddress
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import or_, select

from accord.model.observables import Observable
from accord.store import schema as s
from accord.store.store import Store

STORE_TO_MATCH = {
    "ipv4": "ip",
    "ipv6": "ip",
    "domain": "name",
    "url": "url",
    "email": "email",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
    "sha512": "hash",
}
NET_KINDS = ("ipv4-net", "ipv6-net")
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

    ``ikey`` identifies a value for the whole run; subsets keep it.
    """

    table: pa.Table
    suppressed: list[dict[str, Any]]
    clock_us: int
    warninglists_applied: bool
    _rows: dict[int, int] | None = None
    _cache: dict[int, IndicatorValue] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def values(self) -> list[IndicatorValue]:
        """Every value as an object (for small sets and tests; hunts use :meth:`get`)."""
        return [self.get(int(k)) for k in self.table.column("ikey").to_pylist()]

    def get(self, ikey: int) -> IndicatorValue:
        found = self._cache.get(ikey)
        if found is not None:
            return found
        if self._rows is None:
            self._rows = {int(k): i for i, k in enumerate(self.table.column("ikey").to_pylist())}
        row = self.table.slice(self._rows[ikey], 1).to_pylist()[0]
        item = IndicatorValue(
            ikey,
            row["obj_id"],
            row["obj_type"],
            row["kind"],
            row["value"],
            row["tlp"],
            row["date_added_us"],
            orjson.loads(row["annotations"]) if row["annotations"] else [],
        )
        self._cache[ikey] = item
        return item

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
        """The match definition's indicator inputs as Arrow tables."""
        con = duckdb.connect()
        con.register("snapshot", self.table)
        mapping = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STORE_TO_MATCH.items())
        ind_values = con.sql(
            f"SELECT ikey, CASE kind {mapping} END AS k, value AS v FROM snapshot "
            "WHERE kind NOT LIKE '%-net'"
        ).to_arrow_table()
        labels = con.execute(
            "SELECT max(length(value) - length(replace(value, '.', '')) + 1) FROM snapshot "
            "WHERE kind = 'domain'"
        ).fetchone()
        max_labels = int(labels[0]) if labels and labels[0] is not None else 1
        idn = con.execute(
            "SELECT ikey, value FROM snapshot WHERE kind = 'domain' AND value LIKE '%xn--%'"
        ).fetchall()
        net_rows = con.execute(
            "SELECT ikey, kind, value FROM snapshot WHERE kind LIKE '%-net'"
        ).fetchall()
        con.close()
        extra = [(k, u) for k, v in idn if (u := _unicode_form(v)) is not None]
        if extra:
            ind_values = pa.concat_tables(
                [
                    ind_values,
                    pa.table(
                        {
                            "ikey": pa.array([k for k, _ in extra], pa.int64()),
                            "k": pa.array(["name"] * len(extra), pa.string()),
                            "v": pa.array([u for _, u in extra], pa.string()),
                        }
                    ),
                ]
            )
        nets = [_network(ikey, kind, value) for ikey, kind, value in net_rows]
        plens = sorted({(fam, plen) for _ikey, fam, plen, _key, _bits in nets})
        octets = sorted(
            {
                a
                for _ikey, fam, plen, key, _bits in nets
                if fam == 4
                for a in _first_octets(key, plen)
            }
        )
        return {
            "ind_values": ind_values,
            "ind_nets": pa.table(
                {
                    "ikey": pa.array([n[0] for n in nets], pa.int64()),
                    "fam": pa.array([n[1] for n in nets], pa.int32()),
                    "plen": pa.array([n[2] for n in nets], pa.int32()),
                    "netkey": pa.array([n[3] for n in nets], pa.int64()),
                    "bits": pa.array([n[4] for n in nets], pa.string()),
                }
            ),
            "plens": pa.table(
                {
                    "fam": pa.array([f for f, _ in plens], pa.int32()),
                    "plen": pa.array([p for _, p in plens], pa.int32()),
                    "div": pa.array(
                        [2 ** (32 - p) if f == 4 else None for f, p in plens], pa.int64()
                    ),
                }
            ),
            "net_octets": pa.table({"a": pa.array(octets, pa.int64())}),
            "nums": pa.table({"n": pa.array(range(1, max_labels + 1), pa.int32())}),
        }


def _network(ikey: int, kind: str, value: str) -> tuple[int, int, int, int | None, str | None]:
    """``(ikey, family, prefix length, IPv4 network number, IPv6 prefix bits)``."""
    address, _, length = value.partition("/")
    plen = int(length)
    if kind == "ipv4-net":
        a, b, c, d = (int(x) for x in address.split("."))
        number = (a << 24) | (b << 16) | (c << 8) | d
        return ikey, 4, plen, number >> (32 - plen), None
    number = int(ipaddress.IPv6Address(address))
    return ikey, 6, plen, None, format(number, "0128b")[:plen]


def _first_octets(netkey: int | None, plen: int) -> range:
    """First octets an IPv4 network (as its network number) spans."""
    if netkey is None:
        return range(0)
    if plen >= 8:
        return range(netkey >> (plen - 8), (netkey >> (plen - 8)) + 1)
    first = netkey << (8 - plen)
    return range(first, first + (1 << (8 - plen)))


def _unicode_form(name: str) -> str | None:
    """The Unicode spelling of a punycode domain, so names logged in Unicode match too."""
    if "xn--" not in name:
        return None
    try:
        return name.encode("ascii").decode("idna").lower()
    except UnicodeError:
        return None


def ipv6_bits(values: Iterable[str]) -> pa.Table:
    """128-bit strings of observed IPv6 addresses (invalid ones are left out)."""
    vs: list[str] = []
    bits: list[str] = []
    for value in values:
        try:
            address = ipaddress.IPv6Address(value.split("%", 1)[0])
        except ValueError:
            continue
        vs.append(value)
        bits.append(format(int(address), "0128b"))
    return pa.table({"v": pa.array(vs, pa.string()), "bits": pa.array(bits, pa.string())})


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


def load_indicators(
    store: Store,
    *,
    use_warninglists: bool = True,
    now_us: int | None = None,
    cache_dir: Path | None = None,
    clock_us: int | None = None,
) -> IndicatorSet:
    """Every active indicator/SCO value of a hunted kind, warninglists applied.

    With ``cache_dir`` the prepared set is kept as a Parquet snapshot named after the store
    clock and the warninglist generation, so that hunts between two intelligence updates do
    not re-read (and re-check) a million values; expiry (``valid_until``) is applied at load.
    """
    now = now_us if now_us is not None else time.time_ns() // 1000
    clock = clock_us if clock_us is not None else store_clock(store)
    name = _snapshot_name(clock, store, use_warninglists) if cache_dir is not None else ""
    if cache_dir is not None:
        snapshot = cache_dir / f"{name}.parquet"
        if snapshot.exists():
            table = pq.read_table(snapshot)
            meta = orjson.loads((cache_dir / f"{name}.json").read_bytes())
            live = pc.or_kleene(
                pc.is_null(table.column("valid_until_us")),
                pc.greater(table.column("valid_until_us"), now),
            )
            return IndicatorSet(table.filter(live), meta["suppressed"], clock, meta["applied"])
    found = _query(store, now)
    suppressed: list[dict[str, Any]] = []
    module = _warninglists() if use_warninglists else None
    if module is not None and found.num_rows:
        found, suppressed = _apply_warninglists(store, module, found)
    applied = module is not None and use_warninglists
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("indicators-*"):
            old.unlink(missing_ok=True)
        tmp = cache_dir / f".{name}.parquet"
        pq.write_table(found, tmp)
        (cache_dir / f"{name}.json").write_bytes(
            orjson.dumps({"suppressed": suppressed, "applied": applied})
        )
        os.replace(tmp, cache_dir / f"{name}.parquet")
    return IndicatorSet(found, suppressed, clock, applied)


def _query(store: Store, now: int) -> pa.Table:
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
            v.c.kind.in_(HUNTED_KINDS),
        )
    )
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
