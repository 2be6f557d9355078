"""The inbox takes a delivery in one statement (adapters/db/repositories/inbox.py): a first one
stored, a redelivery counted on the stored row and answered with its recorded status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.domain.deliveries import Arrival
from creditflow.domain.statuses import DeliveryStatus

NOW = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


def arrive(engine: Engine, endpoint: str = "webhook") -> Arrival:
    with UnitOfWork(engine) as uow:
        arrival = uow.inbox.receive(
            event_id="evt_1",
            event_type="checkout.session.completed",
            livemode=False,
            payload="{}",
            endpoint=endpoint,
            now=NOW,
        )
        uow.commit()
    return arrival


def test_a_first_delivery_is_stored_as_not_yet_processed(engine: Engine) -> None:
    assert arrive(engine) == Arrival(first=True, status=DeliveryStatus.FAILED)


def test_a_redelivery_is_counted_and_reads_the_recorded_status(engine: Engine) -> None:
    arrive(engine)
    with UnitOfWork(engine) as uow:
        uow.inbox.record_outcome("evt_1", DeliveryStatus.PROCESSED, None, NOW)
        uow.commit()

    again = arrive(engine, endpoint="reconcile")

    assert again == Arrival(first=False, status=DeliveryStatus.PROCESSED)
    with UnitOfWork(engine) as uow:
        stored = uow.inbox.get("evt_1")
    assert stored is not None
    assert (stored.delivery_count, stored.endpoint, stored.payload) == (2, "reconcile", "{}")


def test_a_redelivery_of_a_failed_delivery_is_not_settled(engine: Engine) -> None:
    arrive(engine)

    again = arrive(engine)

    assert again == Arrival(first=False, status=DeliveryStatus.FAILED)
    assert not again.status.is_settled
