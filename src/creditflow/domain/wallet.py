"""A wallet: its balance, the ledger entries that move it, and the lots its credits live in.

Every balance change is one ledger entry, identified by a key that makes it unique: posting the
same key twice is refused by the unique index, whatever the race (docs/design.md, the key
scheme). Credits live in lots; a spend consumes the lot that expires first and paid credits last.

Invariant (docs/design.md): the open lots' remaining credits add up to the balance when it is
positive, and to zero when the wallet is in debt (a refund took back credits already spent).
Credits added to a wallet in debt repay the debt before they fill a lot.

Load, decide, store: `decide` takes a wallet as loaded (`WalletState`, with its lock) and a
`Posting`, and returns what to store (`Posted`), or why nothing moves (`Replayed`,
`Conflicting`, `Refused`). It never waits on a database; `Posted.state` is the wallet after the
posting, so several postings to one wallet are decided in a row on one load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from creditflow.domain.kinds import ZERO_DELTA_KINDS, EntryKind, LotSource


@dataclass(frozen=True)
class Posting:
    """One balance change. Credits with a `purchase_id` go to (or come first from) that
    purchase's lot; other credits open a lot of their own, expiring at `expires_at`."""

    user_id: str
    delta: int
    kind: EntryKind
    reference: str
    key: str
    reason: str
    purchase_id: int | None = None
    expires_at: datetime | None = None
    from_lot: int | None = None
    allow_debt: bool = False
    reserved: int = 0  # held credits this posting releases and may use (a hold's capture)

    def __post_init__(self) -> None:
        if type(self.delta) is not int:
            raise ValueError("a ledger posting moves a whole number of credits")
        if self.delta == 0 and self.kind not in ZERO_DELTA_KINDS:
            raise ValueError(f"a {self.kind.value} posting moves a non-zero number of credits")
        if not self.reason.strip():
            raise ValueError("every ledger posting says why")


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    user_id: str
    delta: int
    balance_after: int
    kind: str
    reference: str
    reason: str
    created_at: datetime
    expires_at: datetime | None = None  # a grant's: part of what its idempotency key stands for


@dataclass(frozen=True)
class Lot:
    id: int
    source: LotSource
    remaining: int
    expires_at: datetime | None
    purchase_id: int | None


def _spend_order(lot: Lot) -> tuple[bool, datetime | None, bool, int]:
    expires = lot.expires_at
    return (expires is None, expires, lot.source is LotSource.PURCHASE, lot.id)


def plan_take(lots: Iterable[Lot], amount: int, prefer: int | None = None) -> list[tuple[int, int]]:
    """(lot id, credits) to take, `prefer`red lot first; less than `amount` if lots run out."""
    ordered: Sequence[Lot] = sorted(
        (lot for lot in lots if lot.remaining > 0),
        key=lambda lot: (lot.id != prefer, *_spend_order(lot)),
    )
    plan = []
    left = amount
    for lot in ordered:
        if left == 0:
            break
        take = min(left, lot.remaining)
        plan.append((lot.id, take))
        left -= take
    return plan


def credits_for_lots(delta: int, balance: int) -> int:
    """Of `delta` credits added to a wallet at `balance`, those left after repaying any debt."""
    return delta - min(delta, max(0, -balance))


def lots_hold_the_balance(balance: int, lots: Iterable[Lot]) -> bool:
    """The lots invariant (docs/design.md): open lots hold exactly the balance, none in debt."""
    return sum(lot.remaining for lot in lots) == max(balance, 0)


@dataclass(frozen=True)
class WalletState:
    """A wallet as loaded under its lock: what every decision about it reads.

    `lots` are its open lots, and the lot of the purchase it was loaded for even when empty (so
    credits given back to that purchase refill it). `entries` are the entries already posted
    under the keys it was loaded for. Ids below 1 name a lot or entry decided in this state's
    history but not stored yet (a batch's store maps them to the ids the database gives).
    `held` is what its live holds reserve (domain/holds.py): spends may use only `available`.
    """

    user_id: str
    balance: int
    lots: tuple[Lot, ...] = ()
    entries: Mapping[str, LedgerEntry] = field(default_factory=dict)
    held: int = 0

    @property
    def available(self) -> int:
        """What a spend or a new hold may use: the balance less the live holds."""
        return self.balance - self.held


@dataclass(frozen=True)
class NewEntry:
    """A ledger entry to insert; the database gives it its id."""

    user_id: str
    delta: int
    balance_after: int
    kind: EntryKind
    reference: str
    reason: str
    key: str
    created_at: datetime
    purchase_id: int | None = None
    expires_at: datetime | None = None

    def stored(self, entry_id: int) -> LedgerEntry:
        return LedgerEntry(
            id=entry_id,
            user_id=self.user_id,
            delta=self.delta,
            balance_after=self.balance_after,
            kind=self.kind.value,
            reference=self.reference,
            reason=self.reason,
            created_at=self.created_at,
            expires_at=self.expires_at,
        )


@dataclass(frozen=True)
class NewLot:
    source: LotSource
    credits: int
    reference: str
    purchase_id: int | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Refill:
    """Credits given back to a purchase's own lot (a refund reversed, a dispute returned)."""

    lot_id: int
    credits: int


