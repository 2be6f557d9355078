"""The operator console: who replayed which delivery and why, and the inbox's browsing indexes.

- event_replays: one row per replay asked for in the console (operator, reason, outcome), so the
  inbox says who acted on an event, next to what the event itself recorded.
- webhook_events(received_at, id, status) and (type, received_at, id): the console lists
  deliveries newest first, optionally of one type, a page at a time (keyset on received_at and
  id), and counts the last 24 hours by status from the index alone; without them each page
  would sort the whole inbox, and the count read every payload. (received_at, id, status) also
  serves /v1/events' pages, so it replaces 0005's (received_at, id): one index fewer to write.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from creditflow.adapters.db.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INBOX_INDEXES = (
    ("ix_webhook_events_received_at_id_status", ["received_at", "id", "status"]),
    ("ix_webhook_events_type_received_at_id", ["type", "received_at", "id"]),
)
REPLACED = ("ix_webhook_events_received_at_id", ["received_at", "id"])


def upgrade() -> None:
    op.create_table(
        "event_replays",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(255), sa.ForeignKey("webhook_events.id"), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("replayed_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_event_replays_event_id_id", "event_replays", ["event_id", "id"])
    for name, columns in INBOX_INDEXES:
        op.create_index(name, "webhook_events", columns)
    op.drop_index(REPLACED[0], table_name="webhook_events")


def downgrade() -> None:
    op.create_index(REPLACED[0], "webhook_events", REPLACED[1])
    for name, _ in INBOX_INDEXES:
        op.drop_index(name, table_name="webhook_events")
    op.drop_index("ix_event_replays_event_id_id", table_name="event_replays")
    op.drop_table("event_replays")
