"""The fulfilment of a new paid Checkout Session of a registered user as one statement.

Written for the experiment only: it writes what creditflow writes for that one case (the inbox
row, settled; the purchase, paid and credited; the ledger entry; the lot; the balance), so that
`creditflow audit` and the benchmark's checks pass, and nothing else (no pending grants, no
refunds, no other event). PostgreSQL only: SQLite has no data-modifying WITH.

Each step reads the one before it, which orders them: the inbox upsert is the duplicate check
(a re-sent event only counts one more delivery, as creditflow does for a settled one),
the purchase insert waits for a concurrent one of the same payment, the wallet is locked after
the purchase (creditflow's lock order) by the UPDATE that moves its balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from creditflow.domain.kinds import EntryKind, LotSource
from creditflow.domain.statuses import DeliveryStatus, PaymentState, PurchaseStatus

# psycopg's named placeholders: the bare app hands it to psycopg, the other app through
# SQLAlchemy's exec_driver_sql, which passes it on unchanged.
FULFIL = """
WITH stored AS (
    INSERT INTO webhook_events
        (id, type, livemode, payload, status, error, endpoint, delivery_count, received_at,
         processed_at)
    VALUES (%(event_id)s, %(event_type)s, %(livemode)s, %(payload)s, %(processed)s, NULL,
            %(endpoint)s, 1, %(now)s, %(now)s)
    ON CONFLICT (id) DO UPDATE SET delivery_count = webhook_events.delivery_count + 1
    RETURNING xmax = 0 AS first
), bought AS (
    INSERT INTO purchases
        (checkout_session_id, payment_intent_id, payment_state, status, user_id, email_key,
         amount, currency, credits, payment_link, amount_refunded, credits_refunded,
         credits_held, credits_written_off, livemode, created_at, updated_at, credited_at)
    SELECT %(session_id)s, %(payment_intent_id)s, %(paid)s, %(paid_status)s, users.id, %(email)s,
           %(amount)s, %(currency)s, %(credits)s, NULL, 0, 0, 0, 0, %(livemode)s,
           %(now)s, %(now)s, %(now)s
    FROM stored, users WHERE stored.first AND users.id = %(user_id)s
    ON CONFLICT DO NOTHING
    RETURNING id, user_id
), moved AS (
    UPDATE wallets SET balance = wallets.balance + %(credits)s, updated_at = %(now)s
    FROM bought WHERE wallets.user_id = bought.user_id
    RETURNING wallets.user_id, wallets.balance
), entered AS (
    INSERT INTO ledger_entries
        (user_id, delta, balance_after, kind, reference, reason, purchase_id, idempotency_key,
         created_at, expires_at)
    SELECT moved.user_id, %(credits)s, moved.balance, %(kind)s, %(session_id)s, %(reason)s,
           bought.id, 'purchase:' || bought.id || ':grant', %(now)s, NULL
    FROM bought JOIN moved USING (user_id)
    RETURNING purchase_id
), lot AS (
    INSERT INTO credit_lots
        (user_id, source, purchase_id, reference, credits, remaining, expires_at, created_at)
    SELECT bought.user_id, %(source)s, bought.id, %(session_id)s, %(credits)s, %(credits)s,
           NULL, %(now)s
    FROM bought JOIN entered ON entered.purchase_id = bought.id
    RETURNING id
)
SELECT (SELECT first FROM stored) AS first, (SELECT count(*) FROM lot) AS granted
"""


def parameters(event: Mapping[str, Any], payload: str, endpoint: str) -> dict[str, Any]:
    """FULFIL's values for a verified `checkout.session.completed` of the benchmark."""
    session = event["data"]["object"]
    credits = int(session["metadata"]["credits"])
    return {
        "event_id": event["id"],
        "event_type": event["type"],
        "livemode": bool(event.get("livemode", False)),
        "payload": payload,
        "endpoint": endpoint,
        "now": datetime.now(UTC),
        "session_id": session["id"],
        "payment_intent_id": session["payment_intent"],
        "user_id": session["client_reference_id"],
        "email": session["customer_details"]["email"].lower(),
        "amount": session["amount_total"],
        "currency": session["currency"],
        "credits": credits,
        "processed": DeliveryStatus.PROCESSED.value,
        "paid": PaymentState.PAID.value,
        "paid_status": PurchaseStatus.PAID.value,
        "kind": EntryKind.PURCHASE.value,
        "source": LotSource.PURCHASE.value,
        "reason": f"purchase of {credits} credits ({session['id']})",
    }
