"""``run_hunt``: files in, evidence out. Orchestrates readers, an engine and the store.

Per file: decompress if needed, detect the format and read it into observations; the engine
matches a batch of files at once; then each file's hits and its new watermark are committed
in **one** transaction per file. An interrupted hunt therefore leaves whole files done or
untouched, and a re-run skips the files whose fingerprint, settings and watermark show they
are already hunted against every current indicator: it resumes without duplicates.
Sightings are rebuilt from the stored hits at the end, per (indicator, source), so they
always agree with the evidence.
"""

from __future__ import annotations

import glob
import hashlib
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
from sqlalchemy import and_, delete, func, insert, select, update

from accord.hunt import tables as t
from accord.hunt.engines import BATCH_BYTES, DuckDBEngine, Engine, Hit, SparkEngine
from accord.hunt.indicators import IndicatorSet, load_indicators, store_clock
from accord.hunt.inputs import FORMATS, Problem, StrictStop, detect_format, fingerprint, open_plain
from accord.hunt.readbase import READ_TABLE_PREFIX, ReadError, ReadOptions, ReadResult
from accord.hunt.readers import read_file
from accord.hunt.sightings import SightingFacts, build_sighting, sighting_id
from accord.model.errors import AccordError, NotFound
from accord.model.timestamps import format_micros
from accord.model.tlp import TLP
from accord.store import schema as s
from accord.store.home import NodeHome
from accord.store.store import Store

ADHOC_SOURCE = "adhoc"


# --- sources ----------------------------------------------------------------------------------


@dataclass
class LogSource:
    source_id: int
    name: str
    path: str
    format: str
    timezone: str | None
    field_map: dict[str, list[str]]
    last_hunt_us: int | None
    watermark_us: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "format": self.format,
            "timezone": self.timezone,
            "map": self.field_map,
            "last_hunt": format_micros(self.last_hunt_us) if self.last_hunt_us else None,
        }


def _source_from_row(r: Any) -> LogSource:
    return LogSource(
        r.source_id,
        r.name,
        r.path,
        r.format,
        r.timezone,
        orjson.loads(r.field_map) if r.field_map else {},
        r.last_hunt_us,
        r.watermark_us,
    )


def list_sources(store: Store) -> list[LogSource]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.hunt_sources).order_by(t.hunt_sources.c.name)).all()
    return [_source_from_row(r) for r in rows]


def get_source(store: Store, name: str) -> LogSource | None:
    with store.engine.connect() as conn:
        r = conn.execute(select(t.hunt_sources).where(t.hunt_sources.c.name == name)).first()
    return _source_from_row(r) if r else None


def _check_timezone(timezone: str | None) -> None:
    if timezone is None:
        return
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AccordError(f"unknown time zone {timezone!r} (use an IANA name, e.g. UTC)") from None


def add_source(
    store: Store,
    name: str,
    path: str,
    fmt: str = "auto",
    *,
    timezone: str | None = None,
    field_map: dict[str, list[str]] | None = None,
    replace: bool = False,
) -> LogSource:
    """Register (or, with ``replace``, redefine) a named log source."""
    if fmt not in FORMATS:
        raise AccordError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if not name.strip():
        raise AccordError("a log source needs a name")
    _check_timezone(timezone)
    values = {
        "name": name,
        "path": path,
        "format": fmt,
        "timezone": timezone,
        "field_map": orjson.dumps(field_map).decode() if field_map else None,
    }
    with store.transaction() as conn:
        existing = conn.execute(
            select(t.hunt_sources.c.source_id).where(t.hunt_sources.c.name == name)
        ).first()
        if existing and not replace:
            raise AccordError(f"log source {name!r} already exists (use --replace)")
        if existing:
            conn.execute(
                update(t.hunt_sources)
                .where(t.hunt_sources.c.source_id == existing[0])
                .values(**values)
            )
        else:
            conn.execute(insert(t.hunt_sources).values(created_us=_now_us(), **values))
    found = get_source(store, name)
    assert found is not None
    return found


def expand_paths(pattern: str) -> list[Path]:
    """Files named by a path, a directory (recursively) or a glob, sorted."""
    p = Path(pattern).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(
            f for f in p.rglob("*") if f.is_file() and not any(x.startswith(".") for x in f.parts)
        )
    return sorted(Path(m) for m in glob.glob(str(p), recursive=True) if Path(m).is_file())


