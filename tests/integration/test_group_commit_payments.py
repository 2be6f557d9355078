"""The common case of a batch of deliveries settled set-based (services/batched_payments.py), on
a real database: paid payments for registered users, and their duplicates, decided in arrival
order on the batch's in-memory purchases and wallets; every other delivery on its own path in
the same transaction, with exactly its unbatched outcome; and a batch whose store fails run
again delivery by delivery, nothing credited twice."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select

from creditflow.adapters.db.tables import ledger_entries, pending_grants
from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.adapters.stripe import samples
from creditflow.bootstrap import Container, build_container
from creditflow.services.batched_deliveries import DeliveryBatcher, ReadDelivery
from creditflow.services.deliveries import Delivery, DeliveryResult
from creditflow.settings import WEBHOOK_PATH
from tests.support import (
    assert_database_audit_clean,
    assert_ledger_matches_balances,
    derived_event,
    make_settings,
    money_back_event,
    paid_session_event,
    paid_without_credits,
)

ROLES = ["a", "b", "c", "d", "e"]


@pytest.fixture
def services(database_url: str) -> Iterator[Container]:
    services = build_container(make_settings(database_url, group_commit=True))
    for tag in ("batched", "alone"):
        for role in ROLES[:-1]:
            services.users.register(f"{tag}-{role}", None)
        services.users.register(f"{tag}-e", f"{tag}-e@example.com")  # found by e-mail
    yield services
    services.close()
    assert_ledger_matches_balances(database_url)
    assert_database_audit_clean(database_url)


def batcher(services: Container) -> DeliveryBatcher:
    assert services.batched_deliveries is not None
    return services.batched_deliveries.batcher


def read(services: Container, events: Sequence[dict[str, Any]]) -> list[ReadDelivery]:
    interpret = services.deliveries.interpret
    return [ReadDelivery(Delivery.of(e, json.dumps(e), WEBHOOK_PATH), interpret(e)) for e in events]


def statuses(results: Sequence[DeliveryResult | Exception]) -> list[str]:
    return [r.status.value if isinstance(r, DeliveryResult) else repr(r) for r in results]


def balances(services: Container, tag: str) -> dict[str, int]:
    with UnitOfWork(services.engine) as uow:
        return {
            role: wallet.balance
            for role in ROLES
            if (wallet := uow.wallets.get(f"{tag}-{role}")) is not None
        }


def entries_of(services: Container, tag: str) -> int:
    with services.engine.connect() as connection:
        return connection.execute(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.user_id.like(f"{tag}-%"))
        ).scalar_one()


def again(original: dict[str, Any]) -> dict[str, Any]:
    """Another event about the same payment (Stripe sends one per endpoint, say)."""
    return {**original, "id": samples.new_id("evt")}


def test_two_payments_to_one_wallet_in_a_batch_see_each_other(services: Container) -> None:
    events = [paid_session_event(user_id="batched-a", credits=c) for c in (3, 4, 5)]

    results = batcher(services).run(read(services, events))

    assert statuses(results) == ["processed"] * 3
    assert balances(services, "batched")["a"] == 12
    with services.engine.connect() as connection:
        running = connection.execute(
            select(ledger_entries.c.balance_after)
            .where(ledger_entries.c.user_id == "batched-a")
            .order_by(ledger_entries.c.id)
        ).scalars()
        assert list(running) == [3, 7, 12]  # entries in arrival order, a running sum


def test_a_payment_and_its_duplicates_in_one_batch_grant_once(services: Container) -> None:
    original = paid_session_event(user_id="batched-b", credits=9)
    other = paid_session_event(user_id="batched-c", credits=2)
    events = [original, other, again(original), original]

    results = batcher(services).run(read(services, events))

    assert statuses(results) == ["processed", "processed", "duplicate", "duplicate"]
    assert [r.redelivered for r in results if isinstance(r, DeliveryResult)] == [
        False,
        False,
        False,
        True,
    ]
    assert balances(services, "batched") == {"a": 0, "b": 9, "c": 2, "d": 0, "e": 0}
    assert entries_of(services, "batched") == 2


def mixed(tag: str) -> list[dict[str, Any]]:
    """Common and uncommon deliveries interleaved, with fresh ids, for the users of `tag`."""
    refunded = paid_session_event(user_id=f"{tag}-a", credits=10)
    intent = refunded["data"]["object"]["payment_intent"]
    delayed = {"id": samples.new_id("cs"), "payment_intent": samples.new_id("pi")}
    later: dict[str, Any] = {
        "client_reference_id": f"{tag}-d",
        "metadata": {"credits": "30"},
        **delayed,
    }
    duplicated = paid_session_event(user_id=f"{tag}-b", credits=5)
    return [
        refunded,
        money_back_event("charge_refunded_full.json", intent),  # refunds the one before it
        duplicated,
        paid_session_event(user_id=f"{tag}-nobody", email=f"{tag}@example.com", credits=8),
        paid_session_event(user_id=f"{tag}-a", credits=3),
        derived_event(
            "checkout_session_completed_unpaid_delayed.json",
            event_id=samples.new_id("evt"),
            **later,
        ),
        paid_session_event(user_id=f"{tag}-a", credits=4),
        again(duplicated),
        _unpriced(f"{tag}-c"),
        derived_event(
            "checkout_session_async_payment_succeeded.json", event_id=samples.new_id("evt"), **later
        ),
        paid_session_event(user_id=f"{tag}-c", credits=6),
        duplicated,
        paid_session_event(user_id=None, email=f"{tag}-E@example.com", credits=11),
    ]


def _unpriced(user_id: str) -> dict[str, Any]:
    fresh = paid_without_credits(client_reference_id=user_id)
    fresh["id"] = samples.new_id("evt")
    fresh["data"]["object"].update(id=samples.new_id("cs"), payment_intent=samples.new_id("pi"))
    return fresh


def test_a_mixed_batch_gives_each_delivery_its_unbatched_outcome(services: Container) -> None:
    results = batcher(services).run(read(services, mixed("batched")))
    alone = [services.deliveries.receive(d.delivery) for d in read(services, mixed("alone"))]

    assert statuses(results) == statuses(alone)
    assert [r.error for r in results if isinstance(r, DeliveryResult)] == [r.error for r in alone]
    assert statuses(results) == [
        "processed",
        "processed",
        "processed",
        "processed",
        "processed",
        "processed",
        "processed",
        "duplicate",
        "needs_attention",
        "processed",
        "processed",
        "duplicate",
        "processed",
    ]
    assert balances(services, "batched") == balances(services, "alone")
    # No batch failed: what is not the common case was known before any write.
    assert (batcher(services).failed_batches, batcher(services).set_based_failures) == (0, 0)
    assert balances(services, "batched") == {"a": 7, "b": 5, "c": 6, "d": 30, "e": 11}
    assert entries_of(services, "batched") == entries_of(services, "alone")
    with services.engine.connect() as connection:
        parked = connection.execute(select(pending_grants.c.email_key)).scalars()
        assert sorted(parked) == ["alone@example.com", "batched@example.com"]


def test_a_batch_whose_store_fails_is_run_again_each_delivery_on_its_own_path(
    services: Container,
) -> None:
    failures: list[str] = []

    def fail_first_store(_connection: Connection, *args: Any) -> None:
        if args[1].startswith("INSERT INTO ledger_entries") and not failures:
            failures.append(args[1])
            raise RuntimeError("the store failed")

    event.listen(services.engine, "before_cursor_execute", fail_first_store)
    original = paid_session_event(user_id="batched-a", credits=2)
    events = [original, paid_session_event(user_id="batched-b", credits=3), again(original)]
    events += [paid_session_event(user_id="batched-a", credits=5)]

    results = batcher(services).run(read(services, events))

    assert failures  # the set-based store did fail, once
    assert batcher(services).set_based_failures == 1
    assert statuses(results) == ["processed", "processed", "duplicate", "processed"]
    assert balances(services, "batched") == {"a": 7, "b": 3, "c": 0, "d": 0, "e": 0}
    assert entries_of(services, "batched") == 3
    for result in results:
        assert isinstance(result, DeliveryResult)
        stored = services.queries.event(result.event_id)
        assert stored.status == result.status


def test_a_batch_stores_each_body_exactly_as_received(services: Container) -> None:
    awkward = paid_session_event(user_id="batched-a", credits=1)
    awkward["data"]["object"]["metadata"]["note"] = 'é ✓ "quoted" \\ back\\slash \n 𝄞'
    plain = paid_session_event(user_id="batched-b", credits=1)
    bodies = [json.dumps(awkward, ensure_ascii=False, indent=1), json.dumps(plain)]
    deliveries = [
        ReadDelivery(Delivery.of(e, body, WEBHOOK_PATH), services.deliveries.interpret(e))
        for e, body in zip([awkward, plain], bodies, strict=True)
    ]

    results = batcher(services).run(deliveries)

    assert statuses(results) == ["processed", "processed"]
    stored = [services.queries.event(e["id"]).payload for e in (awkward, plain)]
    assert stored == bodies