@dataclass(frozen=True)
class Posted:
    """What to store: the entry, the credits taken from lots, the lot credits go to."""

    entry: NewEntry
    takes: tuple[tuple[int, int], ...]  # (lot id, credits)
    lot: NewLot | Refill | None
    state: WalletState  # the wallet once this is stored

    @property
    def balance(self) -> int:
        return self.state.balance


@dataclass(frozen=True)
class Replayed:
    """The key was posted before, for the same request: its original entry is the answer."""

    original: LedgerEntry


@dataclass(frozen=True)
class Conflicting:
    """The key was posted before for a different request: a client bug, never merged."""

    original: LedgerEntry


class Refusal(StrEnum):
    INSUFFICIENT_CREDITS = "insufficient_credits"
    ALREADY_EXPIRED = "already_expired"  # credits that would expire before they are granted


@dataclass(frozen=True)
class Refused:
    balance: int
    why: Refusal = Refusal.INSUFFICIENT_CREDITS
    available: int | None = None  # when holds, not the balance, made the credits too few


Decision = Posted | Replayed | Conflicting | Refused


def decide(state: WalletState, posting: Posting, now: datetime) -> Decision:
    """The one place a balance change is decided (docs/design.md, the wallet's invariants).

    A key already posted answers first, whatever the balance now (a spend made when there was
    enough is a replay, not a refusal); then a new posting must not take the wallet below
    zero unless it allows debt, nor spend credits held (beyond those it `reserved`).
    """
    if state.user_id != posting.user_id:
        raise ValueError(f"a posting to {posting.user_id} decided on {state.user_id}'s wallet")
    original = state.entries.get(posting.key)
    if original is not None:
        return Replayed(original) if same_request(original, posting) else Conflicting(original)
    if posting.expires_at is not None and posting.expires_at <= now:
        return Refused(state.balance, Refusal.ALREADY_EXPIRED)
    if posting.delta < 0 and not posting.allow_debt:
        if -posting.delta > state.balance:
            return Refused(state.balance)
        if -posting.delta > state.available + posting.reserved:
            return Refused(state.balance, available=state.available)
    balance = state.balance + posting.delta
    entry = NewEntry(
        user_id=posting.user_id,
        delta=posting.delta,
        balance_after=balance,
        kind=posting.kind,
        reference=posting.reference,
        reason=posting.reason,
        key=posting.key,
        created_at=now,
        purchase_id=posting.purchase_id,
        expires_at=posting.expires_at,
    )
    takes: tuple[tuple[int, int], ...] = ()
    lot: NewLot | Refill | None = None
    if posting.delta < 0:
        takes = tuple(plan_take(state.lots, -posting.delta, _preferred_lot(state, posting)))
    elif (credits := credits_for_lots(posting.delta, state.balance)) > 0:
        lot = _lot_for(state, posting, credits)
    after = _after(state, entry, takes, lot, posting.reserved)
    return Posted(entry=entry, takes=takes, lot=lot, state=after)


def same_request(original: LedgerEntry, posting: Posting) -> bool:
    """What a key stands for: the credits, the reason and (for a grant) the expiry."""
    return (original.delta, original.reason, original.expires_at) == (
        posting.delta,
        posting.reason,
        posting.expires_at,
    )


def _purchase_lot(state: WalletState, purchase_id: int | None) -> Lot | None:
    if purchase_id is None:
        return None
    return next((lot for lot in state.lots if lot.purchase_id == purchase_id), None)


def _preferred_lot(state: WalletState, posting: Posting) -> int | None:
    """An expiry empties its own lot; credits taken back for a purchase come from its lot."""
    if posting.from_lot is not None:
        return posting.from_lot
    lot = _purchase_lot(state, posting.purchase_id)
    return None if lot is None else lot.id


def _lot_for(state: WalletState, posting: Posting, credits: int) -> NewLot | Refill:
    """Credits for a purchase go back to its lot if it has one; others open a lot."""
    own = _purchase_lot(state, posting.purchase_id)
    if own is not None:
        return Refill(own.id, credits)
    source = LotSource.GRANT if posting.purchase_id is None else LotSource.PURCHASE
    return NewLot(source, credits, posting.reference, posting.purchase_id, posting.expires_at)


def _after(
    state: WalletState,
    entry: NewEntry,
    takes: tuple[tuple[int, int], ...],
    lot: NewLot | Refill | None,
    released: int,
) -> WalletState:
    moved = dict(takes)
    if isinstance(lot, Refill):
        moved[lot.lot_id] = -lot.credits
    lots = [replace(old, remaining=old.remaining - moved.get(old.id, 0)) for old in state.lots]
    if isinstance(lot, NewLot):
        unstored_id = min([0, *(old.id for old in state.lots)]) - 1
        lots.append(Lot(unstored_id, lot.source, lot.credits, lot.expires_at, lot.purchase_id))
    entry_id = min([0, *(old.id for old in state.entries.values())]) - 1
    entries = {**state.entries, entry.key: entry.stored(entry_id)}
    held = state.held - released
    return WalletState(state.user_id, entry.balance_after, tuple(lots), entries, held)
