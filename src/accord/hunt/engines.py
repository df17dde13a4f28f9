"""Engines that run the hunt definition (:data:`accord.hunt.matchsql.HUNT_SQL`).

Both read files with the same DuckDB readers into ``obs_file``; they differ only in where the
match query runs:

* :class:`DuckDBEngine` runs it in process on both cores, spilling to a temporary directory
  under a memory limit, over a *batch* of files at once (up to ``batch_bytes`` of logs): the
  hash tables over a million indicator values are built once per batch, not per file;
* :class:`SparkEngine` stages each file's observations as Parquet and runs the very same
  SQL text on Spark SQL (``local[N]`` or a cluster) over all staged files at once.

A file's hits come out of :meth:`Engine.results` once its batch has been matched; the runner
commits them file by file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from accord.hunt.indicators import IndicatorSet
from accord.hunt.matchsql import DUCKDB_MACROS, HITS_SQL, IPV6_VALUES_SQL, MATCHED_SQL
from accord.hunt.matchtables import MATCH_TABLES, create_match_tables, ipv6_bits
from accord.hunt.observations import lit
from accord.hunt.readbase import drop_tables, install_macros
from accord.model.errors import AccordError

Hit = tuple[int, int, int | None, str, str, str, str, int]  # HIT_COLUMNS

# Logs matched together by the DuckDB engine. What stays in memory meanwhile is the few
# parsed columns that carry values, a fraction of the logs' size (and DuckDB spills).
BATCH_BYTES = 512 << 20


class Engine(Protocol):
    name: str
    con: duckdb.DuckDBPyConnection

    def load(self, indicators: IndicatorSet) -> None: ...

    def submit(self, file_no: int, tables: list[str], size: int) -> None:
        """Take the file just read (``obs_file``, over ``tables``, which the engine drops
        when done with them); ``size`` is its size in bytes."""

    def results(self, final: bool) -> Iterator[tuple[int, list[Hit]]]:
        """Hits of the files matched so far (with ``final``: of every file submitted)."""

    def close(self) -> None: ...


def reading_connection(workdir: Path, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for reading (and, in the DuckDB engine, matching) logs."""
    con = duckdb.connect(":memory:")
    spill = workdir / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    # Paths and the memory limit come from options: quoted as literals, never spliced raw.
    con.execute(f"SET temp_directory = {lit(str(spill))}")
    try:
        con.execute(f"SET memory_limit = {lit(memory_limit)}")
    except duckdb.Error as exc:  # a bad option is a refusal, not an engine crash
        con.close()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AccordError(f"memory limit {memory_limit!r} not understood ({reason})") from None
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")  # stdout belongs to --json
    con.execute("SET TimeZone = 'UTC'")
    install_macros(con)
    con.execute(DUCKDB_MACROS)
    return con


def _sorted(rows: list[Any]) -> list[Hit]:
    hits = [tuple(r) for r in rows]
    hits.sort(key=lambda h: (h[0], h[1], h[4], h[5], h[6], h[7]))
    return hits  # type: ignore[return-value]


class DuckDBEngine:
    """Embedded DuckDB: match the files read so far once a batch is full."""

    name = "duckdb"

    def __init__(
        self,
        workdir: Path,
        memory_limit: str = "1536MB",
        threads: int = 2,
        batch_bytes: int = BATCH_BYTES,
    ) -> None:
        self.con = reading_connection(workdir, memory_limit, threads)
        self.batch_bytes = batch_bytes
        self._pending: list[tuple[int, list[str]]] = []
        self._pending_bytes = 0
        self._done: list[tuple[int, list[Hit]]] = []
        self._ipv6 = False

    def load(self, indicators: IndicatorSet) -> None:
        create_match_tables(self.con, indicators.table, indicators.match_tables)
        self._ipv6 = indicators.has_ipv6_networks
        self.con.execute("CREATE OR REPLACE TEMP TABLE ip6_bits (v VARCHAR, bits VARCHAR)")

    def submit(self, file_no: int, tables: list[str], size: int) -> None:
        self.con.execute(f"ALTER VIEW obs_file RENAME TO obs_f{int(file_no)}")
        self._pending.append((file_no, tables))
        self._pending_bytes += size
        if self._pending_bytes >= self.batch_bytes:
            self._match()

    def _match(self) -> None:
        """One match over the pending files' observations, then drop them."""
        if not self._pending:
            return
        files = [f for f, _ in self._pending]
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW obs AS "
            + " UNION ALL ".join(f"SELECT {f} AS file_no, * FROM obs_f{f}" for f in files)
        )
        if self._ipv6:
            values = [r[0] for r in self.con.execute(IPV6_VALUES_SQL).fetchall()]
            self.con.register("ip6_arrow", ipv6_bits(values))
            self.con.execute("CREATE OR REPLACE TEMP TABLE ip6_bits AS SELECT * FROM ip6_arrow")
            self.con.unregister("ip6_arrow")
        # Order matters while reading (row ids are record ordinals), not while matching.
        self.con.execute("SET preserve_insertion_order = false")
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE matched AS {MATCHED_SQL}")
            rows = self.con.execute(HITS_SQL).fetchall()
        finally:
            self.con.execute("SET preserve_insertion_order = true")
        by_file: dict[int, list[Any]] = {f: [] for f in files}
        for r in rows:
            by_file[int(r[0])].append(r)
        self.con.execute("DROP VIEW obs")
        for f, tables in self._pending:
            self.con.execute(f"DROP VIEW obs_f{f}")
            drop_tables(self.con, tables)
            self._done.append((f, _sorted(by_file[f])))
        self._pending, self._pending_bytes = [], 0

    def results(self, final: bool) -> Iterator[tuple[int, list[Hit]]]:
        if final:
            self._match()
        done, self._done = self._done, []
        yield from done

    def close(self) -> None:
        self.con.close()


