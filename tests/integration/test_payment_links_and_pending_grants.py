"""Flows 3 and 4: buyers found by e-mail (Payment Links), and credits waiting for unknown buyers.

The Payment Link body is the derived Stripe fixture: no client_reference_id, only
`customer_details.email` and `payment_link`.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from creditflow.adapters.stripe import samples
from tests.support import (
    auth,
    balance,
    deliver,
    derived_event,
    error_of,
    ledger,
    paid_session_event,
    pending_grants,
    purchases,
    register,
)


def payment_link_event(email: str, credits: int = 500, **session: Any) -> dict[str, Any]:
    event = derived_event(
        "checkout_session_completed_payment_link.json",
        metadata={"credits": str(credits)},
        **session,
    )
    event["data"]["object"]["customer_details"]["email"] = email
    return event


def test_a_payment_link_buyer_is_found_by_email_whatever_its_letter_case(
    client: TestClient,
) -> None:
    register(client, "user_ada", "ada.lovelace@example.com")
    event = payment_link_event("Ada.Lovelace@EXAMPLE.com")
    assert event["data"]["object"]["client_reference_id"] is None

    response = deliver(client, event)

    assert response.json()["status"] == "processed"
    assert balance(client, "user_ada") == 500
    [purchase] = purchases(client, "user_ada")
    assert purchase["payment_link"] == "plink_1Pgc78B7WZ01zgkWC75kX0jg"
    assert pending_grants(client) == []


def test_an_unknown_email_parks_a_pending_grant_claimed_once_when_the_user_registers(
    client: TestClient,
) -> None:
    response = deliver(client, payment_link_event("New.Buyer@example.com"))

    assert response.json()["status"] == "processed"
    [grant] = pending_grants(client)
    assert (grant["user_id"], grant["email"], grant["credits"]) == (
        None,
        "new.buyer@example.com",
        500,
    )
    assert grant["claimed_at"] is None

    registration = register(client, "user_new", "NEW.BUYER@example.com")

    assert [g["id"] for g in registration["claimed"]] == [grant["id"]]
    assert registration["balance"] == 500
    assert pending_grants(client) == []
    [purchase] = purchases(client, "user_new")
    assert purchase["credited_at"] is not None


def test_the_registration_response_shows_the_grants_it_claimed_as_claimed_by_the_user(
    client: TestClient,
) -> None:
    deliver(client, payment_link_event("buyer@example.com"))

    [claimed] = register(client, "user_b", "buyer@example.com")["claimed"]

    assert claimed["claimed_by"] == "user_b"
    assert claimed["claimed_at"] is not None


def test_registering_the_same_user_twice_claims_the_pending_grant_only_once(
    client: TestClient,
) -> None:
    deliver(client, payment_link_event("buyer@example.com"))

    first = register(client, "user_b", "buyer@example.com")
    second = register(client, "user_b", "buyer@example.com")

    assert (first["created"], len(first["claimed"])) == (True, 1)
    assert (second["created"], second["claimed"]) == (False, [])
    assert balance(client, "user_b") == 500
    assert [entry["delta"] for entry in ledger(client, "user_b")] == [500]


def test_a_redelivered_payment_after_the_claim_grants_nothing_more(client: TestClient) -> None:
    event = payment_link_event("buyer@example.com")
    deliver(client, event)
    register(client, "user_b", "buyer@example.com")

    again = deliver(client, event)
    other_event_same_session = deliver(
        client, derived_event("checkout_session_async_payment_succeeded.json")
    )

    assert again.json()["status"] == "duplicate"
    assert other_event_same_session.json()["status"] == "duplicate"
    assert balance(client, "user_b") == 500


def test_every_pending_grant_for_an_email_is_claimed_together(client: TestClient) -> None:
    for credits in (100, 20, 3):
        session = samples.checkout_session(email="Many@Example.com", credits=credits)
        deliver(client, samples.event("checkout.session.completed", session))

    registration = register(client, "user_m", "many@example.com")

    assert sorted(g["credits"] for g in registration["claimed"]) == [3, 20, 100]
    assert balance(client, "user_m") == 123


def test_a_user_who_adds_the_email_later_claims_its_pending_grant(client: TestClient) -> None:
    register(client, "user_c")
    deliver(client, payment_link_event("carol@example.com"))

    update = register(client, "user_c", "Carol@example.com")

    assert len(update["claimed"]) == 1
    assert balance(client, "user_c") == 500


def test_an_unknown_user_id_parks_a_grant_that_only_that_user_id_claims(
    client: TestClient,
) -> None:
    """Product decision: the app named its user; another account with the e-mail is not them."""
    response = deliver(
        client, paid_session_event(user_id="user_later", email="shared@example.com", credits=70)
    )
    assert response.json()["status"] == "processed"
    [grant] = pending_grants(client)
    assert (grant["user_id"], grant["email"]) == ("user_later", "shared@example.com")

    other = register(client, "user_other", "Shared@example.com")

    assert other["claimed"] == []
    assert balance(client, "user_other") == 0
    assert len(pending_grants(client)) == 1

    named = register(client, "user_later", "later@example.com")

    assert [g["id"] for g in named["claimed"]] == [grant["id"]]
    assert balance(client, "user_later") == 70
    assert balance(client, "user_other") == 0
    assert pending_grants(client) == []


def test_a_payment_naming_a_registered_user_id_credits_that_user_not_the_email_owner(
    client: TestClient,
) -> None:
    register(client, "user_a", "a@example.com")
    register(client, "user_b", "b@example.com")

    deliver(client, paid_session_event(user_id="user_a", email="b@example.com", credits=10))

    assert (balance(client, "user_a"), balance(client, "user_b")) == (10, 0)


def test_the_buyer_email_is_read_from_customer_email_when_customer_details_has_none(
    client: TestClient,
) -> None:
    register(client, "user_ada", "ada@example.com")
    event = payment_link_event("ignored@example.com", customer_email="ADA@example.com")
    event["data"]["object"]["customer_details"] = None

    deliver(client, event)

    assert balance(client, "user_ada") == 500


def test_a_payment_naming_no_buyer_at_all_is_parked_as_needs_attention(
    client: TestClient,
) -> None:
    event = payment_link_event("x@example.com")
    event["data"]["object"]["customer_details"]["email"] = None

    response = deliver(client, event)

    assert response.json()["status"] == "needs_attention"
    assert "no user" in response.json()["error"]
    assert pending_grants(client) == []
    assert purchases(client) == []


def test_an_email_already_taken_by_another_user_is_refused_with_409(client: TestClient) -> None:
    register(client, "user_a", "Ada@example.com")

    response = client.put("/v1/users/user_b", json={"email": "ada@EXAMPLE.com"}, headers=auth())

    assert error_of(response) == (409, "conflict")
    assert error_of(client.get("/v1/users/user_b", headers=auth())) == (404, "not_found")
    user_a = client.get("/v1/users/user_a", headers=auth()).json()["user"]
    assert user_a["email"] == "Ada@example.com"


def test_an_existing_user_cannot_take_another_users_email_either(client: TestClient) -> None:
    register(client, "user_a", "a@example.com")
    register(client, "user_b", "b@example.com")

    response = client.put("/v1/users/user_b", json={"email": "A@example.com"}, headers=auth())

    assert error_of(response) == (409, "conflict")
    user_b = client.get("/v1/users/user_b", headers=auth()).json()["user"]
    assert user_b["email"] == "b@example.com"


def test_re_registering_without_an_email_keeps_it_so_payment_links_still_find_the_buyer(
    client: TestClient,
) -> None:
    register(client, "user_bob", "bob@example.com")

    again = client.put("/v1/users/user_bob", json={}, headers=auth())

    assert again.status_code == 200, again.text
    assert again.json()["user"]["email"] == "bob@example.com"
    assert deliver(client, payment_link_event("Bob@Example.com")).json()["status"] == "processed"
    assert balance(client, "user_bob") == 500
    assert pending_grants(client) == []


def test_only_an_explicit_null_removes_the_email(client: TestClient) -> None:
    register(client, "user_bob", "bob@example.com")

    cleared = client.put("/v1/users/user_bob", json={"email": None}, headers=auth())

    assert cleared.json()["user"]["email"] is None
    deliver(client, payment_link_event("bob@example.com"))
    assert balance(client, "user_bob") == 0
    assert [grant["email"] for grant in pending_grants(client)] == ["bob@example.com"]


def test_the_api_schema_says_an_omitted_email_is_kept_and_null_removes_it(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["UserIn"]
    description = schema["properties"]["email"]["description"]

    assert "Omitted: the stored e-mail stays" in description
    assert "`null`: the stored e-mail is removed" in description
