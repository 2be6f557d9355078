"""Bulk seeding with generate_series: a big, realistic history that passes `creditflow audit`.

Rows are written as the service would have written them, so every invariant holds by
construction (the smoke test and each run prove it with the audit):

- history comes in pairs: a purchase of 1 credit (purchase row, its claimed pending grant, its
  lot, a `purchase` entry) then a spend of it (a `spend` entry); the lot ends empty and the
  balance back at its value before the pair, so `balance_after` is 1 then 0;
- odd pairs belong to one wallet, HEAVY (half of the entries: one wallet's long history), even
  pairs are spread round-robin over the other users (the other half: history across the table);
- finally every wallet is funded by one promotional `grant` entry of `funding` credits, in a lot
  of its own, which is the wallet's balance, an hour ago: all of the seed is older than the
  metrics counters' lag (services/ledger_totals.py), so a scrape's recent range of the ledger
  holds only what the benchmark itself did, as in a long-running deployment.

The whole seed is one transaction. Ids are given explicitly (so entries are in the order the
running sums assume) and the sequences moved past them. Literal colons are split from words
(`':' || 'grant'`) so that SQLAlchemy's text() does not read them as bind parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

HEAVY = "heavy"
SEQUENCES = ("ledger_entries", "credit_lots", "purchases", "pending_grants")


@dataclass(frozen=True)
class SeedPlan:
    users: int  # ordinary users u1..uN, besides HEAVY
    entries: int  # history entries across the table (even: they come in pairs)
    funding: int  # each wallet's balance at the end
    extra_wallets: tuple[tuple[str, int], ...] = ()  # (user id, balance) funded on their own

    @property
    def pairs(self) -> int:
        return self.entries // 2


def user_id(n: int) -> str:
    return f"u{n}"


def email_of(uid: str) -> str:
    return f"{uid}@bench.example"


def seed(connection: Connection, plan: SeedPlan) -> None:
    """Write the plan into an empty, migrated PostgreSQL database (inside the caller's
    transaction)."""
    # Foreign keys hold by construction; skipping their per-row triggers makes seeding several
    # times faster (the audit then checks the money invariants).
    connection.execute(text("SET LOCAL session_replication_role = replica"))
    params = {"users": plan.users, "pairs": plan.pairs, "funding": plan.funding, "heavy": HEAVY}
    if plan.pairs and plan.users < 1:
        raise ValueError("history is spread over the users: at least one is needed")
    for script in (_USERS, _HISTORY_OWNERS, _PURCHASES, _PENDING, _LOTS, _ENTRIES, _FUNDING):
        for statement in filter(str.strip, script.split(";")):  # one statement per execute
            connection.execute(text(statement), params)
    connection.execute(text("DROP TABLE seed_owner"))
    for table in SEQUENCES:  # constant names
        latest = f"GREATEST((SELECT MAX(id) FROM {table}), 1)"  # noqa: S608
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {latest})")
        )
    connection.execute(text("SET LOCAL session_replication_role = origin"))
    for uid, balance in plan.extra_wallets:  # ids from the sequences, so after setval
        fund_wallet(connection, uid, balance)


def fund_wallet(connection: Connection, uid: str, credits: int) -> None:
    """A new user whose wallet holds `credits` from one promotional grant (ids from sequences)."""
    params = {"uid": uid, "email": email_of(uid), "credits": credits, "key": f"grant:{uid}:fund"}
    connection.execute(
        text(
            "INSERT INTO users (id, email, email_key, created_at, updated_at) "
            "VALUES (:uid, :email, :email, now(), now())"
        ),
        params,
    )
    connection.execute(
        text("INSERT INTO wallets (user_id, balance, updated_at) VALUES (:uid, :credits, now())"),
        params,
    )
    connection.execute(
        text(
            "INSERT INTO credit_lots (user_id, source, purchase_id, reference, credits, remaining,"
            " expires_at, created_at) VALUES (:uid, 'grant', NULL, 'fund', :credits, :credits,"
            " NULL, now())"
        ),
        params,
    )
    connection.execute(
        text(
            "INSERT INTO ledger_entries (user_id, delta, balance_after, kind, reference, reason,"
            " purchase_id, idempotency_key, created_at, expires_at) VALUES (:uid, :credits,"
            " :credits, 'grant', 'fund', 'benchmark funding', NULL, :key,"
            " now(), NULL)"
        ),
        params,
    )


def add_unclaimed_pending(connection: Connection, email: str, count: int) -> None:
    """`count` paid purchases of 1 credit by an unregistered e-mail, waiting as pending grants."""
    connection.execute(
        text(
            """
            WITH p AS (
              INSERT INTO purchases (checkout_session_id, payment_intent_id, payment_state,
                status, user_id, email_key, amount, currency, credits, payment_link,
                amount_refunded, dispute_status, credits_refunded, credits_held,
                credits_written_off, livemode, created_at, updated_at, credited_at)
              SELECT 'cs_wait_' || md5(:email || g), 'pi_wait_' || md5(:email || g), 'paid',
                'paid', NULL, :email, 100, 'usd', 1, NULL, 0, NULL, 0, 0, 0, false,
                now(), now(), NULL
              FROM generate_series(1, :count) g
              RETURNING id)
            INSERT INTO pending_grants (purchase_id, user_id, email_key, credits, created_at)
            SELECT id, NULL, :email, 1, now() FROM p
            """
        ),
        {"email": email, "count": count},
    )


# Users u1..uN and HEAVY, each with a wallet at the funding balance.
_USERS = """
INSERT INTO users (id, email, email_key, created_at, updated_at)
SELECT uid, uid || '@bench.example', uid || '@bench.example',
       now() - interval '30 days', now() - interval '30 days'
