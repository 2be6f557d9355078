"""Disputes: `charge.dispute.created` holds the purchase's remaining credits; closing it `won`
returns them, `lost` keeps them taken. A closed dispute is final.

Bodies are Stripe's derived dispute fixtures (one dispute of a 1000 usd charge at each step),
pointed at the purchase's PaymentIntent.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ClientFactory
from tests.support import (
    balance,
    delivered,
    ledger,
    money_back_event,
    paid_session_event,
    purchase_paid_by,
    register,
    register_and_buy,
    spend,
    story,
)

USER = "user_1"
CREATED = "charge_dispute_created.json"
WON = "charge_dispute_closed_won.json"
LOST = "charge_dispute_closed_lost.json"


def dispute(name: str, payment_intent_id: str, **fields: Any) -> dict[str, Any]:
    return money_back_event(name, payment_intent_id, **fields)


@pytest.fixture
def paid(client: TestClient) -> str:
    """`USER` bought 100 credits for 1000 cents; the PaymentIntent id."""
    return register_and_buy(client, USER)


def statuses_through(client: TestClient, intent: str, *events: dict[str, Any]) -> list[str]:
    """The purchase's status before and after each event."""
    seen = [purchase_paid_by(client, intent)["status"]]
    for event in events:
        delivered(client, event)
        seen.append(purchase_paid_by(client, intent)["status"])
    return seen


def test_a_dispute_won_holds_the_credits_then_returns_them(client: TestClient, paid: str) -> None:
    statuses = statuses_through(client, paid, dispute(CREATED, paid), dispute(WON, paid))

    assert statuses == ["paid", "disputed", "dispute_won"]
    assert balance(client, USER) == 100
    assert story(client, USER) == [
        ("purchase", 100),
        ("dispute_hold", -100),
        ("dispute_return", 100),
    ]
    assert purchase_paid_by(client, paid)["credits_held"] == 0


def test_a_dispute_lost_keeps_the_credits_taken(client: TestClient, paid: str) -> None:
    statuses = statuses_through(client, paid, dispute(CREATED, paid), dispute(LOST, paid))

    assert statuses == ["paid", "disputed", "dispute_lost"]
    assert balance(client, USER) == 0
    assert story(client, USER) == [("purchase", 100), ("dispute_hold", -100)]
    purchase = purchase_paid_by(client, paid)
    assert (purchase["credits_held"], purchase["dispute_status"]) == (100, "lost")


def test_an_open_dispute_holds_the_credits_and_says_why(client: TestClient, paid: str) -> None:
    assert delivered(client, dispute(CREATED, paid)) == "processed"

    assert balance(client, USER) == 0
    entry = ledger(client, USER)[0]
    assert (entry["kind"], entry["delta"]) == ("dispute_hold", -100)
    assert "dispute" in entry["reason"]
    assert "100 credits held" in entry["reason"]


def test_a_dispute_reported_again_while_open_holds_nothing_more(
    client: TestClient, paid: str
) -> None:
    created = dispute(CREATED, paid)
    delivered(client, created)

    again = [delivered(client, created), delivered(client, dispute(CREATED, paid))]

    assert again == ["duplicate", "duplicate"]
    assert story(client, USER) == [("purchase", 100), ("dispute_hold", -100)]


@pytest.mark.parametrize(("closed", "kept"), [(WON, 60), (LOST, 0)], ids=["won", "lost"])
def test_a_dispute_after_a_partial_refund_holds_only_what_the_refund_left(
    client: TestClient, paid: str, closed: str, kept: int
) -> None:
    delivered(client, money_back_event("charge_refunded_partial.json", paid))  # 40 of 100 back

    delivered(client, dispute(CREATED, paid))
    assert balance(client, USER) == 0
    delivered(client, dispute(closed, paid))

    assert balance(client, USER) == kept
    assert story(client, USER)[:3] == [("purchase", 100), ("refund", -40), ("dispute_hold", -60)]


def test_a_dispute_of_spent_credits_under_the_debt_policy_goes_negative_until_won(
    client: TestClient, paid: str
) -> None:
    spend(client, USER, 70, "gen_1")

    delivered(client, dispute(CREATED, paid))
    assert balance(client, USER) == -70
    delivered(client, dispute(WON, paid))

    assert balance(client, USER) == 30


