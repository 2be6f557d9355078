"""The invariants of docs/design.md as SQL over the whole database, each naming what breaks it.

Plain SQL that runs unchanged on SQLite and PostgreSQL; every query returns the offending rows,
so an empty result means the invariant holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from creditflow.domain.findings import Finding


@dataclass(frozen=True)
class Invariant:
    name: str
    description: str
    sql: str


INVARIANTS = (
    Invariant(
        "balance_equals_ledger",
        "a wallet's balance equals the sum of its ledger entries",
        """SELECT w.user_id, w.balance, COALESCE(SUM(e.delta), 0) AS ledger
           FROM wallets w LEFT JOIN ledger_entries e ON e.user_id = w.user_id
           GROUP BY w.user_id, w.balance HAVING w.balance <> COALESCE(SUM(e.delta), 0)""",
    ),
    Invariant(
        "balance_after_is_running_sum",
        "each entry's balance_after is the running sum of the wallet's entries",
        """SELECT id, user_id, balance_after, running FROM (
             SELECT id, user_id, balance_after,
                    SUM(delta) OVER (PARTITION BY user_id ORDER BY id) AS running
             FROM ledger_entries) t
           WHERE balance_after <> running""",
    ),
    Invariant(
        "lots_match_balance",
        "the credits left in a wallet's lots equal its balance (zero when in debt)",
        """SELECT w.user_id, w.balance, COALESCE(SUM(l.remaining), 0) AS in_lots
           FROM wallets w LEFT JOIN credit_lots l ON l.user_id = w.user_id
           GROUP BY w.user_id, w.balance
           HAVING COALESCE(SUM(l.remaining), 0)
                  <> CASE WHEN w.balance > 0 THEN w.balance ELSE 0 END""",
    ),
    Invariant(
        "one_grant_per_payment",
        "a payment is credited at most once",
        """SELECT purchase_id, COUNT(*) AS grants FROM ledger_entries
           WHERE kind = 'purchase' GROUP BY purchase_id HAVING COUNT(*) > 1""",
    ),
    Invariant(
        "purchase_ledger_matches_purchase",
        "a credited purchase's entries add up to its credits less refunds and holds",
        """SELECT p.id, p.credits, COALESCE(SUM(e.delta), 0) AS in_ledger
           FROM purchases p LEFT JOIN ledger_entries e ON e.purchase_id = p.id
           WHERE p.credited_at IS NOT NULL
           GROUP BY p.id, p.credits, p.credits_refunded, p.credits_held, p.credits_written_off
           HAVING COALESCE(SUM(e.delta), 0) <> p.credits - p.credits_refunded - p.credits_held
                                              + p.credits_written_off""",
    ),
    Invariant(
        "paid_purchases_are_credited",
        "every paid purchase with credits is in a wallet or waiting as a pending grant",
        """SELECT p.id, p.checkout_session_id, p.payment_intent_id FROM purchases p
           WHERE p.payment_state = 'paid' AND p.credited_at IS NULL AND p.credits IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM pending_grants g WHERE g.purchase_id = p.id)""",
    ),
    Invariant(
        "pending_grants_waiting_for_nobody",
        "no unclaimed pending grant belongs to a registered user",
        """SELECT g.id, g.user_id, g.email_key FROM pending_grants g
           WHERE g.claimed_at IS NULL AND (
             EXISTS (SELECT 1 FROM users u WHERE u.id = g.user_id)
             OR (g.user_id IS NULL
                 AND EXISTS (SELECT 1 FROM users u WHERE u.email_key = g.email_key)))""",
    ),
    Invariant(
        "claimed_grants_reached_a_wallet",
        "a claimed pending grant with credits has its ledger entry",
        """SELECT g.id, g.purchase_id FROM pending_grants g
           WHERE g.claimed_at IS NOT NULL AND g.credits > 0 AND NOT EXISTS (
             SELECT 1 FROM ledger_entries e
             WHERE e.purchase_id = g.purchase_id AND e.kind = 'purchase')""",
    ),
    Invariant(
        "spends_never_overdraw",
        "a spend never takes a balance below zero",
        "SELECT id, user_id, balance_after FROM ledger_entries "
        "WHERE kind = 'spend' AND balance_after < 0",
    ),
    Invariant(
        "live_holds_within_balance",
        "a wallet's live holds never exceed its balance, unless money went back (a refund or "
        "dispute) since the oldest of them: their captures then collect what is left",
        # CURRENT_TIMESTAMP: both engines store and compare these in UTC (types.UtcDateTime).
        """SELECT w.user_id, w.balance, SUM(h.credits) AS held
           FROM wallets w JOIN holds h ON h.user_id = w.user_id
           WHERE h.status = 'held' AND h.expires_at > CURRENT_TIMESTAMP
             AND NOT EXISTS (
               SELECT 1 FROM ledger_entries e
               WHERE e.user_id = w.user_id AND e.delta < 0
                 AND e.kind IN ('refund', 'dispute_hold')
                 AND e.created_at >= (SELECT MIN(o.created_at) FROM holds o
                                      WHERE o.user_id = w.user_id AND o.status = 'held'))
           GROUP BY w.user_id, w.balance HAVING SUM(h.credits) > w.balance""",
    ),
    Invariant(
        "entries_have_reasons",
        "every ledger entry says why",
        "SELECT id FROM ledger_entries WHERE TRIM(reason) = ''",
    ),
)


def breaches(connection: Connection, invariant: Invariant, limit: int = 20) -> list[str]:
    rows = connection.execute(text(invariant.sql)).fetchmany(limit)
    return [", ".join(f"{key}={value}" for key, value in row._mapping.items()) for row in rows]


class InvariantChecks:
    """The audit's reads, in the caller's transaction so every finding describes one moment."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def findings(self) -> list[Finding]:
        return [
            Finding(invariant.name, invariant.description, breaches(self._connection, invariant))
            for invariant in INVARIANTS
        ]