def spark_session(master: str, workdir: Path) -> Any:
    """A Spark session for hunting (UI off, warehouse under ``workdir``)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is an optional dependency
        raise AccordError("--engine spark needs pyspark: pip install 'accord[spark]'") from exc
    warehouse = workdir / "spark-warehouse"
    session = (
        SparkSession.builder.master(master)
        .appName("accord-hunt")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "1g")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """Spark SQL: the same query over all files' staged observations.

    ``stage`` must be readable by every executor: a local directory for ``local[N]``, a
    shared mount (NFS, a mounted bucket) on a cluster (see ``docs/spark.md``).
    """

    name = "spark"

    def __init__(
        self,
        workdir: Path,
        *,
        master: str = "local[2]",
        session: Any | None = None,
        stage: Path | None = None,
        memory_limit: str = "1536MB",
    ) -> None:
        self.con = reading_connection(workdir, memory_limit, 2)
        self.stage = Path(stage) if stage else workdir / "spark-stage"
        self.stage.mkdir(parents=True, exist_ok=True)
        self._own_session = session is None
        self.spark = session if session is not None else spark_session(master, workdir)
        self._files: list[int] = []
        self._ipv6 = False

    def _view(self, name: str, table: pa.Table) -> None:
        target = self.stage / f"{name}.parquet"
        pq.write_table(table, target)
        self.spark.read.parquet(str(target)).createOrReplaceTempView(name)

    def load(self, indicators: IndicatorSet) -> None:
        create_match_tables(self.con, indicators.table, indicators.match_tables)
        for name in MATCH_TABLES:
            target = self.stage / f"{name}.parquet"
            self.con.execute(f"COPY {name} TO {lit(str(target))} (FORMAT PARQUET)")
            self.con.execute(f"DROP TABLE {name}")
            self.spark.read.parquet(str(target)).createOrReplaceTempView(name)
        self._ipv6 = indicators.has_ipv6_networks

    def submit(self, file_no: int, tables: list[str], size: int) -> None:
        target = self.stage / "obs" / f"file_no={int(file_no)}"
        target.mkdir(parents=True, exist_ok=True)
        self.con.execute(
            f"COPY (SELECT * FROM obs_file) TO {lit(str(target / 'part-0.parquet'))} "
            "(FORMAT PARQUET)"
        )
        self.con.execute("DROP VIEW obs_file")
        drop_tables(self.con, tables)
        self._files.append(file_no)

    def results(self, final: bool) -> Iterator[tuple[int, list[Hit]]]:
        if not final or not self._files:
            return
        files, self._files = self._files, []
        obs = self.spark.read.parquet(str(self.stage / "obs"))
        obs.createOrReplaceTempView("obs")
        if self._ipv6:
            values = [r[0] for r in self.spark.sql(IPV6_VALUES_SQL).collect()]
            table = ipv6_bits(values)
        else:
            table = pa.table({"v": pa.array([], pa.string()), "bits": pa.array([], pa.string())})
        self._view("ip6_bits", table)
        columns = "file_no, ord, ts_us, log_type, field, kind, value, ikey"
        matched = self.spark.sql(MATCHED_SQL).cache()
        matched.createOrReplaceTempView("matched")
        rows = self.spark.sql(f"SELECT {columns} FROM ({HITS_SQL}) hits").collect()
        matched.unpersist()
        by_file: dict[int, list[Any]] = {f: [] for f in files}
        for r in rows:
            by_file.setdefault(int(r[0]), []).append(tuple(r))
        shutil.rmtree(self.stage / "obs", ignore_errors=True)
        for file_no in files:
            yield file_no, _sorted(by_file[file_no])

    def close(self) -> None:
        self.con.close()
        if self._own_session:
            self.spark.stop()
