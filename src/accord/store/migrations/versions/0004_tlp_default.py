"""objects.tlp_default: the stored level came from a default, not from a marking.

Unmarked data stays home (the sharing rule). It used to be recognised at read time as
"no TLP marking and tlp equal to the node default", so raising the node default later (a
stricter node) turned everything imported unmarked before into shareable AMBER. The fact is
now recorded when the object is written. Existing rows are backfilled conservatively: any
object other than a marking definition with no TLP marking counts as unmarked
(an import's explicit ``--tlp`` cannot be told apart afterwards; keeping such rows home is
the safe side).

Revision ID: 0004_tlp_default
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accord.model.tlp import MARKING_LEVEL

revision = "0004_tlp_default"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "objects",
        sa.Column("tlp_default", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    standard = ", ".join(f"'{ref}'" for ref in sorted(MARKING_LEVEL))
    op.execute(
        "UPDATE objects SET tlp_default = TRUE "
        "WHERE type <> 'marking-definition' AND NOT EXISTS ("
        "SELECT 1 FROM object_markings m WHERE m.row_id = objects.row_id "
        f"AND m.marking_ref IN ({standard}))"
    )


def downgrade() -> None:
    # Not a batch (copy-and-rename) operation: on SQLite, dropping the old objects table
    # would cascade into the index tables. SQLite drops a plain column in place (3.35+).
    op.execute("ALTER TABLE objects DROP COLUMN tlp_default")
