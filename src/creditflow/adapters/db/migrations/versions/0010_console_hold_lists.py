"""The console's holds list, newest first, without reading the whole table (issue 15).

- holds(created_at, id): every hold, newest first, a page a range (the cursor is the last
  hold's (created_at, id));
- holds(status, created_at, id): the same by status; `expired` reads two of its ranges (marked
  expired, and held past the expiry), merged.

A wallet's holds keep using (user_id, created_at) from 0008.

On a large PostgreSQL database these builds block writes to holds while they run; build them
beforehand with CREATE INDEX CONCURRENTLY under the same names if that matters.

Revision ID: 0010_console_hold_lists
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010_console_hold_lists"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_holds_created_at_id": ["created_at", "id"],
    "ix_holds_status_created_at_id": ["status", "created_at", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "holds", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="holds")
