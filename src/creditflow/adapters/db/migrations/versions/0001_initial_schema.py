"""Initial schema: users, wallets, append-only ledger, lots, purchases, refunds, pending grants,
webhook inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from creditflow.adapters.db.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
       BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    """CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
       BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
]
APPEND_ONLY_POSTGRES = [
    """CREATE FUNCTION creditflow_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END $$""",
    """CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
       FOR EACH ROW EXECUTE FUNCTION creditflow_ledger_append_only()""",
]


def _timestamps(*names: str, nullable: bool = False) -> list[sa.Column[object]]:
    return [sa.Column(name, UtcDateTime(), nullable=nullable) for name in names]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("email_key", sa.String(320), nullable=True),
        *_timestamps("created_at", "updated_at"),
        sa.UniqueConstraint("email_key", name="uq_users_email_key"),
    )
    op.create_table(
        "wallets",
        sa.Column("user_id", sa.String(255), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        *_timestamps("updated_at"),
    )
    op.create_table(
        "purchases",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("checkout_session_id", sa.String(255), nullable=True),
        sa.Column("payment_intent_id", sa.String(255), nullable=True),
        sa.Column("payment_state", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("email_key", sa.String(320), nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("credits", sa.BigInteger, nullable=True),
        sa.Column("payment_link", sa.String(255), nullable=True),
        sa.Column("amount_refunded", sa.BigInteger, nullable=False),
        sa.Column("dispute_status", sa.String(32), nullable=True),
        sa.Column("credits_refunded", sa.BigInteger, nullable=False),
        sa.Column("credits_held", sa.BigInteger, nullable=False),
        sa.Column("credits_written_off", sa.BigInteger, nullable=False),
        sa.Column("livemode", sa.Boolean, nullable=False),
        *_timestamps("created_at", "updated_at"),
        *_timestamps("credited_at", nullable=True),
        sa.UniqueConstraint("checkout_session_id", name="uq_purchases_checkout_session_id"),
        sa.UniqueConstraint("payment_intent_id", name="uq_purchases_payment_intent_id"),
        sa.CheckConstraint("credits IS NULL OR credits > 0", name="ck_purchases_credits_positive"),
        sa.CheckConstraint(
            "amount IS NULL OR amount >= 0", name="ck_purchases_amount_not_negative"
        ),
    )
    op.create_index("ix_purchases_user_id", "purchases", ["user_id"])
    op.create_index("ix_purchases_status", "purchases", ["status"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(255), sa.ForeignKey("wallets.user_id"), nullable=False),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("purchase_id", Id, sa.ForeignKey("purchases.id"), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        *_timestamps("created_at"),
        *_timestamps("expires_at", nullable=True),
        # Refunds and disputes the clamp policy reduced to nothing still leave their entry.
        sa.CheckConstraint(
            "delta <> 0 OR kind IN ('refund', 'refund_reversal', 'dispute_hold', 'dispute_return')",
            name="ck_ledger_entries_delta_nonzero",
        ),
        sa.CheckConstraint("reason <> ''", name="ck_ledger_entries_has_reason"),
        sa.UniqueConstraint("idempotency_key", name="uq_ledger_entries_idempotency_key"),
    )
    op.create_index("ix_ledger_entries_user_id_id", "ledger_entries", ["user_id", "id"])
    op.create_index("ix_ledger_entries_purchase_id", "ledger_entries", ["purchase_id"])
    op.create_table(
        "credit_lots",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(255), sa.ForeignKey("wallets.user_id"), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("purchase_id", Id, sa.ForeignKey("purchases.id"), nullable=True),
        sa.Column("reference", sa.String(255), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        *_timestamps("expires_at", nullable=True),
        *_timestamps("created_at"),
        sa.CheckConstraint("credits > 0", name="ck_credit_lots_credits_positive"),
        sa.CheckConstraint("remaining >= 0", name="ck_credit_lots_remaining_not_negative"),
    )
    open_lots = sa.text("remaining > 0")
    for name, column in (("user_id_open", "user_id"), ("expires_at_open", "expires_at")):
        op.create_index(
            f"ix_credit_lots_{name}",
            "credit_lots",
            [column],
            sqlite_where=open_lots,
            postgresql_where=open_lots,
        )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("purchase_id", Id, sa.ForeignKey("purchases.id"), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        *_timestamps("updated_at"),
        sa.CheckConstraint("amount >= 0", name="ck_refunds_amount_not_negative"),
    )
    op.create_index("ix_refunds_purchase_id", "refunds", ["purchase_id"])
    op.create_table(
        "pending_grants",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("purchase_id", Id, sa.ForeignKey("purchases.id"), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("email_key", sa.String(320), nullable=True),
        sa.Column("credits", sa.BigInteger, nullable=False),
        *_timestamps("created_at"),
        *_timestamps("claimed_at", nullable=True),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.UniqueConstraint("purchase_id", name="uq_pending_grants_purchase_id"),
        sa.CheckConstraint("credits >= 0", name="ck_pending_grants_credits_not_negative"),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR email_key IS NOT NULL", name="ck_pending_grants_has_identity"
        ),
    )
    op.create_index("ix_pending_grants_user_id", "pending_grants", ["user_id"])
    op.create_index("ix_pending_grants_email_key", "pending_grants", ["email_key"])
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("livemode", sa.Boolean, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("endpoint", sa.String(100), nullable=False),
        sa.Column("delivery_count", sa.Integer, nullable=False),
        *_timestamps("received_at"),
        *_timestamps("processed_at", nullable=True),
    )
    op.create_index(
        "ix_webhook_events_status_received_at", "webhook_events", ["status", "received_at"]
    )
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRES if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)


def downgrade() -> None:
    tables = ("webhook_events", "pending_grants", "refunds", "credit_lots", "ledger_entries")
    for table in (*tables, "purchases"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS creditflow_ledger_append_only()")
    op.drop_table("wallets")
    op.drop_table("users")
