"""A batch of wallets loaded and stored in set-based statements (services/group_commit.py).

Like `WalletRepository.load` and `.store`, for every wallet of a batch at once, deciding
nothing. `load_many` locks the wallets in user id order, so two batches sharing wallets queue on
the first they share and never wait on each other in a cycle (docs/design.md, locks), then reads
their open lots, their live holds' totals and the entries under the batch's keys: four
statements, one round trip on PostgreSQL (pipeline.py). `store_many` writes what `combine`
folded the batch into: on PostgreSQL one `unnest` statement per table, sent together; on SQLite
plain statements, run many times over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    String,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)

from creditflow.adapters.db.pipeline import Statement, run_together
from creditflow.adapters.db.repositories._sql import among, upsert
from creditflow.adapters.db.repositories.wallets import entry_from, entry_values, lot_from
from creditflow.adapters.db.tables import Id, credit_lots, holds, ledger_entries, wallets
from creditflow.domain.holds import HoldStatus
from creditflow.domain.wallet import LedgerEntry, Posted, Posting, WalletState
from creditflow.domain.wallet_batch import BatchChanges, combine


def load_many(
    connection: Connection, postings: Sequence[Posting], now: datetime
) -> dict[str, WalletState]:
    """The wallets `postings` go to, by user id, each with its lots (and the lot of each
    posting's purchase, even empty), the credits its holds live at `now` reserve, and the
    entries under its postings' keys. A wallet that does not exist is absent: its postings are
    the caller's to answer (NotFound)."""
    users = sorted({posting.user_id for posting in postings})
    purchases = sorted({p.purchase_id for p in postings if p.purchase_id is not None})
    keys = sorted({posting.key for posting in postings})
    lock, lots, held, entries = _loads(connection.dialect.name)
    found, lot_rows, held_rows, entry_rows = run_together(
        connection,
        [
            (lock, {"users": users}),
            (lots, {"users": users, "purchases": purchases}),
            (held, {"users": users, "now": now}),
            (entries, {"keys": keys}),
        ],
    )
    by_key = {row["idempotency_key"]: entry_from(row) for row in entry_rows}
    held_by_user = {row["user_id"]: int(row["held"]) for row in held_rows}
    return {
        row["user_id"]: WalletState(
            user_id=row["user_id"],
            balance=int(row["balance"]),
            lots=tuple(lot_from(lot) for lot in lot_rows if lot["user_id"] == row["user_id"]),
            entries={
                posting.key: by_key[posting.key]
                for posting in postings
                if posting.user_id == row["user_id"] and posting.key in by_key
            },
            held=held_by_user.get(row["user_id"], 0),
        )
        for row in found
    }


def store_many(connection: Connection, batch: Sequence[Posted]) -> list[LedgerEntry]:
    """The batch's entries as stored, in its order; its lots and balances written with them.

    As in `store`, the entries are plain inserts whose keys the load checked under the
    wallets' locks: a key posted meanwhile by another wallet's transaction fails the batch.
    """
    if not batch:
        return []
    changes = combine(batch)
    entries = [entry_values(posted) for posted in batch]
    if connection.dialect.name == "postgresql":
        inserted = _store_postgres(connection, entries, changes)
    else:
        inserted = _store_plainly(connection, entries, changes)
    by_key = {row["idempotency_key"]: entry_from(row) for row in inserted}
    return [by_key[posted.entry.key] for posted in batch]


@cache
def _loads(dialect: str) -> tuple[Executable, Executable, Executable, Executable]:
    """The locking read of the wallets, then their lots, their live holds' totals, and the
    entries under the keys."""
    lock = (
        select(wallets.c.user_id, wallets.c.balance)
        .where(among(dialect, wallets.c.user_id, "users"))
        .order_by(wallets.c.user_id)
        .with_for_update()
    )
    lots = (
        select(credit_lots)
        .where(
            among(dialect, credit_lots.c.user_id, "users"),
            or_(
                credit_lots.c.remaining > 0,
                among(dialect, credit_lots.c.purchase_id, "purchases"),
            ),
        )
        .order_by(credit_lots.c.id)
    )
    held = (
        select(holds.c.user_id, func.sum(holds.c.credits).label("held"))
        .where(
            among(dialect, holds.c.user_id, "users"),
            holds.c.status == HoldStatus.HELD.value,
            holds.c.expires_at > bindparam("now"),
        )
        .group_by(holds.c.user_id)
    )
    entries = select(ledger_entries).where(among(dialect, ledger_entries.c.idempotency_key, "keys"))
    return lock, lots, held, entries


# Written out, not built: what PostgreSQL runs reads as it is. Each array is one column of the
# batch, cast to its column's type; WITH ORDINALITY ... ORDER BY ord inserts in the batch's
# order, so entry ids ascend in arrival order (the running sum of `balance_after`).
_PG_INSERT_ENTRIES = text(
    """INSERT INTO ledger_entries (user_id, delta, balance_after, kind, reference, reason,
                                purchase_id, idempotency_key, created_at, expires_at)
    SELECT user_id, delta, balance_after, kind, reference, reason,
           purchase_id, idempotency_key, created_at, expires_at
    FROM unnest(CAST(:user_id AS varchar[]), CAST(:delta AS bigint[]),
                CAST(:balance_after AS bigint[]), CAST(:kind AS varchar[]),
                CAST(:reference AS varchar[]), CAST(:reason AS text[]),
                CAST(:purchase_id AS bigint[]), CAST(:idempotency_key AS varchar[]),
                CAST(:created_at AS timestamptz[]), CAST(:expires_at AS timestamptz[]))
         WITH ORDINALITY AS e(user_id, delta, balance_after, kind, reference, reason,
                              purchase_id, idempotency_key, created_at, expires_at, ord)
    ORDER BY ord
    RETURNING *
    """
).columns(*ledger_entries.columns)
# A purchase's credits return to its own lot if the load did not see it, as `store` does.
_PG_OPEN_LOTS = text(
    """INSERT INTO credit_lots (user_id, source, purchase_id, reference, credits, remaining,
                             expires_at, created_at)
    SELECT user_id, source, purchase_id, reference, credits, remaining, expires_at, created_at
    FROM unnest(CAST(:user_id AS varchar[]), CAST(:source AS varchar[]),
                CAST(:purchase_id AS bigint[]), CAST(:reference AS varchar[]),
                CAST(:credits AS bigint[]), CAST(:remaining AS bigint[]),
                CAST(:expires_at AS timestamptz[]), CAST(:created_at AS timestamptz[]))
         WITH ORDINALITY AS l(user_id, source, purchase_id, reference, credits, remaining,
                              expires_at, created_at, ord)
    ORDER BY ord
    ON CONFLICT (purchase_id, user_id) DO UPDATE
    SET credits = credit_lots.credits + excluded.credits,
        remaining = credit_lots.remaining + excluded.remaining
    """
)
_PG_MOVE_LOTS = text(
    """UPDATE credit_lots
    SET credits = credit_lots.credits + m.credits, remaining = credit_lots.remaining + m.remaining
    FROM unnest(CAST(:lot_id AS bigint[]), CAST(:credits AS bigint[]),
                CAST(:remaining AS bigint[])) AS m(lot_id, credits, remaining)
    WHERE credit_lots.id = m.lot_id
    """
)
_PG_SET_BALANCES = text(
    """UPDATE wallets SET balance = b.balance, updated_at = b.updated_at
    FROM unnest(CAST(:user_id AS varchar[]), CAST(:balance AS bigint[]),
                CAST(:updated_at AS timestamptz[])) AS b(user_id, balance, updated_at)
    WHERE wallets.user_id = b.user_id
    """
)


def _store_postgres(
    connection: Connection, entries: list[dict[str, Any]], changes: BatchChanges
) -> list[dict[str, Any]]:
    """One statement per table, sent together: one round trip however big the batch."""
    inserted, *_ = run_together(connection, _pg_statements(entries, changes))
    return inserted


def store_statements(batch: Sequence[Posted]) -> list[Statement]:
    """`store_many`'s statements on PostgreSQL (at least one posting), for a caller that
    sends them with others and needs no entry back (services/batched_payments.py)."""
    return _pg_statements([entry_values(posted) for posted in batch], combine(batch))


def _pg_statements(entries: list[dict[str, Any]], changes: BatchChanges) -> list[Statement]:
    statements: list[Statement] = [(_PG_INSERT_ENTRIES, _as_arrays(entries))]
    if changes.opened:
        statements.append((_PG_OPEN_LOTS, _as_arrays(_lot_rows(changes))))
    if changes.moved:
        statements.append((_PG_MOVE_LOTS, _as_arrays(_move_rows(changes))))
    statements.append((_PG_SET_BALANCES, _as_arrays(_balance_rows(changes))))
    return statements


def _as_arrays(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows (at least one) as one array per column: the parameters of an `unnest`."""
    return {name: [row[name] for row in rows] for name in rows[0]}


_INSERT_ENTRY = ledger_entries.insert().returning(*ledger_entries.columns)
_MOVE_LOT = (
    update(credit_lots)
    .where(credit_lots.c.id == bindparam("lot_id"))
    .values(
        credits=credit_lots.c.credits + bindparam("moved_credits", type_=Id),
        remaining=credit_lots.c.remaining + bindparam("moved_remaining", type_=Id),
    )
)
_SET_BALANCE = (
    update(wallets)
    .where(wallets.c.user_id == bindparam("wallet", type_=String))
    .values(balance=bindparam("new_balance"), updated_at=bindparam("at"))
)


@cache
def _open_lot(dialect: str) -> Executable:
    insert = upsert(dialect, credit_lots)
    return insert.on_conflict_do_update(
        index_elements=["purchase_id", "user_id"],
        set_={
            "credits": credit_lots.c.credits + insert.excluded.credits,
            "remaining": credit_lots.c.remaining + insert.excluded.remaining,
        },
    )


def _store_plainly(
    connection: Connection, entries: list[dict[str, Any]], changes: BatchChanges
) -> list[dict[str, Any]]:
    """SQLite: the batch holds the one write lock already; statements cost no round trip."""
    inserted = [dict(connection.execute(_INSERT_ENTRY, row).mappings().one()) for row in entries]
    if changes.opened:
        connection.execute(_open_lot(connection.dialect.name), _lot_rows(changes))
    if changes.moved:
        moves = [
            {
                "lot_id": row["lot_id"],
                "moved_credits": row["credits"],
                "moved_remaining": row["remaining"],
            }
            for row in _move_rows(changes)
        ]
        connection.execute(_MOVE_LOT, moves)
    balances = [
        {"wallet": row["user_id"], "new_balance": row["balance"], "at": row["updated_at"]}
        for row in _balance_rows(changes)
    ]
    connection.execute(_SET_BALANCE, balances)
    return inserted


def _lot_rows(changes: BatchChanges) -> list[dict[str, Any]]:
    return [
        {
            "user_id": lot.user_id,
            "source": lot.source.value,
            "purchase_id": lot.purchase_id,
            "reference": lot.reference,
            "credits": lot.credits,
            "remaining": lot.remaining,
            "expires_at": lot.expires_at,
            "created_at": lot.created_at,
        }
        for lot in changes.opened
    ]


def _move_rows(changes: BatchChanges) -> list[dict[str, Any]]:
    return [
        {"lot_id": m.lot_id, "credits": m.credits, "remaining": m.remaining} for m in changes.moved
    ]


def _balance_rows(changes: BatchChanges) -> list[dict[str, Any]]:
    return [
        {"user_id": b.user_id, "balance": b.balance, "updated_at": b.updated_at}
        for b in changes.balances
    ]
