"""Holds: credits reserved before the work, captured (in part) once its cost is known.

A hold moves no credits: it lowers what the wallet can still spend (`WalletState.available` is
the balance less its live holds) until it is captured, voided or expires. Only a capture moves
credits, through one spend entry referencing the hold (keys.hold_capture_key), posted with the
hold's credits `reserved` so it may use what it releases. A hold past `expires_at` stops
counting at once, whatever a sweeper has marked (`is_live`).

A live hold's capture never fails for lack of credits: spends, new holds and lot expiry all
stop at `available` (docs/design.md, holds). Only a refund, which may take a wallet into debt,
can leave less than the holds; a capture then takes what is left, never below zero, and says
in its reason what it could not collect.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from creditflow.domain.keys import hold_capture_key
from creditflow.domain.kinds import EntryKind
from creditflow.domain.wallet import Posting, Refused, WalletState
from creditflow.errors import Conflict, ExceedsHold, HoldClosed, InvalidRequest

DEFAULT_EXPIRY = 900  # seconds
MAX_EXPIRY = 86_400  # a day: a hold is for work in progress, not a standing reservation


class HoldStatus(StrEnum):
    HELD = "held"
    CAPTURED = "captured"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Hold:
    id: str
    user_id: str
    credits: int
    status: HoldStatus
    key: str
    reason: str
    expires_at: datetime
    created_at: datetime
    captured: int = 0  # credits the capture took from the wallet
    released: int = 0  # credits given back to `available` by a capture or a void

    @property
    def requested(self) -> int:
        """What the capture asked for: what it took, plus any shortfall a refund caused."""
        return self.credits - self.released


@dataclass(frozen=True)
class HoldTotals:
    """Every hold ever opened, by how it closed, and what the live ones reserve now (metrics).

    A hold past its expiry counts as expired before the sweeper marks it, as readers see it."""

    opened: int = 0
    captured: int = 0
    voided: int = 0
    expired: int = 0
    credits_held: int = 0


def is_live(hold: Hold, now: datetime) -> bool:
    """Counted in `held`: not closed, and not past its expiry (judged now, not by a sweeper)."""
    return hold.status is HoldStatus.HELD and now < hold.expires_at


def status_at(hold: Hold, now: datetime) -> HoldStatus:
    """The status a reader sees: a hold past its expiry is expired before the sweeper says so."""
    if hold.status is HoldStatus.HELD and not is_live(hold, now):
        return HoldStatus.EXPIRED
    return hold.status


def expiry_after(seconds: int | None, now: datetime) -> datetime:
    if seconds is None:
        seconds = DEFAULT_EXPIRY
    if type(seconds) is not int or not 0 < seconds <= MAX_EXPIRY:
        raise InvalidRequest(f"expires_in_seconds must be a whole number from 1 to {MAX_EXPIRY}")
    return now + timedelta(seconds=seconds)


def open_hold(
    state: WalletState,
    *,
    hold_id: str,
    key: str,
    credits: int,
    reason: str,
    expires_at: datetime,
    now: datetime,
) -> Hold | Refused:
    """A new hold, or Refused when the wallet's `available` credits are fewer."""
    if credits > state.available:
        return Refused(state.balance, available=state.available)
    return Hold(
        id=hold_id,
        user_id=state.user_id,
        credits=credits,
        status=HoldStatus.HELD,
        key=key,
        reason=reason,
        expires_at=expires_at,
        created_at=now,
    )


@dataclass(frozen=True)
class Capture:
    """What a capture stores: the hold closed, and the spend (None if nothing was collected)."""

    hold: Hold
    posting: Posting | None


@dataclass(frozen=True)
class HoldReplayed:
    """The same capture or void again: the hold as the first one left it."""

    hold: Hold


def capture(
    hold: Hold, state: WalletState, credits: int | None, now: datetime
) -> Capture | HoldReplayed:
    """Capture `credits` (all of the hold if None) and release the rest.

    Decided on the wallet loaded under its lock, this hold counted in its `held`: the spend
    takes at most what the wallet can give without touching other live holds, never below
    zero, so it is never refused.
    """
    requested = hold.credits if credits is None else credits
    if hold.status is HoldStatus.CAPTURED:
        if requested == hold.requested:
            return HoldReplayed(hold)
        raise Conflict(
            f"hold {hold.id} was captured for {hold.requested} credits, not {requested}",
            status=hold.status.value,
        )
    _require_live(hold, now)
    if type(requested) is not int or requested < 0:
        raise InvalidRequest("credits must be a whole number, at least 0")
    if requested > hold.credits:
        raise ExceedsHold(
            f"hold {hold.id} holds {hold.credits} credits, {requested} asked",
            held=hold.credits,
        )
    collect = min(requested, max(0, state.available + hold.credits))
    closed = replace(
        hold, status=HoldStatus.CAPTURED, captured=collect, released=hold.credits - requested
    )
    if collect == 0:
        return Capture(closed, None)
    reason = f"{hold.reason} (hold {hold.id}: {requested} of {hold.credits} captured)"
    if collect < requested:
        reason += f"; {requested - collect} not collected: a refund left too few credits"
    posting = Posting(
        user_id=hold.user_id,
        delta=-collect,
        kind=EntryKind.SPEND,
        reference=hold.id,
        key=hold_capture_key(hold.id),
        reason=reason,
        reserved=hold.credits,
    )
    return Capture(closed, posting)


def void(hold: Hold, now: datetime) -> Hold | HoldReplayed:
    """Release every credit of the hold; voiding it again answers the first void."""
    if hold.status is HoldStatus.VOIDED:
        return HoldReplayed(hold)
    _require_live(hold, now)
    return replace(hold, status=HoldStatus.VOIDED, released=hold.credits)


def _require_live(hold: Hold, now: datetime) -> None:
    status = status_at(hold, now)
    if status is not HoldStatus.HELD:
        raise HoldClosed(f"hold {hold.id} is {status.value}", status=status.value)
