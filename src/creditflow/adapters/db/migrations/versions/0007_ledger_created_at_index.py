"""The ledger by time: the metrics counters read only the entries newer than a horizon.

- ledger_entries(created_at, kind, delta): `/metrics` derives the grant and spend counters from
  the ledger (so they count what every process did, the CLI's included); each scrape reads the
  entries newer than its horizon as one range of this index, and the kind and delta it sums are
  in the index too, so neither that range nor a process's first scrape (the whole history, once)
  reads the table itself.

On a large PostgreSQL database this build blocks writes to the ledger while it runs; build it
beforehand with CREATE INDEX CONCURRENTLY under the same name if that matters.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = ("ix_ledger_entries_created_at_kind_delta", ["created_at", "kind", "delta"])


def upgrade() -> None:
    op.create_index(INDEX[0], "ledger_entries", INDEX[1])


def downgrade() -> None:
    op.drop_index(INDEX[0], table_name="ledger_entries")
