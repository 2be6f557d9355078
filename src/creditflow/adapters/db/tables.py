"""The schema as SQLAlchemy Core tables. Migrations create it; this module lets code query it.

Money's invariants are enforced here too, not only in Python: unique event ids, one purchase per
checkout session and per PaymentIntent, one ledger entry per idempotency key, non-zero deltas
(but for refunds and disputes the clamp policy reduced to nothing), positive credits, and (in
the migration) a trigger that refuses to update or delete ledger entries.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from creditflow.adapters.db.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Only refund and dispute entries may move nothing (domain/kinds.py ZERO_DELTA_KINDS says why).
ZERO_DELTA_KINDS_SQL = "kind IN ('refund', 'refund_reversal', 'dispute_hold', 'dispute_return')"

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("email", String(320), nullable=True),
    Column("email_key", String(320), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

wallets = Table(
    "wallets",
    metadata,
    Column("user_id", String(255), ForeignKey("users.id"), primary_key=True),
    Column("balance", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", String(255), ForeignKey("wallets.user_id"), nullable=False),
    Column("delta", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reference", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("purchase_id", Id, ForeignKey("purchases.id"), nullable=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    CheckConstraint(f"delta <> 0 OR {ZERO_DELTA_KINDS_SQL}", name="delta_nonzero"),
    CheckConstraint("reason <> ''", name="has_reason"),
    Index("ix_ledger_entries_user_id_id", "user_id", "id"),
    Index("ix_ledger_entries_purchase_id", "purchase_id"),
    # The metrics counters' recent range, summed from the index alone (0007).
    Index("ix_ledger_entries_created_at_kind_delta", "created_at", "kind", "delta"),
)

credit_lots = Table(
    "credit_lots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", String(255), ForeignKey("wallets.user_id"), nullable=False),
    Column("source", String(32), nullable=False),
    Column("purchase_id", Id, ForeignKey("purchases.id"), nullable=True),
    Column("reference", String(255), nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint("credits > 0", name="credits_positive"),
    CheckConstraint("remaining >= 0", name="remaining_not_negative"),
    Index(
        "ix_credit_lots_user_id_open",
        "user_id",
        sqlite_where=text("remaining > 0"),
        postgresql_where=text("remaining > 0"),
    ),
    Index(
        "ix_credit_lots_expires_at_open",
        "expires_at",
        sqlite_where=text("remaining > 0"),
        postgresql_where=text("remaining > 0"),
    ),
    # A purchase's lot: found by a grant, a refund or a reversal without scanning the history.
    Index("uq_credit_lots_purchase_id_user_id", "purchase_id", "user_id", unique=True),
)

# Credits reserved before the work (domain/holds.py); only a capture's ledger entry moves them.
HOLD_STATUSES_SQL = "status IN ('held', 'captured', 'voided', 'expired')"

holds = Table(
    "holds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(255), ForeignKey("wallets.user_id"), nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("reason", Text, nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("captured", BigInteger, nullable=False, server_default="0"),
    Column("released", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("credits > 0", name="credits_positive"),
    CheckConstraint(HOLD_STATUSES_SQL, name="status_known"),
    CheckConstraint("captured >= 0 AND released >= 0", name="moved_not_negative"),
    CheckConstraint("captured + released <= credits", name="moved_within_hold"),
    CheckConstraint("reason <> ''", name="has_reason"),
    # The wallet's live holds, summed by every load of the wallet: only open ones are indexed.
    Index(
        "ix_holds_user_id_live",
        "user_id",
        "expires_at",
        sqlite_where=text("status = 'held'"),
        postgresql_where=text("status = 'held'"),
    ),
    Index(
        "ix_holds_expires_at_live",
        "expires_at",
        sqlite_where=text("status = 'held'"),
        postgresql_where=text("status = 'held'"),
    ),
    Index("ix_holds_user_id_created_at", "user_id", "created_at"),
    # The console's holds list, newest first, all of them or by status (migration 0010).
    Index("ix_holds_created_at_id", "created_at", "id"),
    Index("ix_holds_status_created_at_id", "status", "created_at", "id"),
)

purchases = Table(
    "purchases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("checkout_session_id", String(255), nullable=True, unique=True),
    Column("payment_intent_id", String(255), nullable=True, unique=True),
    Column("payment_state", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("user_id", String(255), nullable=True),
    Column("email_key", String(320), nullable=True),
    Column("amount", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("credits", BigInteger, nullable=True),
    Column("payment_link", String(255), nullable=True),
    Column("amount_refunded", BigInteger, nullable=False),
    Column("dispute_status", String(32), nullable=True),
    Column("credits_refunded", BigInteger, nullable=False),
    Column("credits_held", BigInteger, nullable=False),
    Column("credits_written_off", BigInteger, nullable=False),
    Column("livemode", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("credited_at", UtcDateTime(), nullable=True),
    # A subscription invoice's purchase (migration 0009): one row per invoice, so a period's
    # credits are granted once; they expire with the period (plus the grace).
    Column("invoice_id", String(255), nullable=True),
    Column("credits_expire_at", UtcDateTime(), nullable=True),
    # The subscription the invoice paid for (0011): a subscription lists its grants by it.
    Column("subscription_id", String(255), nullable=True),
    CheckConstraint("credits IS NULL OR credits > 0", name="credits_positive"),
    CheckConstraint("amount IS NULL OR amount >= 0", name="amount_not_negative"),
    # Listing filters by one of these and takes the newest ids: one index range, no sort.
    Index("ix_purchases_user_id_id", "user_id", "id"),
    Index("ix_purchases_status_id", "status", "id"),
    Index("ix_purchases_invoice_id", "invoice_id", unique=True),
    Index("ix_purchases_subscription_id_id", "subscription_id", "id"),
)

# The app's user behind a Stripe customer, linked by a subscription's Checkout Session, so later
# invoices of that customer find the user even when they name none.
stripe_customers = Table(
    "stripe_customers",
    metadata,
    Column("customer_id", String(255), primary_key=True),
    Column("user_id", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# A Stripe subscription as creditflow knows it (0011), from its Checkout Session, its invoices and
# `customer.subscription.*` events; once `ended_at` is set, later periods grant nothing.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", String(255), primary_key=True),
    Column("customer_id", String(255), nullable=True),
    Column("user_id", String(255), nullable=True),
    Column("status", String(32), nullable=True),
    Column("status_at", UtcDateTime(), nullable=True),  # when Stripe reported that status
    Column("current_period_start", UtcDateTime(), nullable=True),
    Column("current_period_end", UtcDateTime(), nullable=True),
    Column("credits_per_period", BigInteger, nullable=True),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("livemode", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint(
        "credits_per_period IS NULL OR credits_per_period > 0", name="credits_per_period_positive"
    ),
    Index("ix_subscriptions_user_id", "user_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("purchase_id", Id, ForeignKey("purchases.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # When Stripe created the event that canceled it; NULL while counted, or when unknown.
    Column("canceled_at", UtcDateTime(), nullable=True),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    Index("ix_refunds_purchase_id", "purchase_id"),
)

pending_grants = Table(
    "pending_grants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("purchase_id", Id, ForeignKey("purchases.id"), nullable=False, unique=True),
    Column("user_id", String(255), nullable=True),
    Column("email_key", String(320), nullable=True),
    Column("credits", BigInteger, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("claimed_at", UtcDateTime(), nullable=True),
    Column("claimed_by", String(255), nullable=True),
    CheckConstraint("credits >= 0", name="credits_not_negative"),
    CheckConstraint("user_id IS NOT NULL OR email_key IS NOT NULL", name="has_identity"),
    # Only unclaimed grants are ever looked up; claimed ones just accumulate.
    *(
        Index(
            f"ix_pending_grants_{name}",
            column,
            sqlite_where=text("claimed_at IS NULL"),
            postgresql_where=text("claimed_at IS NULL"),
        )
        for name, column in (
            ("user_id_unclaimed", "user_id"),
            ("email_key_unclaimed", "email_key"),
            ("unclaimed", "id"),
        )
    ),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("livemode", Boolean, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("error", Text, nullable=True),
    Column("endpoint", String(100), nullable=False),
    Column("delivery_count", Integer, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("processed_at", UtcDateTime(), nullable=True),
    # Listing pages newest first by (received_at, id), filtered by status or not (0005); the
    # console's pages of one type, and its 24-hour counts by status from the index alone (0006).
    Index("ix_webhook_events_status_received_at_id", "status", "received_at", "id"),
    Index("ix_webhook_events_received_at_id_status", "received_at", "id", "status"),
    Index("ix_webhook_events_type_received_at_id", "type", "received_at", "id"),
)

# The operator console: each replay an operator asked for, with why and what came of it.
event_replays = Table(
    "event_replays",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(255), ForeignKey("webhook_events.id"), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("error", Text, nullable=True),
    Column("replayed_at", UtcDateTime(), nullable=False),
    Index("ix_event_replays_event_id_id", "event_id", "id"),
)