# --- summary ----------------------------------------------------------------------------------


@dataclass
class FileReport:
    path: str
    source: str
    format: str | None = None
    log_type: str | None = None
    bytes: int = 0
    lines: int = 0
    bad_lines: int = 0
    hits: int = 0
    status: str = "hunted"  # hunted | unchanged | failed

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


PHASES = ("indicators", "reading", "matching", "recording")


@dataclass
class HuntSummary:
    """What a hunt did, for people (``render_text``) and machines (``as_dict``)."""

    engine: str
    mode: str
    files: list[FileReport] = field(default_factory=list)
    hits_per_indicator: dict[str, dict[str, Any]] = field(default_factory=dict)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    indicators_hunted: int = 0
    warninglists_applied: bool = False
    sightings_written: int = 0
    sightings_unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    retro: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    # Where the time went: loading the indicators, reading the logs (parsing and keeping each
    # record's line), matching, and recording hits and sightings in the store.
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[phase] += time.perf_counter() - started

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files if f.status == "hunted")

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files if f.status == "hunted")

    @property
    def bad_lines(self) -> int:
        return sum(f.bad_lines for f in self.files)

    @property
    def hits(self) -> int:
        return sum(f.hits for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "mode": self.mode,
            "files": len([f for f in self.files if f.status == "hunted"]),
            "files_unchanged": len([f for f in self.files if f.status == "unchanged"]),
            "files_failed": len([f for f in self.files if f.status == "failed"]),
            "bytes": self.bytes,
            "lines": self.lines,
            "bad_lines": self.bad_lines,
            "hits": self.hits,
            "indicators_hunted": self.indicators_hunted,
            "warninglists_applied": self.warninglists_applied,
            "hits_per_indicator": self.hits_per_indicator,
            "suppressed_indicators": self.suppressed,
            "sightings_written": self.sightings_written,
            "sightings_unchanged": self.sightings_unchanged,
            "first_seen_before_received": self.retro,
            "problems": [p.as_dict() for p in self.problems],
            "seconds": round(self.seconds, 3),
            "phase_seconds": {k: round(v, 3) for k, v in self.phases.items()},
            "per_file": [f.as_dict() for f in self.files],
        }

    def render_text(self) -> list[str]:
        mb = self.bytes / 1e6
        rate = f", {mb / self.seconds:.1f} MB/s" if self.seconds > 0 and mb else ""
        lines = [
            f"Hunted {len([f for f in self.files if f.status == 'hunted'])} file(s), "
            f"{mb:.1f} MB, {self.lines:,} lines in {self.seconds:.1f} s{rate} "
            f"({self.engine}, {self.mode}); {self.indicators_hunted:,} indicator values.",
        ]
        unchanged = [f for f in self.files if f.status == "unchanged"]
        if unchanged:
            lines.append(f"{len(unchanged)} file(s) already hunted against every indicator.")
        if self.bad_lines:
            lines.append(f"{self.bad_lines} bad line(s) skipped.")
        for problem in self.problems[:10]:
            lines.append(f"  ! {problem}")
        if len(self.problems) > 10:
            lines.append(f"  … and {len(self.problems) - 10} more problem(s)")
        if self.suppressed:
            lines.append(
                f"{len(self.suppressed)} indicator value(s) suppressed by warninglists "
                "(benign infrastructure), e.g. "
                + ", ".join(
                    f"{x['value']} ({', '.join(x['lists'][:1])})" for x in self.suppressed[:3]
                )
            )
        if not self.hits_per_indicator:
            lines.append("No indicator matched.")
        for ind, info in sorted(
            self.hits_per_indicator.items(), key=lambda kv: kv[1].get("first_seen") or ""
        ):
            lines.append(
                f"  {info['hits']:>7,} hit(s)  {ind}  {', '.join(info['values'][:3])}  "
                f"first {info.get('first_seen') or '?'}  last {info.get('last_seen') or '?'}"
            )
        for note in self.retro:
            lines.append(note["text"])
        lines.append(
            f"Sightings: {self.sightings_written} written, {self.sightings_unchanged} unchanged."
        )
        return lines


