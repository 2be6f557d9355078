"""Subscriptions as creditflow knows them: their status, period and plan, and their grants.

- subscriptions: one row per Stripe subscription, kept from its Checkout Session, its invoices
  and `customer.subscription.*` events (domain/subscriptions.py decides what each changes);
  `ended_at` is set once it is canceled, and no invoice for a later period grants credits.
  (user_id) lists a user's subscriptions.
- purchases.subscription_id: the subscription an invoice's purchase paid for, so a
  subscription lists the grants made for it; (subscription_id, id) keeps that one index range.

Revision ID: 0011
Revises: 0010_console_hold_lists
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from creditflow.adapters.db.types import UtcDateTime

revision = "0011"
down_revision = "0010_console_hold_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.String(255), primary_key=True),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("status_at", UtcDateTime(), nullable=True),
        sa.Column("current_period_start", UtcDateTime(), nullable=True),
        sa.Column("current_period_end", UtcDateTime(), nullable=True),
        sa.Column("credits_per_period", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "credits_per_period IS NULL OR credits_per_period > 0",
            name="ck_subscriptions_credits_per_period_positive",
        ),
    )
    op.create_index("ix_subscriptions_user_id", "subscriptions", ["user_id"])
    op.add_column("purchases", sa.Column("subscription_id", sa.String(255), nullable=True))
    op.create_index(
        "ix_purchases_subscription_id_id", "purchases", ["subscription_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_purchases_subscription_id_id", table_name="purchases")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("subscription_id")
    op.drop_index("ix_subscriptions_user_id", table_name="subscriptions")
    op.drop_table("subscriptions")
