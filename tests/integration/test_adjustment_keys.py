"""Refund and dispute entries are keyed by the Stripe event that caused them (domain/keys.py).

Ledgers written before hold `purchase:{id}:adjustment:{n}` keys, numbered by a count of the
purchase's entries; those stay valid. Replaying the event that wrote one must post nothing
again: what guards it is the purchase's recorded targets (credits_refunded, credits_held), since
the new key of the same movement is not the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from creditflow.adapters.db.tables import ledger_entries
from creditflow.domain import keys
from tests.support import (
    balance,
    delivered,
    money_back_event,
    purchase_paid_by,
    register_and_buy,
    replay,
    story,
)

USER = "user_1"
REFUND_ID = "re_1Pgc72B7WZ01zgkWqPvrRrPE"  # the refund object of the derived fixtures


def refund(intent: str, *, status: str = "succeeded") -> dict[str, Any]:
    event_type = "refund.created" if status == "succeeded" else "refund.updated"
    event = money_back_event(
        "refund_created_partial.json", intent, id=REFUND_ID, amount=400, status=status
    )
    event["type"] = event_type
    return event


def charge_refunded(intent: str) -> dict[str, Any]:
    return money_back_event("charge_refunded_partial.json", intent, amount_refunded=400)


def dispute_created(intent: str) -> dict[str, Any]:
    return money_back_event("charge_dispute_created.json", intent)


def keys_of(database_url: str, purchase_id: int) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = (
                select(ledger_entries.c.idempotency_key)
                .where(ledger_entries.c.purchase_id == purchase_id)
                .order_by(ledger_entries.c.id)
            )
            return list(connection.execute(query).scalars())
    finally:
        engine.dispose()


@contextmanager
def numbered_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """While active, movements are keyed as before: the first adjustment of a purchase (whose
    grant is its entry 0) as `purchase:{id}:adjustment:1`, as an earlier version wrote it.
    (Ledger entries are append-only: the key cannot be rewritten after the fact.)"""

    def numbered(purchase_id: int, kind: str, event_id: str) -> str:
        return f"purchase:{purchase_id}:adjustment:1"

    with monkeypatch.context() as patch:
        patch.setattr(keys, "purchase_adjustment_key", numbered)
        yield


def test_a_refund_and_its_cancellation_are_keyed_by_the_events_that_caused_them(
    client: TestClient, database_url: str
) -> None:
    intent = register_and_buy(client, USER)
    created, canceled = refund(intent), refund(intent, status="canceled")
    delivered(client, created)
    delivered(client, canceled)

    purchase_id = purchase_paid_by(client, intent)["id"]
    assert keys_of(database_url, purchase_id) == [
        f"purchase:{purchase_id}:grant",
        f"purchase:{purchase_id}:refund:{created['id']}",
        f"purchase:{purchase_id}:refund_reversal:{canceled['id']}",
    ]


@pytest.mark.parametrize(
    ("event_of", "kind", "after"),
    [(refund, "refund", 60), (charge_refunded, "refund", 60), (dispute_created, "dispute_hold", 0)],
)
def test_replaying_an_event_whose_entry_has_an_old_numbered_key_posts_nothing_again(
    client: TestClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    event_of: Callable[[str], dict[str, Any]],
    kind: str,
    after: int,
) -> None:
    intent = register_and_buy(client, USER)
    event = event_of(intent)
    with numbered_keys(monkeypatch):
        assert delivered(client, event) == "processed"
    purchase_id = purchase_paid_by(client, intent)["id"]
    old_key = f"purchase:{purchase_id}:adjustment:1"

    assert replay(client, event["id"])["status"] == "duplicate"
    assert delivered(client, {**event, "id": event["id"] + "_again"}) == "duplicate"

    assert balance(client, USER) == after
    assert story(client, USER) == [("purchase", 100), (kind, after - 100)]
    assert keys_of(database_url, purchase_id) == [
        f"purchase:{purchase_id}:grant",
        old_key,
    ]


def test_after_an_old_numbered_entry_the_next_movement_posts_under_its_event_key(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    intent = register_and_buy(client, USER)
    with numbered_keys(monkeypatch):
        delivered(client, refund(intent))
    purchase_id = purchase_paid_by(client, intent)["id"]
    old_key = f"purchase:{purchase_id}:adjustment:1"

    canceled = refund(intent, status="canceled")
    assert delivered(client, canceled) == "processed"

    assert balance(client, USER) == 100
    assert keys_of(database_url, purchase_id)[1:] == [
        old_key,
        f"purchase:{purchase_id}:refund_reversal:{canceled['id']}",
    ]