# --- options and progress ---------------------------------------------------------------------


class Progress:
    """Progress sink; the CLI plugs a rich bar in, the API a no-op."""

    def start(self, total_bytes: int) -> None:
        return None

    def file_done(self, report: FileReport) -> None:
        return None

    def stop(self) -> None:
        return None


@dataclass
class HuntOptions:
    fmt: str = "auto"
    engine: str = "duckdb"
    spark_master: str = "local[2]"
    spark_session: Any = None
    stage_dir: Path | None = None
    new: bool = False
    use_warninglists: bool = True
    strict: bool = False
    field_map: dict[str, list[str]] = field(default_factory=dict)
    timezone: str | None = None
    source_name: str | None = None
    memory_limit: str = "1536MB"
    batch_bytes: int = BATCH_BYTES  # logs the DuckDB engine matches together
    cache_dir: Path | None = None  # indicator snapshots (the CLI uses <home>/hunt-cache)
    progress: Progress = field(default_factory=Progress)


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class _Job:
    path: Path
    source: LogSource
    fmt: str
    field_map: dict[str, list[str]]
    timezone: str
    config: str
    fingerprint: str
    size: int
    state: Any | None
    since_us: int | None  # None: every indicator; else only those added after
    report: FileReport


def _config_hash(fmt: str, field_map: dict[str, list[str]], tz: str, wl: bool) -> str:
    raw = orjson.dumps({"f": fmt, "m": field_map, "tz": tz, "wl": wl}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()[:16]


def _resolve_targets(
    store: Store, paths: Sequence[str | Path], options: HuntOptions
) -> list[tuple[LogSource, list[Path]]]:
    if not paths:
        sources = list_sources(store)
        sources = [x for x in sources if x.name != (options.source_name or ADHOC_SOURCE)]
        if not sources:
            raise AccordError(
                "nothing to hunt: give log paths, or register a source with `accord source add`"
            )
        return [(x, expand_paths(x.path)) for x in sources]
    targets: list[tuple[LogSource, list[Path]]] = []
    adhoc: list[Path] = []
    for item in paths:
        text = str(item)
        registered = get_source(store, text) if not Path(text).exists() else None
        if registered is not None:
            targets.append((registered, expand_paths(registered.path)))
            continue
        found = expand_paths(text)
        if not found:
            raise NotFound(f"no such log file, directory, glob or source: {text}")
        adhoc.extend(found)
    if adhoc:
        name = options.source_name or ADHOC_SOURCE
        source = get_source(store, name)
        if source is None:
            source = add_source(
                store,
                name,
                " ".join(str(p) for p in paths),
                options.fmt,
                timezone=options.timezone,
                field_map=options.field_map or None,
            )
        targets.append((source, list(dict.fromkeys(adhoc))))
    return targets


def _file_state(store: Store, source_id: int, path: str) -> Any | None:
    f = t.hunt_files
    with store.engine.connect() as conn:
        return conn.execute(
            select(f).where(and_(f.c.source_id == source_id, f.c.path == path))
        ).first()


def _plan(
    store: Store, targets: list[tuple[LogSource, list[Path]]], options: HuntOptions, clock: int
) -> list[_Job]:
    jobs: list[_Job] = []
    for source, files in targets:
        fmt = options.fmt if options.fmt != "auto" else source.format
        field_map = options.field_map or source.field_map
        tz = options.timezone or source.timezone or "UTC"
        config = _config_hash(fmt, field_map, tz, options.use_warninglists)
        for path in files:
            resolved = str(path.resolve())
            state = _file_state(store, source.source_id, resolved)
            fp = fingerprint(path)
            report = FileReport(resolved, source.name, bytes=path.stat().st_size)
            same = state is not None and state.fingerprint == fp and state.config == config
            since: int | None = None
            if same and state.watermark_us >= clock:
                report.status = "unchanged"
                report.format, report.log_type = fmt, state.log_type
            elif same and options.new:
                since = int(state.watermark_us)
            jobs.append(
                _Job(
                    path, source, fmt, field_map, tz, config, fp, report.bytes, state, since, report
                )
            )
    return jobs


def _make_engine(options: HuntOptions, workdir: Path) -> Engine:
    if options.engine == "duckdb":
        return DuckDBEngine(workdir, options.memory_limit, batch_bytes=options.batch_bytes)
    if options.engine == "spark":
        return SparkEngine(
            workdir,
            master=options.spark_master,
            session=options.spark_session,
            stage=options.stage_dir,
            memory_limit=options.memory_limit,
        )
    raise AccordError(f"unknown engine {options.engine!r} (choose duckdb or spark)")


def _commit_file(
    store: Store,
    job: _Job,
    read: ReadResult,
    hits: list[Hit],
    indicators: IndicatorSet,
    clock: int,
    hunted_ids: Callable[[], set[str]],
) -> int:
    """Replace the file's hits (all, or those of the hunted subset) and advance its watermark."""
    f, h = t.hunt_files, t.hunt_hits
    rows: list[dict[str, Any]] = []
    seen: set[tuple[int, str, str, str]] = set()
    for _file_no, ordinal, ts_us, log_type, fld, _kind, observed, ikey in hits:
        item = indicators.get(int(ikey))
        line = read.line_map.line(int(ordinal))
        key = (line, fld, observed, item.obj_id)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "line": line,
                "log_type": log_type or "",
                "field": fld,
                "observed": observed,
                "ts_us": ts_us,
                "indicator_id": item.obj_id,
                "kind": item.kind,
                "matched": item.value,
                "annotations": orjson.dumps(item.annotations).decode()
                if item.annotations
                else None,
            }
        )
    state = {
        "fingerprint": job.fingerprint,
        "config": job.config,
        "size": job.size,
        "log_type": read.log_type,
        "lines": read.records,
        "bad_lines": read.bad,
        "watermark_us": clock,
        "hunted_us": _now_us(),
    }
    path = str(job.path.resolve())
    with store.transaction() as conn:
        existing = conn.execute(
            select(f.c.file_id).where(and_(f.c.source_id == job.source.source_id, f.c.path == path))
        ).first()
        if existing is None:
            file_id = conn.execute(
                insert(f).values(source_id=job.source.source_id, path=path, **state)
            ).inserted_primary_key[0]
        else:
            file_id = existing[0]
            conn.execute(update(f).where(f.c.file_id == file_id).values(**state))
            if job.since_us is None:
                conn.execute(delete(h).where(h.c.file_id == file_id))
            else:
                ids = sorted(hunted_ids())
                for start in range(0, len(ids), 500):
                    conn.execute(
                        delete(h).where(
                            h.c.file_id == file_id, h.c.indicator_id.in_(ids[start : start + 500])
                        )
                    )
        for row in rows:
            row["file_id"] = file_id
            row["source_id"] = job.source.source_id
        for start in range(0, len(rows), 5000):
            conn.execute(insert(h), rows[start : start + 5000])
    return len(rows)


