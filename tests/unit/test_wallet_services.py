"""Spends, grants and expiry through the real services, on the in-memory unit of work: the money
rules without a database (the integration tests prove the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from creditflow.domain.wallet import LedgerEntry
from creditflow.errors import Conflict, InsufficientCredits, InvalidRequest, NotFound
from creditflow.services.expiry import ExpiredLot, ExpiryService
from creditflow.services.wallet_operations import WalletOperations
from tests.fakes.memory_uow import MemoryDatabase

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class World:
    """A memory database with one user and its services."""

    def __init__(self) -> None:
        self.database = MemoryDatabase()
        self.clock = Clock()
        self.wallets = WalletOperations(self.database.units_of_work(), self.clock)
        self.expiry = ExpiryService(self.database.units_of_work(), self.clock)
        with self.database.units_of_work()() as uow:
            uow.users.save("ada", None, None, NOW)
            uow.commit()

    def committed(self) -> list[LedgerEntry]:
        """The ledger as committed, in posting order."""
        return sorted(self.database.tables.entries.values(), key=lambda entry: entry.id)

    def balance(self) -> int:
        return self.database.tables.wallets["ada"].balance


@pytest.fixture
def world() -> World:
    return World()


def test_a_spend_takes_credits_and_commits_its_entry(world: World) -> None:
    world.wallets.grant("ada", 10, "g", "welcome", None)

    change = world.wallets.spend("ada", 4, "s", "a chat")

    assert (change.balance, change.replayed, world.balance()) == (6, False, 6)
    assert [entry.delta for entry in world.committed()] == [10, -4]


def test_a_spend_beyond_the_balance_is_refused_with_the_balance_and_moves_nothing(
    world: World,
) -> None:
    world.wallets.grant("ada", 3, "g", "welcome", None)

    with pytest.raises(InsufficientCredits) as refused:
        world.wallets.spend("ada", 4, "s", "a chat")

    assert refused.value.details == {"balance": 3}
    assert (world.balance(), len(world.committed())) == (3, 1)


def test_a_retried_spend_returns_the_original_even_once_the_balance_is_gone(world: World) -> None:
    world.wallets.grant("ada", 5, "g", "welcome", None)
    first = world.wallets.spend("ada", 5, "s", "a chat")

    again = world.wallets.spend("ada", 5, "s", "a chat")

    assert (again.entry, again.replayed, world.balance()) == (first.entry, True, 0)


def test_the_same_key_for_a_different_spend_is_a_conflict(world: World) -> None:
    world.wallets.grant("ada", 5, "g", "welcome", None)
    world.wallets.spend("ada", 2, "s", "a chat")

    with pytest.raises(Conflict):
        world.wallets.spend("ada", 3, "s", "a chat")


def test_an_unknown_wallet_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.wallets.spend("nobody", 1, "s", "a chat")


def test_a_grant_expiring_in_the_past_is_refused_unless_it_is_a_retry(world: World) -> None:
    soon = NOW + timedelta(hours=1)
    world.wallets.grant("ada", 5, "g", "promo", soon)
    world.clock.now = soon + timedelta(hours=1)

    assert world.wallets.grant("ada", 5, "g", "promo", soon).replayed
    with pytest.raises(InvalidRequest):
        world.wallets.grant("ada", 5, "other", "promo", soon)


def test_spends_take_promotional_credits_expiring_first_and_expiry_takes_the_rest(
    world: World,
) -> None:
    world.wallets.grant("ada", 10, "paid-like", "no expiry", None)
    world.wallets.grant("ada", 5, "promo", "promo", NOW + timedelta(days=1))
    world.wallets.spend("ada", 3, "s", "a chat")  # from the promotional lot
    world.clock.now = NOW + timedelta(days=2)

    expired = world.expiry.expire_due()

    assert [(lot.user_id, lot.credits) for lot in expired] == [("ada", 2)]
    assert world.balance() == 10
    assert world.expiry.expire_due() == []  # a lot expires once


def test_expiry_finds_nothing_to_take_from_a_lot_spent_meanwhile(world: World) -> None:
    world.wallets.grant("ada", 5, "promo", "promo", NOW + timedelta(days=1))
    world.wallets.spend("ada", 5, "s", "a chat")
    world.clock.now = NOW + timedelta(days=2)

    assert world.expiry.expire_due() == list[ExpiredLot]()
    assert world.balance() == 0
