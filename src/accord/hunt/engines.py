"""Engines that run the hunt definition (:data:`accord.hunt.matchsql.HUNT_SQL`).

Both read files with the same DuckDB readers into ``obs_file``; they differ only in where the
match query runs:

* :class:`DuckDBEngine` runs it in process, file by file, on both cores, spilling to a
  temporary directory under a memory limit;
* :class:`SparkEngine` stages each file's observations as Parquet and runs the very same
  SQL text on Spark SQL (``local[N]`` or a cluster) over all staged files at once.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from accord.hunt.indicators import IndicatorSet, ipv6_bits
from accord.hunt.matchsql import DUCKDB_MACROS, HITS_SQL, IPV6_VALUES_SQL, MATCHED_SQL
from accord.hunt.readers import install_macros
from accord.model.errors import AccordError

Hit = tuple[int, int, int | None, str, str, str, str, int]  # HIT_COLUMNS


class Engine(Protocol):
    name: str
    con: duckdb.DuckDBPyConnection

    def load(self, indicators: IndicatorSet) -> None: ...

    def submit(self, file_no: int) -> None: ...

    def results(self) -> Iterator[tuple[int, list[Hit]]]: ...

    def close(self) -> None: ...


def reading_connection(workdir: Path, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for reading (and, in the DuckDB engine, matching) logs."""
    con = duckdb.connect(":memory:")
    spill = workdir / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
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
    """Embedded DuckDB: match each file as soon as it is read."""

    name = "duckdb"

    def __init__(self, workdir: Path, memory_limit: str = "1536MB", threads: int = 2) -> None:
        self.con = reading_connection(workdir, memory_limit, threads)
        self._done: list[tuple[int, list[Hit]]] = []
        self._ipv6 = False

    def load(self, indicators: IndicatorSet) -> None:
        for name, table in indicators.tables().items():
            self.con.register(f"{name}_arrow", table)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
            self.con.unregister(f"{name}_arrow")
        self._ipv6 = indicators.has_ipv6_networks
        self.con.execute("CREATE OR REPLACE TEMP TABLE ip6_bits (v VARCHAR, bits VARCHAR)")

    def submit(self, file_no: int) -> None:
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW obs AS SELECT {int(file_no)} AS file_no, * FROM obs_file"
        )
        if self._ipv6:
            values = [r[0] for r in self.con.execute(IPV6_VALUES_SQL).fetchall()]
            table = ipv6_bits(values)
            self.con.register("ip6_arrow", table)
            self.con.execute("CREATE OR REPLACE TEMP TABLE ip6_bits AS SELECT * FROM ip6_arrow")
            self.con.unregister("ip6_arrow")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE matched AS {MATCHED_SQL}")
        rows = self.con.execute(HITS_SQL).fetchall()
        self._done.append((file_no, _sorted(rows)))

    def results(self) -> Iterator[tuple[int, list[Hit]]]:
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
        for name, table in indicators.tables().items():
            self._view(name, table)
        self._ipv6 = indicators.has_ipv6_networks

    def submit(self, file_no: int) -> None:
        target = self.stage / "obs" / f"file_no={int(file_no)}"
        target.mkdir(parents=True, exist_ok=True)
        self.con.execute(
            f"COPY (SELECT * FROM obs_file) TO '{target / 'part-0.parquet'}' (FORMAT PARQUET)"
        )
        self._files.append(file_no)

    def results(self) -> Iterator[tuple[int, list[Hit]]]:
        if not self._files:
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