FROM (SELECT 'u' || g AS uid FROM generate_series(1, :users) g
      UNION ALL SELECT :heavy) u;
INSERT INTO wallets (user_id, balance, updated_at)
SELECT id, :funding, now() FROM users;
"""

# Pair j's owner and moment, computed once.
_HISTORY_OWNERS = """
CREATE TEMP TABLE seed_owner AS
SELECT j,
       CASE WHEN j % 2 = 1 THEN :heavy ELSE 'u' || ((j / 2 - 1) % :users + 1) END AS owner,
       now() - interval '20 days' + j * interval '1 millisecond' AS at
FROM generate_series(1, :pairs) j;
"""

_PURCHASES = """
INSERT INTO purchases (id, checkout_session_id, payment_intent_id, payment_state, status,
  user_id, email_key, amount, currency, credits, payment_link, amount_refunded, dispute_status,
  credits_refunded, credits_held, credits_written_off, livemode, created_at, updated_at,
  credited_at)
SELECT j, 'cs_bench_' || j, 'pi_bench_' || j, 'paid', 'paid', owner, owner || '@bench.example',
       100, 'usd', 1, NULL, 0, NULL, 0, 0, 0, false, at, at, at
FROM seed_owner;
"""

# Every seeded purchase was a Payment Link bought before its buyer registered, then claimed.
_PENDING = """
INSERT INTO pending_grants (id, purchase_id, user_id, email_key, credits, created_at,
  claimed_at, claimed_by)
SELECT j, j, NULL, owner || '@bench.example', 1, at, at, owner FROM seed_owner;
"""

_LOTS = """
INSERT INTO credit_lots (id, user_id, source, purchase_id, reference, credits, remaining,
  expires_at, created_at)
SELECT j, owner, 'purchase', j, 'cs_bench_' || j, 1, 0, NULL, at FROM seed_owner;
"""

_ENTRIES = """
INSERT INTO ledger_entries (id, user_id, delta, balance_after, kind, reference, reason,
  purchase_id, idempotency_key, created_at, expires_at)
SELECT 2 * j - 1 + s, owner,
       CASE s WHEN 0 THEN 1 ELSE -1 END,
       CASE s WHEN 0 THEN 1 ELSE 0 END,
       CASE s WHEN 0 THEN 'purchase' ELSE 'spend' END,
       CASE s WHEN 0 THEN 'cs_bench_' || j ELSE 'seed-' || j END,
       CASE s WHEN 0 THEN 'purchase of 1 credits (cs_bench_' || j || ')' ELSE 'seeded use' END,
       CASE s WHEN 0 THEN j END,
       CASE s WHEN 0 THEN 'purchase:' || j || ':' || 'grant'
              ELSE 'spend:' || owner || ':' || 'seed-' || j END,
       at, NULL
FROM seed_owner, (VALUES (0), (1)) AS step(s)
ORDER BY 1;
"""

# The funding grant of every wallet, after all history; its lot holds the whole balance.
_FUNDING = """
CREATE TEMP TABLE seed_fund AS
SELECT user_id, row_number() OVER (ORDER BY user_id) AS k FROM wallets;
INSERT INTO credit_lots (id, user_id, source, purchase_id, reference, credits, remaining,
  expires_at, created_at)
SELECT :pairs + k, user_id, 'grant', NULL, 'fund', :funding, :funding, NULL,
       now() - interval '1 hour'
FROM seed_fund;
INSERT INTO ledger_entries (id, user_id, delta, balance_after, kind, reference, reason,
  purchase_id, idempotency_key, created_at, expires_at)
SELECT 2 * :pairs + k, user_id, :funding, :funding, 'grant', 'fund', 'benchmark funding', NULL,
       'grant:' || user_id || ':' || 'fund', now() - interval '1 hour', NULL
FROM seed_fund;
DROP TABLE seed_fund;
"""
