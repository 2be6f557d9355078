"""The wallet's load and store (one round trip each on PostgreSQL, psycopg's pipeline) stay in
the unit of work's transaction: its lock held until the end, its writes undone unless
committed, and the connection left as psycopg would have left it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from creditflow.adapters.db import pipeline
from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.domain.kinds import EntryKind
from creditflow.domain.wallet import Posting
from creditflow.services.posting import post

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    with UnitOfWork(engine) as uow:
        uow.users.save("ada", None, None, NOW)
        uow.commit()
    yield engine
    engine.dispose()


def grant(credits: int, key: str) -> Posting:
    return Posting("ada", credits, EntryKind.GRANT, key, f"grant:ada:{key}", "a grant")


def test_a_posting_never_committed_leaves_neither_entry_nor_lot_nor_balance(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        post(uow, grant(5, "kept"), NOW)
        uow.commit()
    with UnitOfWork(engine) as uow:
        post(uow, grant(7, "dropped"), NOW)

    with UnitOfWork(engine) as uow:
        wallet = uow.wallets.load("ada", "grant:ada:dropped")
    assert (wallet.balance, [lot.remaining for lot in wallet.lots], wallet.entries) == (5, [5], {})


@pytest.mark.postgres_only
def test_the_load_begins_the_transaction_and_holds_the_wallet_lock_until_it_ends(
    postgres_url: str,
) -> None:
    engine = build_engine(postgres_url)
    other = create_engine(postgres_url)
    try:
        with UnitOfWork(engine) as uow:
            uow.users.save("ada", None, None, NOW)
            uow.commit()
        with UnitOfWork(engine) as uow:
            uow.wallets.load("ada")
            assert driver_state(uow) == (False, TransactionStatus.INTRANS)  # as psycopg's BEGIN
            with pytest.raises(OperationalError, match="could not obtain lock"):
                lock_wallet_nowait(other)
            uow.commit()
            assert driver_state(uow) == (False, TransactionStatus.IDLE)
        lock_wallet_nowait(other)
    finally:
        engine.dispose()
        other.dispose()


def driver_state(uow: UnitOfWork) -> tuple[bool, TransactionStatus]:
    """psycopg's autocommit, and where the connection is in its transaction."""
    driver = uow.connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver.autocommit, driver.info.transaction_status


def lock_wallet_nowait(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("SELECT 1 FROM wallets WHERE user_id = 'ada' FOR UPDATE NOWAIT"))


@pytest.mark.postgres_only
@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_a_pipeline_hands_timestamps_back_in_utc_whatever_the_session_time_zone(
    postgres_url: str, zone: str
) -> None:
    # build_engine's sessions are in UTC (nothing to convert); another engine's may not be.
    if zone == "UTC":
        engine = build_engine(postgres_url)
    else:
        engine = create_engine(postgres_url, connect_args={"options": f"-c TimeZone={zone}"})
    at = text("SELECT CAST(:at AS timestamptz) AS at, current_setting('TimeZone') AS zone")
    try:
        with engine.connect() as connection:
            [[row]] = pipeline.run_together(connection, [(at, {"at": NOW})])
    finally:
        engine.dispose()
    assert (row["zone"], row["at"], row["at"].tzinfo) == (zone, NOW, UTC)
