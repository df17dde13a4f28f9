"""The retro-hunt's own tables, on the store's metadata (created by migration ``0002_hunt``).

* ``hunt_sources``: named log sources (a path or glob and a format). Ad-hoc paths given to
  ``accord hunt`` belong to an implicit source, so that every hit and sighting has one.
* ``hunt_files``: what was hunted in each file, and against which indicators. ``watermark_us``
  is the store clock (``objects.date_added_us``) up to which every active indicator has been
  matched against the file; ``--new`` matches only indicators added after it, and a re-run
  that finds the fingerprint and watermark unchanged skips the file (that is also how an
  interrupted hunt resumes without duplicates).
* ``hunt_hits``: one row per matching field of a log record: the evidence behind sightings.
  A file's hits are replaced in the same transaction that advances its watermark.
* ``hunt_runs``: one row per ``accord hunt``, with its JSON summary.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from accord.store.schema import RowId, metadata

hunt_sources = Table(
    "hunt_sources",
    metadata,
    Column("source_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("path", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("timezone", String(64)),
    Column("field_map", Text),  # JSON {"ip": ["src", "dst"], ...} for generic formats
    Column("created_us", BigInteger, nullable=False),
    Column("last_hunt_us", BigInteger),  # wall clock of the last completed hunt
    Column("watermark_us", BigInteger),  # store clock covered by the last completed hunt
)

hunt_files = Table(
    "hunt_files",
    metadata,
    Column("file_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "source_id",
        Integer,
        ForeignKey("hunt_sources.source_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("path", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("config", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("log_type", String(64)),
    Column("lines", BigInteger, nullable=False),
    Column("bad_lines", BigInteger, nullable=False),
    Column("watermark_us", BigInteger, nullable=False),
    Column("hunted_us", BigInteger, nullable=False),
)
Index("ix_hunt_files_source_path", hunt_files.c.source_id, hunt_files.c.path, unique=True)

hunt_hits = Table(
    "hunt_hits",
    metadata,
    Column("hit_id", RowId, primary_key=True, autoincrement=True),
    Column(
        "file_id",
        Integer,
        ForeignKey("hunt_files.file_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("source_id", Integer, nullable=False),
    Column("line", BigInteger, nullable=False),  # 1-based line, or row number in Parquet
    Column("log_type", String(64), nullable=False),
    Column("field", String(200), nullable=False),
    Column("observed", Text, nullable=False),
    Column("ts_us", BigInteger),
    Column("indicator_id", String(300), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("matched", Text, nullable=False),  # the indicator value that matched
    Column("annotations", Text),  # JSON list of annotating warninglists, if any
)
Index("ix_hunt_hits_indicator", hunt_hits.c.indicator_id, hunt_hits.c.source_id)
Index("ix_hunt_hits_file", hunt_hits.c.file_id)
Index("ix_hunt_hits_ts", hunt_hits.c.ts_us)

hunt_runs = Table(
    "hunt_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("started_us", BigInteger, nullable=False),
    Column("finished_us", BigInteger),
    Column("engine", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("summary", Text),
)

__all__ = ["hunt_files", "hunt_hits", "hunt_runs", "hunt_sources"]