def _received(store: Store, ids: Iterable[str]) -> dict[str, int]:
    """When this node first received each object: the earliest ``date_added`` of any version."""
    o = s.objects
    found: dict[str, int] = {}
    unique = sorted(set(ids))
    with store.engine.connect() as conn:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            for oid, first in conn.execute(
                select(o.c.id, func.min(o.c.date_added_us))
                .where(o.c.id.in_(chunk))
                .group_by(o.c.id)
            ):
                found[oid] = int(first)
    return found


def _type_and_tlp(store: Store, ids: Iterable[str]) -> dict[str, tuple[str, TLP]]:
    """Type and marking of the current version of each object (not the whole object)."""
    o = s.objects
    found: dict[str, tuple[str, TLP]] = {}
    unique = sorted(set(ids))
    with store.engine.connect() as conn:
        for start in range(0, len(unique), 500):
            for oid, obj_type, tlp in conn.execute(
                select(o.c.id, o.c.type, o.c.tlp).where(
                    o.c.id.in_(unique[start : start + 500]), o.c.is_current
                )
            ):
                found[oid] = (obj_type, TLP(tlp))
    return found


def write_sightings(store: Store, identity_id: str, source_ids: Iterable[int]) -> tuple[int, int]:
    """Rebuild the sightings of these sources from their stored hits; (written, unchanged)."""
    h = t.hunt_hits
    facts: list[SightingFacts] = []
    names = {x.source_id: x.name for x in list_sources(store)}
    with store.engine.connect() as conn:
        for source_id in sorted(set(source_ids)):
            rows = conn.execute(
                select(h.c.indicator_id, func.min(h.c.ts_us), func.max(h.c.ts_us), func.count())
                .where(h.c.source_id == source_id)
                .group_by(h.c.indicator_id)
            ).all()
            for ind, first, last, count in rows:
                facts.append(
                    SightingFacts(ind, names[source_id], first, last, int(count), TLP.CLEAR)
                )
    if not facts:
        return 0, 0
    refs = _type_and_tlp(store, {f.indicator_id for f in facts})
    ids = [sighting_id(identity_id, f.indicator_id, f.source_name) for f in facts]
    existing = store.get_many(ids)
    node_default = store.node_default_tlp
    written = unchanged = 0
    now = _now_us()
    with store.writer("node", "hunt") as writer:
        for item, sid in zip(facts, ids, strict=True):
            obj_type, tlp = refs.get(item.indicator_id, (None, TLP.CLEAR))
            if obj_type != "indicator":
                continue  # SCO hits are evidence too, but a sighting must point at an SDO
            level = max(tlp, node_default)
            current = existing.get(sid)
            obj = build_sighting(
                SightingFacts(
                    item.indicator_id,
                    item.source_name,
                    item.first_us,
                    item.last_us,
                    item.count,
                    TLP(level),
                ),
                identity_id,
                current.obj if current else None,
                now,
            )
            if obj is None:
                unchanged += 1
                continue
            writer.put(obj, f"sighting of {item.indicator_id}")
            written += 1
    return written, unchanged


