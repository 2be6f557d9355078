"""The unit of work hands the ledger entries it committed to its listener (the metrics), and only
those: credits a rolled-back step or transaction took back are never reported."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial

import pytest

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from creditflow.domain.kinds import EntryKind
from creditflow.domain.wallet import LedgerEntry, Posting
from creditflow.errors import NeedsAttention
from creditflow.services.posting import post
from creditflow.services.unit_of_work import LedgerListener

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_entries_of_a_rolled_back_savepoint_are_not_reported(database_url: str) -> None:
    reported: list[LedgerEntry] = []
    with units_of_work(database_url, reported.extend) as new_uow, new_uow() as uow:
        uow.users.save("user_1", None, None, NOW)
        with pytest.raises(NeedsAttention):
            post_in_a_step_that_fails(uow, posting("rolled back", 5))
        post(uow, posting("kept", 3), NOW)
        assert reported == []  # not before the commit
        uow.commit()

    assert [(entry.reference, entry.delta) for entry in reported] == [("kept", 3)]


def test_a_transaction_never_committed_reports_nothing(database_url: str) -> None:
    reported: list[LedgerEntry] = []
    with units_of_work(database_url, reported.extend) as new_uow, new_uow() as uow:
        uow.users.save("user_1", None, None, NOW)
        post(uow, posting("abandoned", 5), NOW)

    assert reported == []


def posting(reference: str, credits: int) -> Posting:
    return Posting(
        user_id="user_1",
        delta=credits,
        kind=EntryKind.GRANT,
        reference=reference,
        key=f"test:{reference}",
        reason="test grant",
    )


def post_in_a_step_that_fails(uow: UnitOfWork, entry: Posting) -> None:
    with uow.savepoint():
        post(uow, entry, NOW)
        raise NeedsAttention("a later step refused")


@contextmanager
def units_of_work(database_url: str, on_commit: LedgerListener) -> Iterator[UnitOfWorkFactory]:
    engine = build_engine(database_url)
    try:
        yield partial(UnitOfWork, engine, on_commit=on_commit)
    finally:
        engine.dispose()
