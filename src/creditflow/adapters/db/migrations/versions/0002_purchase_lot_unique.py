"""One lot per purchase and buyer, found by index.

Granting a purchase looked its lot up by (user, purchase) with no index to use: a scan of every
lot, growing with history. The unique index answers that lookup and lets the grant write its lot
in one upsert. Earlier versions already kept one lot per (purchase, user), so existing rows fit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "uq_credit_lots_purchase_id_user_id",
        "credit_lots",
        ["purchase_id", "user_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_credit_lots_purchase_id_user_id", table_name="credit_lots")
