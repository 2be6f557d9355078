"""Indexes that keep the hot queries flat as history grows (found by `make bench-scale`; the
lookup of a purchase's lot, the other one it found, is 0002's).

- pending_grants: registration looks for *unclaimed* grants by user id or e-mail, and the metrics
  gauges and `/v1/pending-grants` read the unclaimed ones; claimed grants only accumulate, so the
  indexes cover unclaimed rows only (partial), replacing the user_id and email_key indexes.
- purchases(user_id, id), purchases(status, id): `/v1/purchases` filters by user or status and
  takes the newest; with the id in the index that is the first `limit` entries of one range,
  not every matching row sorted. They replace purchases(user_id) and purchases(status).

On a large PostgreSQL database these builds block writes to their table while they run; build
them beforehand with CREATE INDEX CONCURRENTLY under the same names if that matters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNCLAIMED = sa.text("claimed_at IS NULL")
PENDING_OLD = (
    ("ix_pending_grants_user_id", "user_id"),
    ("ix_pending_grants_email_key", "email_key"),
)
PENDING_NEW = (
    ("ix_pending_grants_user_id_unclaimed", "user_id"),
    ("ix_pending_grants_email_key_unclaimed", "email_key"),
    ("ix_pending_grants_unclaimed", "id"),
)
PURCHASES_OLD = (("ix_purchases_user_id", ["user_id"]), ("ix_purchases_status", ["status"]))
PURCHASES_NEW = (
    ("ix_purchases_user_id_id", ["user_id", "id"]),
    ("ix_purchases_status_id", ["status", "id"]),
)


def upgrade() -> None:
    for name, _ in PENDING_OLD:
        op.drop_index(name, table_name="pending_grants")
    for name, column in PENDING_NEW:
        op.create_index(
            name, "pending_grants", [column], sqlite_where=UNCLAIMED, postgresql_where=UNCLAIMED
        )
    for name, _ in PURCHASES_OLD:
        op.drop_index(name, table_name="purchases")
    for name, columns in PURCHASES_NEW:
        op.create_index(name, "purchases", columns)


def downgrade() -> None:
    for name, _ in PURCHASES_NEW:
        op.drop_index(name, table_name="purchases")
    for name, columns in PURCHASES_OLD:
        op.create_index(name, "purchases", columns)
    for name, _ in PENDING_NEW:
        op.drop_index(name, table_name="pending_grants")
    for name, column in PENDING_OLD:
        op.create_index(name, "pending_grants", [column])
