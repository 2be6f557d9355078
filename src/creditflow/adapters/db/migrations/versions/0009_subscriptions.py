"""Subscriptions: a purchase per subscription invoice, and the Stripe customer -> user link.

- purchases.invoice_id (unique): the invoice a subscription period's credits were granted for;
  the unique index is what keeps `invoice.paid` and `invoice.payment_succeeded` (and their
  redeliveries under new event ids) to one grant per invoice.
- purchases.credits_expire_at: when that period's credits expire (period end plus the grace).
- stripe_customers: the user a subscription's Checkout Session named for its customer.


Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from creditflow.adapters.db.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("purchases", sa.Column("invoice_id", sa.String(255), nullable=True))
    op.add_column("purchases", sa.Column("credits_expire_at", UtcDateTime(), nullable=True))
    op.create_index("ix_purchases_invoice_id", "purchases", ["invoice_id"], unique=True)
    op.create_table(
        "stripe_customers",
        sa.Column("customer_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stripe_customers")
    op.drop_index("ix_purchases_invoice_id", table_name="purchases")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("credits_expire_at")
        batch.drop_column("invoice_id")
