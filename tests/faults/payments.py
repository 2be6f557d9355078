"""The fault tests' workload (payments and their deliveries) and what must hold afterwards.

Each payment is a paid Checkout Session of its own. Stripe sends its `checkout.session.completed`;
a share of them twice (the same event again, as Stripe does when an answer was lost) and a share
also as `async_payment_succeeded` (another event about the same payment). Whatever the faults,
every payment must end up credited exactly once.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, func, select

from creditflow.adapters.db.tables import ledger_entries, purchases, wallets, webhook_events
from creditflow.adapters.stripe import samples
from creditflow.domain.kinds import EntryKind
from creditflow.domain.statuses import DeliveryStatus
from tests.faults.stripe_like import Answer
from tests.support import assert_ledger_matches_balances

RESENT_SHARE = 0.1  # deliveries of the same event again
SECOND_EVENT_SHARE = 0.1  # payments also announced by `async_payment_succeeded`
SETTLED = {status.value for status in DeliveryStatus if status.is_settled}


@dataclass(frozen=True)
class Payment:
    user_id: str
    credits: int
    session: dict[str, Any]

    @property
    def session_id(self) -> str:
        return str(self.session["id"])


def new_payments(rng: random.Random, users: Sequence[str], count: int) -> list[Payment]:
    payments = []
    for _ in range(count):
        user_id, credits = rng.choice(users), rng.randint(1, 500)
        session = samples.checkout_session(user_id=user_id, credits=credits, amount=credits * 10)
        payments.append(Payment(user_id, credits, session))
    return payments


def deliveries_of(rng: random.Random, payments: Iterable[Payment]) -> list[dict[str, Any]]:
    """Every payment's events, with Stripe's duplicates, in a shuffled order."""
    events = []
    for payment in payments:
        completed = samples.event("checkout.session.completed", payment.session)
        events.append(completed)
        if rng.random() < RESENT_SHARE:
            events.append(completed)
        if rng.random() < SECOND_EVENT_SHARE:
            succeeded = "checkout.session.async_payment_succeeded"
            events.append(samples.event(succeeded, payment.session))
    rng.shuffle(events)
    return events


def assert_credited_exactly_once(
    database_url: str, payments: Sequence[Payment], answers: Sequence[Answer]
) -> None:
    """Every payment has one purchase with one `purchase` ledger entry of its credits; every
    wallet holds its payments' credits and equals its ledger; every event answered 200 is stored
    with a settled outcome (never a 200 for a delivery that was not recorded); `creditflow audit`
    finds nothing."""
    engine = create_engine(database_url)
    session_ids = [payment.session_id for payment in payments]
    with engine.connect() as connection:
        grants = connection.execute(
            select(
                purchases.c.checkout_session_id,
                func.count(ledger_entries.c.id),
                func.coalesce(func.sum(ledger_entries.c.delta), 0),
            )
            .select_from(purchases)
            .outerjoin(
                ledger_entries,
                (ledger_entries.c.purchase_id == purchases.c.id)
                & (ledger_entries.c.kind == EntryKind.PURCHASE.value),
            )
            .where(purchases.c.checkout_session_id.in_(session_ids))
            .group_by(purchases.c.checkout_session_id)
        ).all()
        balances = dict(connection.execute(select(wallets.c.user_id, wallets.c.balance)).all())
        answered_200 = {answer.event_id for answer in answers if answer.status == 200}
        stored = dict(
            connection.execute(
                select(webhook_events.c.id, webhook_events.c.status).where(
                    webhook_events.c.id.in_(answered_200)
                )
            ).all()
        )
    engine.dispose()

    credited = {session_id: (count, total) for session_id, count, total in grants}
    expected = {payment.session_id: (1, payment.credits) for payment in payments}
    wrong = {sid: credited.get(sid) for sid in expected if credited.get(sid) != expected[sid]}
    assert wrong == {}, f"payments not credited exactly once, (entries, credits): {wrong}"
    owed: Counter[str] = Counter()
    for payment in payments:
        owed[payment.user_id] += payment.credits
    assert {user: balances.get(user) for user in owed} == dict(owed)
    unsettled = {event_id: stored.get(event_id) for event_id in answered_200}
    assert {k: v for k, v in unsettled.items() if v not in SETTLED} == {}, "200 but not settled"
    assert_ledger_matches_balances(database_url)
    assert_creditflow_audit_clean(database_url)


def assert_creditflow_audit_clean(database_url: str) -> None:
    """`creditflow audit` itself, as an operator runs it after an incident: exit status 0."""
    result = subprocess.run(
        [sys.executable, "-m", "creditflow", "audit", "--json"],
        env={**os.environ, "CREDITFLOW_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"creditflow audit: {result.stderr}{result.stdout}"