def test_under_the_clamp_policy_a_dispute_of_spent_credits_holds_what_is_left_and_says_so(
    client_for: ClientFactory,
) -> None:
    client = client_for(refund_policy="clamp")
    intent = register_and_buy(client, USER)
    spend(client, USER, 70, "gen_1")

    delivered(client, dispute(CREATED, intent))
    assert balance(client, USER) == 0
    delivered(client, dispute(WON, intent))

    assert balance(client, USER) == 30
    assert story(client, USER)[-2:] == [("dispute_hold", -30), ("dispute_return", 30)]
    hold, returned = ledger(client, USER)[1], ledger(client, USER)[0]
    assert "70 not held" in hold["reason"]
    assert "70 not returned" in returned["reason"]


def test_under_the_clamp_policy_a_dispute_of_credits_all_spent_still_leaves_entries(
    client_for: ClientFactory,
) -> None:
    client = client_for(refund_policy="clamp")
    intent = register_and_buy(client, USER)
    spend(client, USER, 100, "gen_1")

    delivered(client, dispute(CREATED, intent))
    delivered(client, dispute(WON, intent))

    assert balance(client, USER) == 0
    assert story(client, USER)[-2:] == [("dispute_hold", 0), ("dispute_return", 0)]


@pytest.mark.parametrize("closed", [WON, LOST], ids=["won", "lost"])
@pytest.mark.parametrize("late_type", ["charge.dispute.created", "charge.dispute.updated"])
def test_a_closed_dispute_is_final_whatever_arrives_after_it(
    client: TestClient, paid: str, closed: str, late_type: str
) -> None:
    """A late `created` (another event id, or an `updated` still saying `needs_response`) must
    not reopen a dispute that was won or lost: that would hold the credits again."""
    delivered(client, dispute(CREATED, paid))
    delivered(client, dispute(closed, paid))
    settled = (balance(client, USER), story(client, USER), purchase_paid_by(client, paid))
    late = dispute(CREATED, paid)
    late["type"] = late_type

    assert delivered(client, late) == "duplicate"

    assert (balance(client, USER), story(client, USER), purchase_paid_by(client, paid)) == settled


def test_a_dispute_closed_before_its_created_event_arrives_holds_nothing(
    client: TestClient, paid: str
) -> None:
    statuses = statuses_through(client, paid, dispute(WON, paid), dispute(CREATED, paid))

    assert statuses == ["paid", "dispute_won", "dispute_won"]
    assert story(client, USER) == [("purchase", 100)]


def test_a_lost_dispute_arriving_first_takes_the_credits_back(
    client: TestClient, paid: str
) -> None:
    delivered(client, dispute(LOST, paid))

    assert balance(client, USER) == 0
    assert purchase_paid_by(client, paid)["status"] == "dispute_lost"


def test_an_inquiry_closed_without_a_chargeback_returns_the_credits_like_a_win(
    client: TestClient, paid: str
) -> None:
    delivered(client, dispute(CREATED, paid))

    delivered(client, dispute(WON, paid, status="warning_closed"))

    assert balance(client, USER) == 100
    assert purchase_paid_by(client, paid)["status"] == "dispute_won"


def test_a_refund_during_an_open_dispute_moves_held_credits_to_refunded(
    client: TestClient, paid: str
) -> None:
    """A full refund while the dispute is open: the credits are refunded instead of held; lost
    afterwards, nothing more is taken."""
    delivered(client, dispute(CREATED, paid))

    delivered(client, money_back_event("charge_refunded_full.json", paid))
    delivered(client, dispute(LOST, paid))

    assert balance(client, USER) == 0
    assert story(client, USER) == [
        ("purchase", 100),
        ("dispute_hold", -100),
        ("dispute_return", 100),
        ("refund", -100),
    ]
    assert "released" in ledger(client, USER)[1]["reason"]
    purchase = purchase_paid_by(client, paid)
    assert (purchase["credits_refunded"], purchase["credits_held"]) == (100, 0)


def test_a_dispute_before_the_purchases_own_event_is_applied_when_it_arrives(
    client: TestClient,
) -> None:
    register(client, USER)
    intent = "pi_disputed_before_paid"
    assert delivered(client, dispute(CREATED, intent)) == "processed"
    assert purchase_paid_by(client, intent)["status"] == "unmatched"

    delivered(client, paid_session_event(user_id=USER, credits=100, payment_intent_id=intent))

    assert balance(client, USER) == 0
    assert story(client, USER) == [("purchase", 100), ("dispute_hold", -100)]
    assert purchase_paid_by(client, intent)["status"] == "disputed"
    delivered(client, dispute(WON, intent))
    assert balance(client, USER) == 100
