"""A batch's purchases inserted or locked, and changed, in set-based statements (group commit).

Like `insert_or_lock_purchase` and `PurchaseRepository.apply`, for every payment of a batch of
deliveries at once, deciding nothing (domain/payment_batch.py decides). The insert and the
locking read go together, one round trip on PostgreSQL (pipeline.py): every new purchase in one
multi-row INSERT ... ON CONFLICT DO NOTHING (either unique id counts, as alone), then every row
naming a payment of the batch, locked in id order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import Connection, Executable, or_, select, text

from creditflow.adapters.db.pipeline import Statement, run_together
from creditflow.adapters.db.repositories._sql import among, setting_by_key, upsert
from creditflow.adapters.db.repositories.purchases import change_values, new_values
from creditflow.adapters.db.repositories.rows import purchase_from
from creditflow.adapters.db.tables import purchases
from creditflow.domain.purchase_record import NewPurchase, Purchase, PurchaseChange


def insert_or_lock_many(
    connection: Connection, new: Sequence[NewPurchase], named: Sequence[str], now: datetime
) -> tuple[list[Purchase], list[bool]]:
    """Each of `new` (distinct payments) inserted unless a purchase names it; then every
    purchase whose Checkout Session or PaymentIntent id is among `named` (`new`'s and any other
    the batch's events name), locked in id order; and for each of `new`, whether it was
    inserted."""
    rows = sorted(
        (new_values(purchase, now) for purchase in new),
        key=lambda row: (row["checkout_session_id"] or "", row["payment_intent_id"] or ""),
    )
    dialect = connection.dialect.name
    insert: Statement
    if dialect == "postgresql":
        insert = (_PG_INSERT, {name: [row[name] for row in rows] for name in _PG_COLUMNS})
    else:  # a multi-row VALUES, compiled per batch: SQLite pays no round trip for it anyway
        statement = upsert(dialect, purchases).values(rows).on_conflict_do_nothing()
        insert = statement.returning(*_RETURNED), {}
    ids = sorted(named)
    inserted, locked = run_together(
        connection,
        [insert, (_locking(dialect), {"sessions": ids, "intents": ids})],
    )
    made = {(row["checkout_session_id"], row["payment_intent_id"]) for row in inserted}
    return [purchase_from(row) for row in locked], [
        (p.checkout_session_id, p.payment_intent_id) in made for p in new
    ]


def updating(changes: Mapping[int, PurchaseChange], now: datetime) -> list[Statement]:
    """Each purchase's change as its UPDATE (the columns differ from one change to the next),
    in purchase id order: statements to send with others."""
    return [
        setting_by_key(purchases, purchase_id, change_values(changes[purchase_id], now))
        for purchase_id in sorted(changes)
    ]


_RETURNED = (purchases.c.checkout_session_id, purchases.c.payment_intent_id)
# PostgreSQL: one array per column, so the statement's text is the same whatever the batch's
# size (compiled and parsed once, where a multi-row VALUES is compiled anew for each batch).
_PG_COLUMNS = (
    "checkout_session_id",
    "payment_intent_id",
    "payment_state",
    "status",
    "user_id",
    "email_key",
    "amount",
    "currency",
    "credits",
    "payment_link",
    "amount_refunded",
    "credits_refunded",
    "credits_held",
    "credits_written_off",
    "livemode",
    "created_at",
    "updated_at",
    "credited_at",
    "invoice_id",
    "credits_expire_at",
)
_PG_INSERT = text(
    """INSERT INTO purchases (checkout_session_id, payment_intent_id, payment_state, status,
                           user_id, email_key, amount, currency, credits, payment_link,
                           amount_refunded, credits_refunded, credits_held,
                           credits_written_off, livemode, created_at, updated_at,
                           credited_at, invoice_id, credits_expire_at)
    SELECT checkout_session_id, payment_intent_id, payment_state, status, user_id, email_key,
           amount, currency, credits, payment_link, amount_refunded, credits_refunded,
           credits_held, credits_written_off, livemode, created_at, updated_at, credited_at,
           invoice_id, credits_expire_at
    FROM unnest(CAST(:checkout_session_id AS varchar[]), CAST(:payment_intent_id AS varchar[]),
                CAST(:payment_state AS varchar[]), CAST(:status AS varchar[]),
                CAST(:user_id AS varchar[]), CAST(:email_key AS varchar[]),
                CAST(:amount AS bigint[]), CAST(:currency AS varchar[]),
                CAST(:credits AS bigint[]), CAST(:payment_link AS varchar[]),
                CAST(:amount_refunded AS bigint[]), CAST(:credits_refunded AS bigint[]),
                CAST(:credits_held AS bigint[]), CAST(:credits_written_off AS bigint[]),
                CAST(:livemode AS boolean[]), CAST(:created_at AS timestamptz[]),
                CAST(:updated_at AS timestamptz[]), CAST(:credited_at AS timestamptz[]),
                CAST(:invoice_id AS varchar[]), CAST(:credits_expire_at AS timestamptz[]))
         WITH ORDINALITY AS p(checkout_session_id, payment_intent_id, payment_state, status,
                              user_id, email_key, amount, currency, credits, payment_link,
                              amount_refunded, credits_refunded, credits_held,
                              credits_written_off, livemode, created_at, updated_at,
                              credited_at, invoice_id, credits_expire_at, ord)
    ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING checkout_session_id, payment_intent_id"""
)


@cache
def _locking(dialect: str) -> Executable:
    return (
        select(purchases)
        .where(
            or_(
                among(dialect, purchases.c.checkout_session_id, "sessions"),
                among(dialect, purchases.c.payment_intent_id, "intents"),
            )
        )
        .order_by(purchases.c.id)
        .with_for_update()
    )
