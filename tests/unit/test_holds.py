"""Holds as pure decisions: what a hold, a capture and a void do to a wallet as loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from creditflow.domain.holds import (
    DEFAULT_EXPIRY,
    MAX_EXPIRY,
    Capture,
    Hold,
    HoldReplayed,
    HoldStatus,
    capture,
    expiry_after,
    is_live,
    open_hold,
    status_at,
    void,
)
from creditflow.domain.kinds import EntryKind, LotSource
from creditflow.domain.wallet import Lot, Posted, Posting, Refused, WalletState, decide
from creditflow.errors import Conflict, ExceedsHold, HoldClosed, InvalidRequest

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(seconds=DEFAULT_EXPIRY)


def wallet(balance: int, held: int = 0) -> WalletState:
    lots = (Lot(1, LotSource.GRANT, balance, None, None),) if balance > 0 else ()
    return WalletState("u", balance, lots, held=held)


def hold(credits: int = 30, status: HoldStatus = HoldStatus.HELD, **fields: int) -> Hold:
    return Hold("hold_1", "u", credits, status, "hold:u:k", "a job", LATER, NOW, **fields)


def spend(credits: int) -> Posting:
    return Posting("u", -credits, EntryKind.SPEND, "s", "spend:u:s", "a chat")


def test_available_is_the_balance_less_the_live_holds() -> None:
    assert wallet(100, held=30).available == 70


def test_a_hold_within_available_is_opened_held_with_its_expiry() -> None:
    opened = open_hold(
        wallet(100, 60), hold_id="h", key="k", credits=40, reason="r", expires_at=LATER, now=NOW
    )
    assert isinstance(opened, Hold)
    assert (opened.status, opened.credits, opened.expires_at) == (HoldStatus.HELD, 40, LATER)


def test_a_hold_beyond_available_is_refused_with_the_balance_and_available() -> None:
    refused = open_hold(
        wallet(100, 61), hold_id="h", key="k", credits=40, reason="r", expires_at=LATER, now=NOW
    )
    assert refused == Refused(100, available=39)


def test_the_expiry_defaults_to_fifteen_minutes_and_is_at_most_a_day() -> None:
    assert expiry_after(None, NOW) == NOW + timedelta(seconds=900)
    assert expiry_after(MAX_EXPIRY, NOW) == NOW + timedelta(days=1)
    for bad in (0, -1, MAX_EXPIRY + 1):
        with pytest.raises(InvalidRequest):
            expiry_after(bad, NOW)


def test_a_hold_stops_being_live_at_its_expiry_before_any_sweeper_runs() -> None:
    assert is_live(hold(), LATER - timedelta(microseconds=1))
    assert not is_live(hold(), LATER)
    assert status_at(hold(), LATER) is HoldStatus.EXPIRED


def test_a_spend_may_use_only_the_credits_not_held() -> None:
    assert decide(wallet(100, held=30), spend(71), NOW) == Refused(100, available=70)
    assert isinstance(decide(wallet(100, held=30), spend(70), NOW), Posted)


def test_a_capture_of_part_spends_it_from_the_held_credits_and_releases_the_rest() -> None:
    state = wallet(100, held=100)
    done = capture(hold(credits=100), state, 60, NOW)
    assert isinstance(done, Capture)
    assert done.posting is not None
    assert (done.hold.status, done.hold.captured, done.hold.released) == ("captured", 60, 40)
    posted = decide(state, done.posting, NOW)
    assert isinstance(posted, Posted)
    assert (posted.balance, posted.state.held, posted.entry.kind) == (40, 0, EntryKind.SPEND)
    assert posted.entry.reference == "hold_1"


def test_a_capture_without_credits_takes_the_whole_hold() -> None:
    done = capture(hold(credits=30), wallet(100, 30), None, NOW)
    assert isinstance(done, Capture)
    assert done.posting is not None
    assert (done.posting.delta, done.hold.released) == (-30, 0)


def test_a_capture_beyond_the_hold_is_refused() -> None:
    with pytest.raises(ExceedsHold):
        capture(hold(credits=30), wallet(100, 30), 31, NOW)


def test_the_same_capture_again_is_a_replay_and_another_amount_a_conflict() -> None:
    captured = hold(credits=30, status=HoldStatus.CAPTURED, captured=20, released=10)
    assert capture(captured, wallet(80), 20, NOW) == HoldReplayed(captured)
    with pytest.raises(Conflict):
        capture(captured, wallet(80), 25, NOW)


def test_a_capture_after_a_void_or_after_expiry_names_the_status() -> None:
    for closed, now in ((hold(status=HoldStatus.VOIDED), NOW), (hold(), LATER)):
        with pytest.raises(HoldClosed) as refused:
            capture(closed, wallet(100, 30), 10, now)
        assert refused.value.details["status"] in ("voided", "expired")


def test_a_capture_after_a_refund_undercut_the_balance_takes_what_is_left() -> None:
    done = capture(hold(credits=30), wallet(12, held=30), 25, NOW)
    assert isinstance(done, Capture)
    assert done.posting is not None
    assert done.posting.delta == -12
    assert "13 not collected" in done.posting.reason
    assert decide(wallet(12, held=30), done.posting, NOW).balance == 0  # type: ignore[union-attr]


def test_a_capture_leaves_other_live_holds_their_credits() -> None:
    done = capture(hold(credits=30), wallet(40, held=50), 30, NOW)
    assert isinstance(done, Capture)
    assert done.posting is not None
    assert done.posting.delta == -20  # 20 stay for the other hold


def test_a_capture_with_nothing_left_to_collect_closes_the_hold_without_an_entry() -> None:
    done = capture(hold(credits=30), wallet(0, held=30), 30, NOW)
    assert isinstance(done, Capture)
    assert (done.posting, done.hold.captured, done.hold.status) == (None, 0, "captured")


def test_a_void_releases_every_credit_and_again_answers_the_first_void() -> None:
    voided = void(hold(credits=30), NOW)
    assert isinstance(voided, Hold)
    assert (voided.status, voided.released) == (HoldStatus.VOIDED, 30)
    assert void(voided, NOW) == HoldReplayed(voided)


def test_a_void_after_a_capture_is_refused() -> None:
    with pytest.raises(HoldClosed):
        void(hold(status=HoldStatus.CAPTURED, captured=30), NOW)
