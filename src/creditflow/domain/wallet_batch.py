"""A batch's postings, folded into what a set-based store writes (docs/design.md, group commit).

`decide` returns one `Posted` per posting, each naming lots by id; a posting decided after an
earlier one of the same batch on the same wallet may take from a lot that earlier one opened,
which has no database id yet (ids below 1, domain/wallet.py). `combine` folds the batch into
what the tables end up holding: the entries in arrival order, each new lot with its final
credits, the net move of each stored lot, and each wallet's last balance. A store can then
write every table in one statement, and never needs an id the database has not given yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from creditflow.domain.kinds import LotSource
from creditflow.domain.wallet import NewEntry, NewLot, Posted, Refill


@dataclass(frozen=True)
class OpenedLot:
    """A lot opened in the batch, with what it holds once the whole batch is applied."""

    user_id: str
    source: LotSource
    purchase_id: int | None
    reference: str
    credits: int
    remaining: int
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class LotMove:
    """Credits added to a stored lot's `credits` and `remaining` (negative: taken)."""

    lot_id: int
    credits: int
    remaining: int


@dataclass(frozen=True)
class BalanceSet:
    user_id: str
    balance: int
    updated_at: datetime


@dataclass(frozen=True)
class BatchChanges:
    entries: tuple[NewEntry, ...]  # in arrival order: ids ascend as they are inserted
    opened: tuple[OpenedLot, ...]
    moved: tuple[LotMove, ...]  # sorted by lot id, so rows are updated in one order
    balances: tuple[BalanceSet, ...]  # sorted by user id, the wallets' lock order


def combine(batch: Sequence[Posted]) -> BatchChanges:
    """Fold `batch` (in the order it was decided) into the rows to write."""
    opened: dict[tuple[str, int], OpenedLot] = {}  # (user, unstored lot id) -> lot
    moved: dict[int, LotMove] = {}
    balances: dict[str, BalanceSet] = {}
    for posted in batch:
        user = posted.entry.user_id
        moves = [(lot_id, 0, -credits) for lot_id, credits in posted.takes]
        if isinstance(posted.lot, Refill):
            moves.append((posted.lot.lot_id, posted.lot.credits, posted.lot.credits))
        elif isinstance(posted.lot, NewLot):
            opened[(user, _opened_id(posted))] = _opened(posted, posted.lot)
        for lot_id, credits, remaining in moves:
            if lot_id < 1:
                lot = opened[(user, lot_id)]
                opened[(user, lot_id)] = replace(
                    lot, credits=lot.credits + credits, remaining=lot.remaining + remaining
                )
            else:
                was = moved.get(lot_id, LotMove(lot_id, 0, 0))
                moved[lot_id] = LotMove(lot_id, was.credits + credits, was.remaining + remaining)
        balances[user] = BalanceSet(user, posted.entry.balance_after, posted.entry.created_at)
    return BatchChanges(
        entries=tuple(posted.entry for posted in batch),
        opened=tuple(opened.values()),
        moved=tuple(moved[lot_id] for lot_id in sorted(moved)),
        balances=tuple(balances[user] for user in sorted(balances)),
    )


def _opened_id(posted: Posted) -> int:
    """The id the wallet's state gave the lot this posting opened: `decide` appends it last."""
    lot_id = posted.state.lots[-1].id
    assert lot_id < 1, "a lot opened by a posting is not stored yet"
    return lot_id


def _opened(posted: Posted, lot: NewLot) -> OpenedLot:
    return OpenedLot(
        user_id=posted.entry.user_id,
        source=lot.source,
        purchase_id=lot.purchase_id,
        reference=lot.reference,
        credits=lot.credits,
        remaining=lot.credits,
        expires_at=lot.expires_at,
        created_at=posted.entry.created_at,
    )
