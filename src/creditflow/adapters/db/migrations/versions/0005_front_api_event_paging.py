"""Indexes for paging the inbox newest first: `/v1/events?before=`, with or without a status.

The order is (received_at, id), the id breaking ties between deliveries received in the same
microsecond; each page is then one range of an index, however many events the inbox holds.
(status, received_at, id) replaces (status, received_at), which it also serves (the counts by
status of the metrics gauges).

On a large PostgreSQL database these builds block writes to webhook_events while they run; build
them beforehand with CREATE INDEX CONCURRENTLY under the same names if that matters.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD = ("ix_webhook_events_status_received_at", ["status", "received_at"])
NEW = (
    ("ix_webhook_events_status_received_at_id", ["status", "received_at", "id"]),
    ("ix_webhook_events_received_at_id", ["received_at", "id"]),
)


def upgrade() -> None:
    op.drop_index(OLD[0], table_name="webhook_events")
    for name, columns in NEW:
        op.create_index(name, "webhook_events", columns)


def downgrade() -> None:
    for name, _ in NEW:
        op.drop_index(name, table_name="webhook_events")
    op.create_index(OLD[0], "webhook_events", OLD[1])
