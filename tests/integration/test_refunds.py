"""Refunds take back a purchase's credits in proportion to the money refunded, cumulatively.

Bodies are Stripe's derived refund fixtures (a charge of 1000 usd; `charge.refunded` carries the
charge's running total, `refund.*` one refund object), pointed at the purchase's PaymentIntent.
Whatever order they arrive in and however often, the ledger converges on the same numbers and
every movement is an entry that says why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from creditflow.adapters.db.tables import ledger_entries
from tests.conftest import ClientFactory
from tests.support import (
    balance,
    buy,
    delivered,
    error_of,
    ledger,
    money_back_event,
    paid_session_event,
    payment_intent_event,
    pending_grants,
    purchase_paid_by,
    register,
    register_and_buy,
    spend,
    story,
)

USER = "user_1"
REFUND_ID = "re_1Pgc72B7WZ01zgkWqPvrRrPE"  # the refund object of the derived fixtures


def charge_refunded(payment_intent_id: str, amount_refunded: int) -> dict[str, Any]:
    """`charge.refunded` for the 1000-cent charge, with its running total of refunds."""
    return money_back_event(
        "charge_refunded_partial.json", payment_intent_id, amount_refunded=amount_refunded
    )


def refund_event(
    payment_intent_id: str,
    *,
    event_type: str = "refund.created",
    refund_id: str = REFUND_ID,
    amount: int = 400,
    status: str = "succeeded",
) -> dict[str, Any]:
    """One refund object (`refund.created` / `refund.updated` / `refund.failed`)."""
    event = money_back_event(
        "refund_created_partial.json", payment_intent_id, id=refund_id, amount=amount, status=status
    )
    event["type"] = event_type
    return event


@pytest.fixture
def paid(client: TestClient) -> str:
    """`USER` bought 100 credits for 1000 cents; the PaymentIntent id."""
    return register_and_buy(client, USER)


def test_a_full_refund_takes_back_every_credit_and_marks_the_purchase_refunded(
    client: TestClient, paid: str
) -> None:
    assert delivered(client, money_back_event("charge_refunded_full.json", paid)) == "processed"

    assert balance(client, USER) == 0
    assert story(client, USER) == [("purchase", 100), ("refund", -100)]
    purchase = purchase_paid_by(client, paid)
    assert (purchase["status"], purchase["amount_refunded"], purchase["credits_refunded"]) == (
        "refunded",
        1000,
        100,
    )
    assert ledger(client, USER)[0]["reference"] == purchase["checkout_session_id"]


def test_a_partial_refund_takes_back_credits_in_proportion(client: TestClient, paid: str) -> None:
    assert delivered(client, charge_refunded(paid, 400)) == "processed"

    assert balance(client, USER) == 60
    assert story(client, USER) == [("purchase", 100), ("refund", -40)]
    purchase = purchase_paid_by(client, paid)
    assert (purchase["status"], purchase["amount_refunded"]) == ("partially_refunded", 400)
    assert "400 of 1000" in ledger(client, USER)[0]["reason"]


def test_a_refund_delivered_again_or_reported_again_takes_back_nothing_more(
    client: TestClient, paid: str
) -> None:
    """The same event redelivered, another event with the same total, and the refund object's
    own event for the same refund: the first counts, the others change nothing."""
    refund = charge_refunded(paid, 400)
    delivered(client, refund)

    again = [
        delivered(client, refund),
        delivered(client, charge_refunded(paid, 400)),
        delivered(client, refund_event(paid, amount=400)),
    ]

    assert again == ["duplicate"] * 3
    assert balance(client, USER) == 60
    assert story(client, USER) == [("purchase", 100), ("refund", -40)]


def test_partial_refunds_add_up_and_never_take_back_more_than_was_granted(
    client: TestClient, paid: str
) -> None:
    for running_total in (400, 700, 1000, 1500):  # 1500: a report over the charge is capped
        delivered(client, charge_refunded(paid, running_total))

    assert balance(client, USER) == 0
    assert story(client, USER) == [
        ("purchase", 100),
        ("refund", -40),
        ("refund", -30),
        ("refund", -30),
    ]
    assert purchase_paid_by(client, paid)["credits_refunded"] == 100


def test_refunded_credits_round_down_so_the_buyer_keeps_a_fraction_until_it_adds_up(
    client: TestClient,
) -> None:
    intent = register_and_buy(client, USER, credits=10)

    delivered(client, charge_refunded(intent, 150))  # 1.5 credits' worth
    delivered(client, charge_refunded(intent, 300))  # 3 credits' worth in all

    assert story(client, USER) == [("purchase", 10), ("refund", -1), ("refund", -2)]


def test_refunds_arriving_out_of_order_converge_on_the_largest_running_total(
    client: TestClient, paid: str
) -> None:
    later, earlier = charge_refunded(paid, 700), charge_refunded(paid, 400)

    assert [delivered(client, later), delivered(client, earlier)] == ["processed", "duplicate"]

    assert balance(client, USER) == 30
    assert story(client, USER) == [("purchase", 100), ("refund", -70)]
    assert purchase_paid_by(client, paid)["amount_refunded"] == 700


def test_refund_objects_of_one_charge_add_up_and_match_the_charges_running_total(
    client: TestClient, paid: str
) -> None:
    first = refund_event(paid, refund_id="re_first", amount=400)
    second = refund_event(paid, refund_id="re_second", amount=300)

    statuses = [delivered(client, first), delivered(client, second)]
    total = delivered(client, charge_refunded(paid, 700))

    assert (statuses, total) == (["processed", "processed"], "duplicate")
    assert story(client, USER) == [("purchase", 100), ("refund", -40), ("refund", -30)]


def test_the_purchase_status_follows_its_refunds(client: TestClient, paid: str) -> None:
    statuses = [purchase_paid_by(client, paid)["status"]]
    for running_total in (400, 1000):
        delivered(client, charge_refunded(paid, running_total))
        statuses.append(purchase_paid_by(client, paid)["status"])

    assert statuses == ["paid", "partially_refunded", "refunded"]


def test_a_refund_before_the_purchases_own_event_is_kept_and_applied_when_it_arrives(
    client: TestClient,
) -> None:
    register(client, USER)
    intent = "pi_refunded_before_paid"

    assert delivered(client, charge_refunded(intent, 400)) == "processed"
    waiting = purchase_paid_by(client, intent)
    assert (waiting["status"], waiting["credits"], waiting["amount_refunded"]) == (
        "unmatched",
        None,
        400,
    )
    assert balance(client, USER) == 0

    session = paid_session_event(user_id=USER, credits=100, payment_intent_id=intent)
    assert delivered(client, session) == "processed"

    assert balance(client, USER) == 60
    assert story(client, USER) == [("purchase", 100), ("refund", -40)]
    purchase = purchase_paid_by(client, intent)
    assert purchase["status"] == "partially_refunded"
    assert purchase["checkout_session_id"] == session["data"]["object"]["id"]
    # The same payment's PaymentIntent event, later: the same purchase, never a second grant.
    intent_event = payment_intent_event(id=intent, metadata={"user_id": USER, "credits": "100"})
    assert delivered(client, intent_event) == "duplicate"
    assert balance(client, USER) == 60


def test_under_the_debt_policy_a_refund_of_spent_credits_leaves_a_debt_the_next_purchase_repays(
    client: TestClient, paid: str
) -> None:
    spend(client, USER, 80, "gen_1")

    delivered(client, money_back_event("charge_refunded_full.json", paid))

    assert balance(client, USER) == -80
    assert story(client, USER) == [("purchase", 100), ("spend", -80), ("refund", -100)]
    refused = spend(client, USER, 1, "gen_2")
    assert error_of(refused) == (402, "insufficient_credits")
    assert refused.json()["error"]["balance"] == -80

    buy(client, user_id=USER, credits=100)

    assert balance(client, USER) == 20
    assert spend(client, USER, 20, "gen_3").json()["balance"] == 0


def test_under_the_clamp_policy_a_refund_takes_back_only_what_is_left_and_says_so(
    client_for: ClientFactory,
) -> None:
    client = client_for(refund_policy="clamp")
    intent = register_and_buy(client, USER)
    spend(client, USER, 80, "gen_1")

    delivered(client, money_back_event("charge_refunded_full.json", intent))

    assert balance(client, USER) == 0
    assert story(client, USER) == [("purchase", 100), ("spend", -80), ("refund", -20)]
    reason = ledger(client, USER)[0]["reason"]
    assert "20 credits taken back" in reason
    assert "80 not taken back" in reason
    assert purchase_paid_by(client, intent)["status"] == "refunded"


def test_under_the_clamp_policy_a_refund_of_credits_all_spent_still_leaves_an_entry(
    client_for: ClientFactory,
) -> None:
    client = client_for(refund_policy="clamp")
    intent = register_and_buy(client, USER)
    spend(client, USER, 100, "gen_1")

    assert delivered(client, charge_refunded(intent, 400)) == "processed"

    assert balance(client, USER) == 0
    assert story(client, USER) == [("purchase", 100), ("spend", -100), ("refund", 0)]
    assert "40 not taken back" in ledger(client, USER)[0]["reason"]


def test_a_refund_of_a_purchase_waiting_for_its_buyer_reduces_the_pending_grant(
    client: TestClient,
) -> None:
    intent = buy(client, user_id=None, email="newcomer@example.com", credits=100)

    assert delivered(client, charge_refunded(intent, 400)) == "processed"

    assert [grant["credits"] for grant in pending_grants(client)] == [60]
    assert purchase_paid_by(client, intent)["status"] == "partially_refunded"
    registration = register(client, USER, "newcomer@example.com")
    assert registration["balance"] == 60
    assert story(client, USER) == [("purchase", 60)]


def test_a_full_refund_of_a_purchase_waiting_for_its_buyer_leaves_nothing_to_claim(
    client: TestClient,
) -> None:
    intent = buy(client, user_id=None, email="newcomer@example.com", credits=100)

    delivered(client, money_back_event("charge_refunded_full.json", intent))

    assert [grant["credits"] for grant in pending_grants(client)] == [0]
    assert register(client, USER, "newcomer@example.com")["balance"] == 0
    assert ledger(client, USER) == []


@pytest.mark.parametrize(
    ("event_type", "status"),
    [("refund.updated", "canceled"), ("refund.updated", "failed"), ("refund.failed", "failed")],
)
def test_a_refund_that_is_canceled_or_fails_gives_its_credits_back(
    client: TestClient, paid: str, event_type: str, status: str
) -> None:
    delivered(client, refund_event(paid, amount=400))

    outcome = delivered(client, refund_event(paid, event_type=event_type, status=status))

    assert outcome == "processed"
    assert balance(client, USER) == 100
    assert story(client, USER) == [("purchase", 100), ("refund", -40), ("refund_reversal", 40)]
    purchase = purchase_paid_by(client, paid)
    assert (purchase["status"], purchase["amount_refunded"], purchase["credits_refunded"]) == (
        "paid",
        0,
        0,
    )


def test_a_canceled_refund_stays_canceled_whatever_arrives_after_it(
    client: TestClient, paid: str
) -> None:
    created = refund_event(paid, amount=400)
    delivered(client, created)
    delivered(client, charge_refunded(paid, 400))
    delivered(client, refund_event(paid, event_type="refund.updated", status="canceled"))

    late = [
        delivered(client, refund_event(paid, event_type="refund.updated", status="succeeded")),
        delivered(client, created),
        delivered(client, refund_event(paid, amount=400)),
        delivered(client, charge_refunded(paid, 400)),
    ]

    assert late == ["duplicate"] * 4
    assert balance(client, USER) == 100
    assert purchase_paid_by(client, paid)["amount_refunded"] == 0


def test_a_refund_known_only_from_the_charges_total_gives_its_credits_back_when_canceled(
    client: TestClient, paid: str
) -> None:
    delivered(client, charge_refunded(paid, 400))

    canceled = refund_event(paid, event_type="refund.updated", status="canceled")

    assert delivered(client, canceled) == "processed"
    assert balance(client, USER) == 100


def at(event: dict[str, Any], created: int) -> dict[str, Any]:
    """`event` as Stripe would have created it at Unix time `created`."""
    return {**event, "created": created}


FAILED_AT = 1_800_000_000  # when the first refund failed, in the tests below


@pytest.mark.parametrize(
    ("reported", "balance_after"),
    [
        (FAILED_AT + 60, 60),  # a later total leaves the failed refund out: the new one counts
        (FAILED_AT, 100),  # the same second: it may still count the failed one
        (FAILED_AT - 60, 100),  # made before the failure: it still counts it
    ],
)
def test_a_new_refund_known_only_from_the_charges_total_after_a_failed_one_is_taken_back(
    client: TestClient, paid: str, reported: int, balance_after: int
) -> None:
    """A refund fails, the seller refunds again; Stripe's `charge.refunded` for the new one
    arrives before its `refund.created`. Its total (400) is the new refund only if it was made
    after the failure: then its credits are taken back at once, not left with the buyer."""
    delivered(client, at(refund_event(paid, refund_id="re_first"), FAILED_AT - 3600))
    failed = refund_event(paid, event_type="refund.failed", refund_id="re_first", status="failed")
    delivered(client, at(failed, FAILED_AT))

    delivered(client, at(charge_refunded(paid, 400), reported))

    assert balance(client, USER) == balance_after
    delivered(client, at(refund_event(paid, refund_id="re_second", amount=400), FAILED_AT + 61))
    assert balance(client, USER) == 60  # and the new refund's own event settles it either way
    assert purchase_paid_by(client, paid)["amount_refunded"] == 400


def test_canceling_one_of_two_refunds_gives_back_only_its_own_credits(
    client: TestClient, paid: str
) -> None:
    delivered(client, refund_event(paid, refund_id="re_first", amount=400))
    delivered(client, refund_event(paid, refund_id="re_second", amount=300))

    delivered(
        client,
        refund_event(
            paid, event_type="refund.updated", refund_id="re_first", amount=400, status="failed"
        ),
    )

    assert balance(client, USER) == 70
    purchase = purchase_paid_by(client, paid)
    assert (purchase["amount_refunded"], purchase["status"]) == (300, "partially_refunded")


def test_a_canceled_refund_of_a_purchase_waiting_for_its_buyer_restores_the_pending_grant(
    client: TestClient,
) -> None:
    intent = buy(client, user_id=None, email="newcomer@example.com", credits=100)
    delivered(client, refund_event(intent, amount=400))
    assert [grant["credits"] for grant in pending_grants(client)] == [60]

    delivered(client, refund_event(intent, event_type="refund.updated", status="canceled"))

    assert [grant["credits"] for grant in pending_grants(client)] == [100]
    assert register(client, USER, "newcomer@example.com")["balance"] == 100


def test_under_the_clamp_policy_canceling_a_refund_that_took_nothing_gives_nothing_back(
    client_for: ClientFactory,
) -> None:
    """The refund found the credits spent and took none; its cancellation returns none either
    (they were never taken), and both entries say so."""
    client = client_for(refund_policy="clamp")
    intent = register_and_buy(client, USER)
    spend(client, USER, 100, "gen_1")
    delivered(client, refund_event(intent, amount=400))

    delivered(client, refund_event(intent, event_type="refund.updated", status="canceled"))

    assert balance(client, USER) == 0
    assert story(client, USER) == [
        ("purchase", 100),
        ("spend", -100),
        ("refund", 0),
        ("refund_reversal", 0),
    ]
    assert "40 not given back" in ledger(client, USER)[0]["reason"]


@pytest.mark.parametrize("kind", ["spend", "grant", "purchase", "expiry"])
def test_the_database_refuses_a_zero_entry_of_any_kind_but_refunds_and_disputes(
    client: TestClient, database_url: str, kind: str
) -> None:
    """Zero entries exist so a clamped refund or dispute still tells its story; anything else
    that moves nothing is a bug, and the CHECK constraint catches it whatever code wrote it."""
    register(client, USER)
    engine = create_engine(database_url)
    row = {
        "user_id": USER,
        "delta": 0,
        "balance_after": 0,
        "kind": kind,
        "reference": "manual",
        "reason": "a zero entry",
        "idempotency_key": f"manual:{kind}",
        "created_at": datetime.now(UTC),
    }
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(ledger_entries.insert().values(row))
    finally:
        engine.dispose()
