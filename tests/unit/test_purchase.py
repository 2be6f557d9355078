"""The life of a purchase (domain/purchase.py `advance`): pure rules, no I/O."""

from __future__ import annotations

import itertools

import pytest

from creditflow.domain.payments import PaymentSignal
from creditflow.domain.purchase import advance
from creditflow.domain.statuses import PaymentState

EVERY_STATE: list[PaymentState | None] = [None, *PaymentState]


@pytest.mark.parametrize("signal", list(PaymentSignal))
def test_paid_is_never_left_and_never_grants_again(signal: PaymentSignal) -> None:
    step = advance(PaymentState.PAID, signal)

    assert step.state is PaymentState.PAID
    assert not step.grants_credits


@pytest.mark.parametrize(
    "current", [state for state in EVERY_STATE if state is not PaymentState.PAID]
)
def test_money_received_wins_over_any_earlier_news_and_grants(
    current: PaymentState | None,
) -> None:
    step = advance(current, PaymentSignal.PAID)

    assert step.state is PaymentState.PAID
    assert step.grants_credits


@pytest.mark.parametrize(("current", "signal"), list(itertools.product(EVERY_STATE, PaymentSignal)))
def test_only_the_step_into_paid_grants_credits(
    current: PaymentState | None, signal: PaymentSignal
) -> None:
    step = advance(current, signal)

    assert step.grants_credits == (
        current is not PaymentState.PAID and step.state is PaymentState.PAID
    )


@pytest.mark.parametrize("current", [PaymentState.FAILED, PaymentState.EXPIRED])
def test_a_late_unpaid_completed_does_not_undo_a_failure_or_an_expiry(
    current: PaymentState,
) -> None:
    assert advance(current, PaymentSignal.AWAITING).state is current


@pytest.mark.parametrize(
    ("signal", "state"),
    [
        (PaymentSignal.AWAITING, PaymentState.AWAITING_PAYMENT),
        (PaymentSignal.FAILED, PaymentState.FAILED),
        (PaymentSignal.EXPIRED, PaymentState.EXPIRED),
    ],
)
def test_a_first_event_without_money_records_its_state_and_grants_nothing(
    signal: PaymentSignal, state: PaymentState
) -> None:
    for current in (None, PaymentState.UNMATCHED):
        step = advance(current, signal)
        assert (step.state, step.grants_credits) == (state, False)


def test_a_failure_after_awaiting_payment_marks_the_purchase_failed() -> None:
    step = advance(PaymentState.AWAITING_PAYMENT, PaymentSignal.FAILED)

    assert (step.state, step.grants_credits) == (PaymentState.FAILED, False)
