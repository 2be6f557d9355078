"""A console-sized history on either engine: 10^4 deliveries, 10^5 ledger entries.

Bulk inserts in one transaction, shaped like real history for the pages to read (not an
audit-clean one: purchases carry no ledger entries). The ledger comes in pairs of a 1-credit
grant, in a lot of its own, and a spend emptying it; half the pairs belong to one wallet (HEAVY),
the rest are spread over the other users; every wallet then gets one open lot of FUNDING
credits. Deliveries spread over the last 48 hours with a working service's mix of outcomes, each
with a Checkout Session payload; purchases of the users, every 20th one waiting as a pending
grant, every 10th a subscription invoice's; holds over the same 48 hours, half of them HEAVY's,
most captured, some voided or expired, some live and some past their expiry not swept yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table, insert

from creditflow.adapters.db.tables import (
    credit_lots,
    holds,
    ledger_entries,
    pending_grants,
    purchases,
    users,
    wallets,
    webhook_events,
)
from creditflow.adapters.stripe import samples

HEAVY = "heavy"
FUNDING = 100
BATCH = 5000
OUTCOMES = ["processed"] * 85 + ["duplicate"] * 8 + ["ignored"] * 4 + ["needs_attention"] * 2
OUTCOMES += ["failed"]


@dataclass(frozen=True)
class Plan:
    users: int = 1000
    entries: int = 100_000
    events: int = 10_000
    purchases: int = 5_000
    holds: int = 10_000


def user_id(n: int) -> str:
    return f"u{n}"


def seed(connection: Connection, plan: Plan, now: datetime) -> None:
    ids = [HEAVY, *(user_id(n) for n in range(plan.users))]
    _insert(
        connection,
        users,
        (
            {
                "id": u,
                "email": f"{u}@bench.example",
                "email_key": f"{u}@bench.example",
                "created_at": now,
                "updated_at": now,
            }
            for u in ids
        ),
    )
    _insert(
        connection, wallets, ({"user_id": u, "balance": FUNDING, "updated_at": now} for u in ids)
    )
    _insert(connection, credit_lots, _lots(ids, plan, now))
    _insert(connection, ledger_entries, _entries(ids, plan, now))
    _insert(connection, webhook_events, _events(plan, now))
    _insert(connection, purchases, _purchases(ids, plan, now))
    _insert(connection, pending_grants, _pending(plan, now))
    _insert(connection, holds, _holds(ids, plan, now))


def _owner(pair: int, ids: list[str]) -> str:
    return HEAVY if pair % 2 else ids[1 + (pair // 2) % (len(ids) - 1)]


def _lots(ids: list[str], plan: Plan, now: datetime) -> Iterator[dict[str, Any]]:
    for pair in range(plan.entries // 2):
        yield _lot(pair + 1, _owner(pair, ids), 1, 0, None, now)
    for n, uid in enumerate(ids):
        yield _lot(plan.entries // 2 + 1 + n, uid, FUNDING, FUNDING, now + timedelta(days=30), now)


def _lot(
    lot_id: int, uid: str, credits: int, remaining: int, expires: datetime | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": lot_id,
        "user_id": uid,
        "source": "grant",
        "purchase_id": None,
        "reference": f"lot{lot_id}",
        "credits": credits,
        "remaining": remaining,
        "expires_at": expires,
        "created_at": now,
    }


def _entries(ids: list[str], plan: Plan, now: datetime) -> Iterator[dict[str, Any]]:
    start = now - timedelta(days=60)
    next_id = 1
    for pair in range(plan.entries // 2):
        uid = _owner(pair, ids)
        at = start + timedelta(seconds=pair)
        for kind, delta, after in (("grant", 1, 1), ("spend", -1, 0)):
            key = f"{kind}:{uid}:bench{pair}"
            yield _entry(next_id, uid, delta, after, kind, key, at)
            next_id += 1
    for uid in ids:
        yield _entry(next_id, uid, FUNDING, FUNDING, "grant", f"grant:{uid}:fund", now)
        next_id += 1


def _entry(
    entry_id: int, uid: str, delta: int, after: int, kind: str, key: str, at: datetime
) -> dict[str, Any]:
    return {
        "id": entry_id,
        "user_id": uid,
        "delta": delta,
        "balance_after": after,
        "kind": kind,
        "reference": key.rsplit(":", 1)[1],
        "reason": "bench history",
        "purchase_id": None,
        "idempotency_key": key,
        "created_at": at,
        "expires_at": None,
    }


def _events(plan: Plan, now: datetime) -> Iterator[dict[str, Any]]:
    spread = timedelta(hours=48) / plan.events
    for n in range(plan.events):
        session = samples.checkout_session(user_id=user_id(n % plan.users), session_id=f"cs_{n}")
        body = samples.event("checkout.session.completed", session, event_id=f"evt_{n}")
        status = OUTCOMES[n % len(OUTCOMES)]
        yield {
            "id": body["id"],
            "type": body["type"] if n % 10 else "charge.refunded",
            "livemode": False,
            "payload": json.dumps(body),
            "status": status,
            "error": None if status == "processed" else f"bench outcome {status}",
            "endpoint": "primary",
            "delivery_count": 1,
            "received_at": now - spread * n,
            "processed_at": now - spread * n,
        }


def _purchases(ids: list[str], plan: Plan, now: datetime) -> Iterator[dict[str, Any]]:
    for n in range(plan.purchases):
        pending = n % 20 == 0
        yield {
            "id": n + 1,
            "checkout_session_id": f"cs_{n}",
            "payment_intent_id": f"pi_{n}",
            "payment_state": "paid",
            "status": "paid" if n % 7 else "partially_refunded",
            "user_id": None if pending else ids[n % len(ids)],
            "email_key": f"new{n}@bench.example" if pending else None,
            "amount": 1000,
            "currency": "usd",
            "credits": 100,
            "payment_link": None,
            "amount_refunded": 0 if n % 7 else 300,
            "dispute_status": None,
            "credits_refunded": 0 if n % 7 else 30,
            "credits_held": 0,
            "credits_written_off": 0,
            "livemode": False,
            "created_at": now,
            "updated_at": now,
            "credited_at": None if pending else now,
            "invoice_id": f"in_{n}" if n % 10 == 1 else None,
            "credits_expire_at": now + timedelta(days=30) if n % 10 == 1 else None,
        }


def _pending(plan: Plan, now: datetime) -> Iterator[dict[str, Any]]:
    for n in range(0, plan.purchases, 20):
        yield {
            "purchase_id": n + 1,
            "user_id": None,
            "email_key": f"new{n}@bench.example",
            "credits": 100,
            "created_at": now,
            "claimed_at": None,
            "claimed_by": None,
        }


HOLD_STATUSES = ["captured"] * 16 + ["voided", "expired", "held", "lapsed"]


def _holds(ids: list[str], plan: Plan, now: datetime) -> Iterator[dict[str, Any]]:
    spread = timedelta(hours=48) / plan.holds
    for n in range(plan.holds):
        status = HOLD_STATUSES[n % len(HOLD_STATUSES)]
        opened = now - spread * n
        expires = now + timedelta(minutes=15) if status == "held" else opened + timedelta(minutes=1)
        captured = 1 if status == "captured" else 0
        yield {
            "id": f"hold_{n}",
            "user_id": HEAVY if (n // len(HOLD_STATUSES)) % 2 else ids[1 + n % (len(ids) - 1)],
            "credits": 2,
            "status": "held" if status == "lapsed" else status,
            "idempotency_key": f"hold:bench{n}",
            "reason": "bench job",
            "expires_at": expires,
            "created_at": opened,
            "closed_at": None if status in ("held", "lapsed") else opened,
            "captured": captured,
            "released": 0 if status in ("held", "lapsed") else 2 - captured,
        }


def _insert(connection: Connection, table: Table, rows: Iterator[dict[str, Any]]) -> None:
    while batch := list(islice(rows, BATCH)):
        connection.execute(insert(table), batch)


def moment() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
