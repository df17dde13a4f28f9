"""Sharing: logins, tokens, peers, collections, grants, inboxes, status, cursors, quarantine,
trusted keys and redaction lineage (the tables of ``accord.share.tables``).

Revision ID: 0003_share
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_share"
down_revision = "0001"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "share_users",
        sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("peer_name", sa.String(200)),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
    )
    op.create_table(
        "share_tokens",
        sa.Column("token_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("peer_name", sa.String(200), nullable=False),
        sa.Column("label", sa.String(200)),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "share_peers",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("auth_kind", sa.String(16), nullable=False),
        sa.Column("username", sa.String(200)),
        sa.Column("secret", sa.Text),
        sa.Column("ca_cert", sa.Text),
        sa.Column("remote_collections", sa.Text, nullable=False),
        sa.Column("tlp_max", sa.SmallInteger, nullable=False),
        sa.Column("same_org", sa.Boolean, nullable=False),
        sa.Column("redact", sa.String(64), nullable=False),
        sa.Column("identity_id", sa.String(300)),
        sa.Column("key_id", sa.String(64)),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("last_success_us", sa.BigInteger),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_us", sa.BigInteger),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("stored", sa.BigInteger, nullable=False),
        sa.Column("duplicates", sa.BigInteger, nullable=False),
        sa.Column("quarantined", sa.BigInteger, nullable=False),
        sa.Column("flagged", sa.BigInteger, nullable=False),
        sa.Column("pushed", sa.BigInteger, nullable=False),
        sa.Column("push_after_us", sa.BigInteger),
    )
    op.create_table(
        "share_collections",
        sa.Column("collection_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "share_grants",
        sa.Column("peer_name", sa.String(200), primary_key=True),
        sa.Column(
            "collection_id",
            sa.String(64),
            sa.ForeignKey("share_collections.collection_id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "share_inbox_objects",
        sa.Column(
            "collection_id",
            sa.String(64),
            sa.ForeignKey("share_collections.collection_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "row_id", RowId, sa.ForeignKey("objects.row_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("added_us", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("collection_id", "row_id", name="uq_share_inbox_row"),
    )
    op.create_index("ix_share_inbox_page", "share_inbox_objects", ["collection_id", "added_us"])
    op.create_table(
        "share_status",
        sa.Column("status_id", sa.String(64), primary_key=True),
        sa.Column("collection_id", sa.String(64), nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_count", sa.Integer, nullable=False),
        sa.Column("success_count", sa.Integer, nullable=False),
        sa.Column("failure_count", sa.Integer, nullable=False),
        sa.Column("pending_count", sa.Integer, nullable=False),
        sa.Column("details", sa.Text),
        sa.Column("payload", sa.Text),
        sa.Column("lease_until_us", sa.BigInteger),
        sa.Column("request_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_share_status_pending", "share_status", ["status", "lease_until_us"])
    op.create_table(
        "share_cursors",
        sa.Column("peer_name", sa.String(200), primary_key=True),
        sa.Column("collection_id", sa.String(200), primary_key=True),
        sa.Column("added_after", sa.String(40)),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("pages", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "share_quarantine",
        sa.Column("q_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("collection_id", sa.String(200)),
        sa.Column("object_id", sa.String(300)),
        sa.Column("version", sa.String(40)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("body", sa.Text),
    )
    op.create_index("ix_share_quarantine_obj", "share_quarantine", ["object_id"])
    op.create_table(
        "share_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("identity_id", sa.String(300), nullable=False),
        sa.Column("public_key", sa.String(100), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("first_seen_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_share_keys_identity", "share_keys", ["identity_id"])
    op.create_table(
        "share_redactions",
        sa.Column("derived_id", sa.String(300), primary_key=True),
        sa.Column("source_id", sa.String(300), nullable=False),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_index("ix_share_redactions_source", "share_redactions", ["source_id"])


def downgrade() -> None:
    for table in (
        "share_redactions",
        "share_keys",
        "share_quarantine",
        "share_cursors",
        "share_status",
        "share_inbox_objects",
        "share_grants",
        "share_collections",
        "share_peers",
        "share_tokens",
        "share_users",
    ):
        op.drop_table(table)