def _days(delta_us: int) -> int:
    return int(delta_us // 86_400_000_000)


def run_hunt(
    target: NodeHome | Store,
    paths: Sequence[str | Path] = (),
    *,
    identity_id: str | None = None,
    options: HuntOptions | None = None,
    **overrides: Any,
) -> HuntSummary:
    """Hunt log files (or registered sources) for every active indicator in the store.

    ``target`` is a node home (its store and identity are used) or a store with
    ``identity_id``. Keyword ``overrides`` set :class:`HuntOptions` fields directly.
    """
    opts = options or HuntOptions()
    for key, value in overrides.items():
        if not hasattr(opts, key):
            raise TypeError(f"unknown hunt option {key!r}")
        setattr(opts, key, value)
    if opts.fmt not in FORMATS:
        raise AccordError(f"unknown format {opts.fmt!r} (choose {', '.join(FORMATS)})")
    _check_timezone(opts.timezone)
    if isinstance(target, NodeHome):
        if opts.cache_dir is None:
            opts.cache_dir = target.path / "hunt-cache"
        store = target.open_store()
        identity = identity_id or target.identity_id
        owns_store = True
    else:
        store, owns_store = target, False
        if identity_id is None:
            raise AccordError("run_hunt on a bare store needs identity_id")
        identity = identity_id
    try:
        return _run(store, identity, paths, opts)
    finally:
        if owns_store:
            store.close()


def _run(
    store: Store, identity: str, paths: Sequence[str | Path], opts: HuntOptions
) -> HuntSummary:
    started = time.perf_counter()
    run_start = _now_us()
    with store.transaction() as conn:
        run_id = conn.execute(
            insert(t.hunt_runs).values(
                started_us=run_start, engine=opts.engine, mode="new" if opts.new else "full"
            )
        ).inserted_primary_key[0]
    clock = store_clock(store)
    summary = HuntSummary(opts.engine, "new" if opts.new else "full")
    targets = _resolve_targets(store, paths, opts)
    jobs = _plan(store, targets, opts, clock)
    summary.files = [j.report for j in jobs]
    todo = [j for j in jobs if j.report.status != "unchanged"]
    if todo:  # nothing to hunt: the indicators need not even be read
        with summary.timing("indicators"):
            indicators = load_indicators(
                store,
                use_warninglists=opts.use_warninglists,
                cache_dir=opts.cache_dir,
                clock_us=clock,
            )
        clock = indicators.clock_us
        summary.suppressed = indicators.suppressed
        summary.indicators_hunted = len(indicators)
        summary.warninglists_applied = indicators.warninglists_applied
    opts.progress.start(sum(j.size for j in todo))
    touched: set[int] = set()
    run_hits: dict[str, list[tuple[int | None, str]]] = defaultdict(list)
    groups: dict[int | None, list[_Job]] = defaultdict(list)
    for job in todo:
        groups[job.since_us].append(job)
    try:
        with tempfile.TemporaryDirectory(prefix="accord-hunt-") as tmp:
            workdir = Path(tmp)
            for since, group in groups.items():
                subset = indicators.subset(since)
                if since is not None and len(subset) == 0:
                    for job in group:  # nothing new to look for: only the watermark moves
                        _advance(store, job, clock)
                        job.report.status = "unchanged"
                    continue
                with summary.timing("indicators"):
                    engine = _make_engine(opts, workdir)
                try:
                    with summary.timing("indicators"):
                        engine.load(subset)
                    _hunt_group(
                        store,
                        engine,
                        group,
                        subset,
                        clock,
                        opts,
                        workdir,
                        summary,
                        touched,
                        run_hits,
                    )
                finally:
                    engine.close()
    finally:
        opts.progress.stop()
        summary.seconds = time.perf_counter() - started
    with summary.timing("recording"):
        if touched:
            written, unchanged = write_sightings(store, identity, touched)
            summary.sightings_written, summary.sightings_unchanged = written, unchanged
        _finish_sources(store, targets, clock)
        _summarise_hits(store, summary, run_hits, opts.new, touched)
    summary.seconds = time.perf_counter() - started  # the whole hunt, sightings included
    with store.transaction() as conn:
        conn.execute(
            update(t.hunt_runs)
            .where(t.hunt_runs.c.run_id == run_id)
            .values(finished_us=_now_us(), summary=orjson.dumps(summary.as_dict()).decode())
        )
    return summary


def _advance(store: Store, job: _Job, clock: int) -> None:
    f = t.hunt_files
    with store.transaction() as conn:
        conn.execute(update(f).where(f.c.file_id == job.state.file_id).values(watermark_us=clock))


def _hunt_group(
    store: Store,
    engine: Engine,
    group: list[_Job],
    subset: IndicatorSet,
    clock: int,
    opts: HuntOptions,
    workdir: Path,
    summary: HuntSummary,
    touched: set[int],
    run_hits: dict[str, list[tuple[int | None, str]]],
) -> None:
    pending: dict[int, tuple[_Job, ReadResult]] = {}
    ids: list[set[str]] = []

    def hunted_ids() -> set[str]:
        if not ids:
            ids.append(subset.obj_ids())
        return ids[0]

    def drain(final: bool) -> None:
        with summary.timing("matching"):
            matched = list(engine.results(final))
        with summary.timing("recording"):
            record(matched)

    def record(matched: list[tuple[int, list[Hit]]]) -> None:
        subset.prefetch(hit[7] for _, hits in matched for hit in hits)  # one pass for all
        for file_no, hits in matched:
            job, read = pending.pop(file_no)
            count = _commit_file(store, job, read, hits, subset, clock, hunted_ids)
            job.report.hits = count
            touched.add(job.source.source_id)
            for hit in hits:
                run_hits[subset.get(int(hit[7])).obj_id].append((hit[2], hit[6]))
            opts.progress.file_done(job.report)

    for file_no, job in enumerate(group):
        report = job.report
        opened = None
        try:
            with summary.timing("reading"):
                opened = open_plain(job.path, workdir)
                fmt = job.fmt if job.fmt != "auto" else detect_format(opened.plain)
                report.format = fmt
                read = read_file(
                    engine.con, opened, fmt, ReadOptions(job.timezone, job.field_map), workdir
                )
            plain_size = opened.plain.stat().st_size  # what a batch holds: decompressed
        except (ReadError, OSError, duckdb.Error) as exc:
            # One file that cannot be read fails alone: the others are still hunted.
            report.status = "failed"
            if isinstance(exc, duckdb.Error):
                kept = {name for _, read_ in pending.values() for name in read_.tables}
                _drop_partial_read(engine.con, kept)
            if opened is not None:
                # Why the file is unreadable, often: "gzip stream is truncated at line 1".
                summary.problems.extend(opened.problems)
            problem = Problem(str(job.path), None, _failure_reason(exc, job.path))
            summary.problems.append(problem)
            if opts.strict:
                drain(final=True)  # the files before this one are whole: commit them
                raise StrictStop(f"{problem} (stopped: --strict)") from None
            opts.progress.file_done(report)
            continue
        finally:
            if opened is not None and opened.plain != job.path:
                opened.plain.unlink(missing_ok=True)
        report.log_type = read.log_type
        report.lines = read.records
        report.bad_lines = read.bad + opened.lost_lines
        summary.problems.extend(read.problems)
        if opts.strict and read.problems:
            drain(final=True)
            raise StrictStop(f"{read.problems[0]} (stopped: --strict; this file was not committed)")
        with summary.timing("matching"):  # a full batch is matched at once
            engine.submit(file_no, read.tables, plain_size)
        pending[file_no] = (job, read)
        drain(final=False)
    drain(final=True)


def _failure_reason(exc: Exception, path: Path) -> str:
    """Why a file failed, for a :class:`Problem` that names the file already."""
    text = str(exc)
    if isinstance(exc, duckdb.Error):
        # DuckDB's first line says what went wrong; the rest is its reader's settings.
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return f"could not be read ({first})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"could not be read ({exc.strerror})"
    return text.removeprefix(f"{path}: ")


def _drop_partial_read(con: duckdb.DuckDBPyConnection, kept: set[str]) -> None:
    """Drop what a failed read staged: a file that failed halfway must not hold its parsed
    columns until the engine closes. Readers name their temporary tables ``accord_…``
    (:mod:`accord.hunt.readbase`); those of the files read before it (``kept``) wait for
    their match. Looked up only after a failure: reading a file costs no extra query."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?)",
        [READ_TABLE_PREFIX],
    ).fetchall()
    for (name,) in rows:
        if name not in kept:
            con.execute("DROP TABLE IF EXISTS " + '"' + str(name).replace('"', '""') + '"')
    con.execute("DROP VIEW IF EXISTS obs_file")


def _finish_sources(store: Store, targets: list[tuple[LogSource, list[Path]]], clock: int) -> None:
    now = _now_us()
    with store.transaction() as conn:
        for source, _ in targets:
            conn.execute(
                update(t.hunt_sources)
                .where(t.hunt_sources.c.source_id == source.source_id)
                .values(last_hunt_us=now, watermark_us=clock)
            )


def _summarise_hits(
    store: Store,
    summary: HuntSummary,
    run_hits: dict[str, list[tuple[int | None, str]]],
    retro: bool,
    touched: set[int],
) -> None:
    if not run_hits:
        return
    h = t.hunt_hits
    firsts: dict[str, int] = {}
    with store.engine.connect() as conn:
        ids = sorted(run_hits)
        for start in range(0, len(ids), 500):
            for ind, first in conn.execute(
                select(h.c.indicator_id, func.min(h.c.ts_us))
                .where(h.c.indicator_id.in_(ids[start : start + 500]))
                .group_by(h.c.indicator_id)
            ):
                if first is not None:
                    firsts[ind] = int(first)
    received = _received(store, run_hits)
    for ind, items in sorted(run_hits.items()):
        stamps = [ts for ts, _ in items if ts is not None]
        info: dict[str, Any] = {
            "hits": len(items),
            "values": sorted({v for _, v in items})[:10],
            "first_seen": format_micros(min(stamps)) if stamps else None,
            "last_seen": format_micros(max(stamps)) if stamps else None,
        }
        first = firsts.get(ind)
        got = received.get(ind)
        if first is not None and got is not None:
            info["received"] = format_micros(got)
            if first < got:
                days = _days(got - first)
                info["days_before_received"] = days
                if retro:
                    summary.retro.append(
                        {
                            "indicator": ind,
                            "first_seen": format_micros(first),
                            "received": format_micros(got),
                            "days_before_received": days,
                            "text": f"indicator {ind} was first seen in your logs on "
                            f"{format_micros(first)[:10]}, {days} days before you received it",
                        }
                    )
        summary.hits_per_indicator[ind] = info
