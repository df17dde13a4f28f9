"""Initial store schema: versioned objects, index tables, provenance, warninglists.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _row_fk() -> sa.Column:
    return sa.Column(
        "row_id", RowId, sa.ForeignKey("objects.row_id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "objects",
        sa.Column("row_id", RowId, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(300), nullable=False),
        sa.Column("type", sa.String(250), nullable=False),
        sa.Column("modified_us", sa.BigInteger, nullable=False),
        sa.Column("created_by_ref", sa.String(300)),
        sa.Column("spec_version", sa.String(8)),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.Column("tlp", sa.SmallInteger, nullable=False),
        sa.Column("date_added_us", sa.BigInteger, nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_name", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger),
        sa.Column("search_text", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.UniqueConstraint("id", "modified_us", name="uq_objects_version"),
    )
    op.create_index("ix_objects_type_current", "objects", ["type", "is_current"])
    op.create_index("ix_objects_creator", "objects", ["created_by_ref"])
    op.create_index("ix_objects_date_added", "objects", ["date_added_us"], unique=True)

    op.create_table(
        "object_markings", _row_fk(), sa.Column("marking_ref", sa.String(300), nullable=False)
    )
    op.create_index("ix_markings_ref", "object_markings", ["marking_ref"])
    op.create_index("ix_markings_row", "object_markings", ["row_id"])

    op.create_table(
        "refs",
        _row_fk(),
        sa.Column("src_id", sa.String(300), nullable=False),
        sa.Column("prop", sa.String(250), nullable=False),
        sa.Column("dst_id", sa.String(300), nullable=False),
    )
    op.create_index("ix_refs_src", "refs", ["src_id", "prop"])
    op.create_index("ix_refs_dst", "refs", ["dst_id", "prop"])
    op.create_index("ix_refs_row", "refs", ["row_id"])

    op.create_table(
        "observables",
        _row_fk(),
        sa.Column("obj_id", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("lo", sa.String(32)),
        sa.Column("hi", sa.String(32)),
    )
    op.create_index("ix_observables_value", "observables", ["kind", "value"])
    op.create_index("ix_observables_range", "observables", ["kind", "lo"])
    op.create_index("ix_observables_row", "observables", ["row_id"])

    op.create_table(
        "provenance",
        _row_fk(),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_name", sa.String(500), nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_provenance_row", "provenance", ["row_id"])

    op.create_table(
        "meta",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )

    op.create_table(
        "warninglists",
        sa.Column("list_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(300), nullable=False, unique=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("list_type", sa.String(32), nullable=False),
        sa.Column("effect", sa.String(16), nullable=False),
        sa.Column("description", sa.Text),
    )
    op.create_table(
        "warninglist_entries",
        sa.Column(
            "list_id",
            sa.Integer,
            sa.ForeignKey("warninglists.list_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("lo", sa.String(32)),
        sa.Column("hi", sa.String(32)),
    )
    op.create_index("ix_wl_value", "warninglist_entries", ["kind", "value"])
    op.create_index("ix_wl_list", "warninglist_entries", ["list_id"])


def downgrade() -> None:
    for table in (
        "warninglist_entries",
        "warninglists",
        "meta",
        "provenance",
        "observables",
        "refs",
        "object_markings",
        "objects",
    ):
        op.drop_table(table)
