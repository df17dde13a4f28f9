"""The store's tables (SQLAlchemy Core). Alembic migrations under ``migrations/`` create them.

Design notes:

* ``objects`` holds every version of every object, whole, as JSON text. A version is
  ``(id, modified_us)``; SCOs and marking definitions are unversioned and use ``modified_us = 0``.
* Index tables (``object_markings``, ``refs``, ``observables``) describe the *current* version
  of each object only, except markings, which are kept per version so that TAXII can serve
  any version under policy.
* Timestamps are integer microseconds since the epoch, so ordering and keyset paging are
  exact and identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for a
# million-object store with history.
RowId = BigInteger().with_variant(Integer(), "sqlite")

objects = Table(
    "objects",
    metadata,
    Column("row_id", RowId, primary_key=True, autoincrement=True),
    Column("id", String(300), nullable=False),
    Column("type", String(250), nullable=False),
    Column("modified_us", BigInteger, nullable=False),
    Column("created_by_ref", String(300)),
    Column("spec_version", String(8)),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("is_current", Boolean, nullable=False, default=True),
    Column("tlp", SmallInteger, nullable=False),
    Column("date_added_us", BigInteger, nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("source_name", String(500), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("valid_until_us", BigInteger),
    Column("search_text", Text),
    Column("body", Text, nullable=False),
    # True when ``tlp`` came from the node default (no marking of its own and no import
    # level): such data stays home whatever the node default later becomes.
    Column("tlp_default", Boolean, nullable=False, default=False),
    UniqueConstraint("id", "modified_us", name="uq_objects_version"),
)
Index("ix_objects_type_current", objects.c.type, objects.c.is_current)
Index("ix_objects_creator", objects.c.created_by_ref)
Index("ix_objects_date_added", objects.c.date_added_us, unique=True)

object_markings = Table(
    "object_markings",
    metadata,
    Column("row_id", RowId, ForeignKey("objects.row_id", ondelete="CASCADE"), nullable=False),
    Column("marking_ref", String(300), nullable=False),
)
Index("ix_markings_ref", object_markings.c.marking_ref)
Index("ix_markings_row", object_markings.c.row_id)

refs = Table(
    "refs",
    metadata,
    Column("row_id", RowId, ForeignKey("objects.row_id", ondelete="CASCADE"), nullable=False),
    Column("src_id", String(300), nullable=False),
    Column("prop", String(250), nullable=False),
    Column("dst_id", String(300), nullable=False),
)
Index("ix_refs_src", refs.c.src_id, refs.c.prop)
Index("ix_refs_dst", refs.c.dst_id, refs.c.prop)
Index("ix_refs_row", refs.c.row_id)

observables = Table(
    "observables",
    metadata,
    Column("row_id", RowId, ForeignKey("objects.row_id", ondelete="CASCADE"), nullable=False),
    Column("obj_id", String(300), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("lo", String(32)),
    Column("hi", String(32)),
)
Index("ix_observables_value", observables.c.kind, observables.c.value)
Index("ix_observables_range", observables.c.kind, observables.c.lo)
Index("ix_observables_row", observables.c.row_id)

provenance = Table(
    "provenance",
    metadata,
    Column("row_id", RowId, ForeignKey("objects.row_id", ondelete="CASCADE"), nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("source_name", String(500), nullable=False),
    Column("received_us", BigInteger, nullable=False),
)
Index("ix_provenance_row", provenance.c.row_id)

meta = Table(
    "meta",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
)

warninglists = Table(
    "warninglists",
    metadata,
    Column("list_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(300), nullable=False, unique=True),
    Column("version", String(64), nullable=False),
    Column("list_type", String(32), nullable=False),
    Column("effect", String(16), nullable=False),  # "suppress" or "annotate"
    Column("description", Text),
)

warninglist_entries = Table(
    "warninglist_entries",
    metadata,
    Column(
        "list_id",
        Integer,
        ForeignKey("warninglists.list_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("lo", String(32)),
    Column("hi", String(32)),
)
Index("ix_wl_value", warninglist_entries.c.kind, warninglist_entries.c.value)
Index("ix_wl_list", warninglist_entries.c.list_id)
