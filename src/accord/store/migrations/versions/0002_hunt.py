"""Retro-hunt tables: log sources, hunted files, hits (evidence) and runs.

Revision ID: 0002_hunt
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_hunt"
down_revision = "0001"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hunt_sources",
        sa.Column("source_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64)),
        sa.Column("field_map", sa.Text),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("last_hunt_us", sa.BigInteger),
        sa.Column("watermark_us", sa.BigInteger),
    )
    op.create_table(
        "hunt_files",
        sa.Column("file_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "source_id",
            sa.Integer,
            sa.ForeignKey("hunt_sources.source_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("config", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("log_type", sa.String(64)),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("bad_lines", sa.BigInteger, nullable=False),
        sa.Column("watermark_us", sa.BigInteger, nullable=False),
        sa.Column("hunted_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_hunt_files_source_path", "hunt_files", ["source_id", "path"], unique=True)
    op.create_table(
        "hunt_hits",
        sa.Column("hit_id", RowId, primary_key=True, autoincrement=True),
        sa.Column(
            "file_id",
            sa.Integer,
            sa.ForeignKey("hunt_files.file_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("log_type", sa.String(64), nullable=False),
        sa.Column("field", sa.String(200), nullable=False),
        sa.Column("observed", sa.Text, nullable=False),
        sa.Column("ts_us", sa.BigInteger),
        sa.Column("indicator_id", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("matched", sa.Text, nullable=False),
        sa.Column("annotations", sa.Text),
    )
    op.create_index("ix_hunt_hits_indicator", "hunt_hits", ["indicator_id", "source_id"])
    op.create_index("ix_hunt_hits_file", "hunt_hits", ["file_id"])
    op.create_index("ix_hunt_hits_ts", "hunt_hits", ["ts_us"])
    op.create_table(
        "hunt_runs",
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_us", sa.BigInteger, nullable=False),
        sa.Column("finished_us", sa.BigInteger),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text),
    )


def downgrade() -> None:
    for table in ("hunt_runs", "hunt_hits", "hunt_files", "hunt_sources"):
        op.drop_table(table)
