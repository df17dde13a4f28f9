"""The sharing capability's own tables, on the store's metadata.

Everything a TAXII server process would otherwise keep in memory lives here (logins,
tokens, collections, grants, paging-free status resources, sync cursors, quarantine,
trusted keys), so that several ``accord serve`` processes can share one database and any
of them can answer any request. The ``0003_share`` migration creates these tables; keep
the two in step.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from accord.store.schema import RowId, metadata

users = Table(
    "share_users",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    # The peer whose policy applies to this login; None means "the peer of the same name".
    Column("peer_name", String(200)),
    Column("created_us", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

tokens = Table(
    "share_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("peer_name", String(200), nullable=False),
    Column("label", String(200)),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

peers = Table(
    "share_peers",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("url", Text, nullable=False),
    Column("auth_kind", String(16), nullable=False),  # none | basic | token
    Column("username", String(200)),
    Column("secret", Text),  # encrypted with a key derived from the node key
    Column("ca_cert", Text),
    Column("remote_collections", Text, nullable=False, default="[]"),  # JSON list
    Column("tlp_max", SmallInteger, nullable=False),
    Column("same_org", Boolean, nullable=False, default=False),
    Column("redact", String(64), nullable=False, default="none"),
    Column("identity_id", String(300)),
    Column("key_id", String(64)),
    Column("created_us", BigInteger, nullable=False),
    Column("last_success_us", BigInteger),
    Column("last_error", Text),
    Column("last_error_us", BigInteger),
    Column("received", BigInteger, nullable=False, default=0),
    Column("stored", BigInteger, nullable=False, default=0),
    Column("duplicates", BigInteger, nullable=False, default=0),
    Column("quarantined", BigInteger, nullable=False, default=0),
    Column("flagged", BigInteger, nullable=False, default=0),
    Column("pushed", BigInteger, nullable=False, default=0),
    Column("push_after_us", BigInteger),
)

collections = Table(
    "share_collections",
    metadata,
    Column("collection_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text),
    Column("query", Text, nullable=False, default=""),
    Column("kind", String(16), nullable=False),  # selection | inbox
    Column("created_us", BigInteger, nullable=False),
)

grants = Table(
    "share_grants",
    metadata,
    Column("peer_name", String(200), primary_key=True),
    Column(
        "collection_id",
        String(64),
        ForeignKey("share_collections.collection_id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

# Membership of inbox collections: what was posted into them (and not deleted). The
# store keeps every version whatever happens here; DELETE only removes it from the inbox.
inbox_objects = Table(
    "share_inbox_objects",
    metadata,
    Column(
        "collection_id",
        String(64),
        ForeignKey("share_collections.collection_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("row_id", RowId, ForeignKey("objects.row_id", ondelete="CASCADE"), nullable=False),
    Column("added_us", BigInteger, nullable=False),
    UniqueConstraint("collection_id", "row_id", name="uq_share_inbox_row"),
)
Index("ix_share_inbox_page", inbox_objects.c.collection_id, inbox_objects.c.added_us)

status = Table(
    "share_status",
    metadata,
    Column("status_id", String(64), primary_key=True),
    Column("collection_id", String(64), nullable=False),
    Column("principal", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # pending | complete
    Column("total_count", Integer, nullable=False),
    Column("success_count", Integer, nullable=False, default=0),
    Column("failure_count", Integer, nullable=False, default=0),
    Column("pending_count", Integer, nullable=False, default=0),
    Column("details", Text),  # JSON: successes, failures, pendings
    Column("payload", Text),  # the envelope, kept while pending so any process can finish it
    Column("lease_until_us", BigInteger),
    Column("request_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)
Index("ix_share_status_pending", status.c.status, status.c.lease_until_us)

cursors = Table(
    "share_cursors",
    metadata,
    Column("peer_name", String(200), primary_key=True),
    Column("collection_id", String(200), primary_key=True),
    Column("added_after", String(40)),
    # False while a collection is only partly read: resume just before the cursor,
    # because several objects may share the last date_added.
    Column("complete", Boolean, nullable=False, default=True),
    Column("pages", BigInteger, nullable=False, default=0),
    Column("updated_us", BigInteger, nullable=False),
)

quarantine = Table(
    "share_quarantine",
    metadata,
    Column("q_id", Integer, primary_key=True, autoincrement=True),
    Column("received_us", BigInteger, nullable=False),
    Column("source", String(200), nullable=False),
    Column("collection_id", String(200)),
    Column("object_id", String(300)),
    Column("version", String(40)),
    Column("action", String(16), nullable=False),  # quarantined | flagged
    Column("reason", Text, nullable=False),
    Column("body", Text),
)
Index("ix_share_quarantine_obj", quarantine.c.object_id)

keys = Table(
    "share_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("identity_id", String(300), nullable=False),
    Column("public_key", String(100), nullable=False),
    Column("source", String(200), nullable=False),
    Column("first_seen_us", BigInteger, nullable=False),
)
Index("ix_share_keys_identity", keys.c.identity_id)

redactions = Table(
    "share_redactions",
    metadata,
    Column("derived_id", String(300), primary_key=True),
    Column("source_id", String(300), nullable=False),
    Column("profile", String(64), nullable=False),
    Column("role", String(16), nullable=False),  # object | relationship
)
Index("ix_share_redactions_source", redactions.c.source_id)

ALL_TABLES = (
    users,
    tokens,
    peers,
    collections,
    grants,
    inbox_objects,
    status,
    cursors,
    quarantine,
    keys,
    redactions,
)
