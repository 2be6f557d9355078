"""Holds: credits reserved before the work, captured or voided after (domain/holds.py).

- holds: one row per hold, unique by its idempotency key; its status moves from held to
  captured, voided or expired, and only a capture's ledger entry moves credits.
- holds(user_id, expires_at) WHERE status = 'held': every load of a wallet sums its live holds
  from this index; (expires_at) WHERE status = 'held' finds the holds the sweeper marks expired;
  (user_id, created_at) lists a wallet's holds.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from creditflow.adapters.db.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LIVE = "status = 'held'"


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(255), sa.ForeignKey("wallets.user_id"), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("captured", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("released", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("credits > 0", name="ck_holds_credits_positive"),
        sa.CheckConstraint(
            "status IN ('held', 'captured', 'voided', 'expired')", name="ck_holds_status_known"
        ),
        sa.CheckConstraint("captured >= 0 AND released >= 0", name="ck_holds_moved_not_negative"),
        sa.CheckConstraint("captured + released <= credits", name="ck_holds_moved_within_hold"),
        sa.CheckConstraint("reason <> ''", name="ck_holds_has_reason"),
        sa.UniqueConstraint("idempotency_key", name="uq_holds_idempotency_key"),
    )
    for name, columns in (
        ("ix_holds_user_id_live", ["user_id", "expires_at"]),
        ("ix_holds_expires_at_live", ["expires_at"]),
    ):
        op.create_index(
            name, "holds", columns, sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE)
        )
    op.create_index("ix_holds_user_id_created_at", "holds", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("holds")
