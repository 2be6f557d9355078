"""When each canceled or failed refund was canceled.

A charge's running total of refunds made after a refund failed leaves that refund out; one made
before may still count it. Knowing when the refund was canceled tells the two apart, so a new
refund known only from a later total is taken back at once. Refunds canceled before this
revision have no time: every total is read as possibly counting them, as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from creditflow.adapters.db.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refunds") as table:
        table.add_column(sa.Column("canceled_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refunds") as table:
        table.drop_column("canceled_at")
