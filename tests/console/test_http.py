"""The console over HTTP: off until configured, nothing without a login, the cookie's flags, CSRF,
the rate limit on failed logins, escaping, and the grant's and replay's records of who and why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response

from creditflow.entrypoints.http.console.session import Session, SessionCookie
from tests.conftest import ClientFactory
from tests.console.support import (
    CONSOLE_SECRET,
    OPERATOR,
    PASSWORD,
    console_settings,
    csrf_of,
    log_in,
    post_form,
)
from tests.support import API_KEY, auth, balance, deliver, ledger, paid_without_credits, register

PAGES = [
    "/console",
    "/console/inbox",
    "/console/events/evt_1",
    "/console/wallets",
    "/console/wallet?user=u1",
    "/console/holds",
    "/console/pending",
    "/console/purchases",
]
ACTIONS = ["/console/events/evt_1/replay", "/console/wallet/grants", "/console/logout"]


def test_without_operators_every_console_path_says_it_is_off_and_how_to_turn_it_on(
    client_for: ClientFactory,
) -> None:
    unconfigured = client_for()
    for path in [*PAGES, "/console/login"]:
        response = unconfigured.get(path)
        assert response.status_code == 404
        assert "The operator console is off" in response.text
        assert "creditflow console add-user" in response.text
    assert unconfigured.post("/console/login", data={}).status_code == 404


def test_an_operator_file_with_nobody_in_it_keeps_the_console_off(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    settings = console_settings(tmp_path)
    settings["console_users"].write_text("# nobody yet\n")
    client = client_for(**settings)

    response = client.get("/console/login")

    assert (response.status_code, "console is off" in response.text) == (404, True)


@pytest.mark.parametrize("path", PAGES)
def test_no_page_is_reachable_without_a_login(console: TestClient, path: str) -> None:
    response = console.get(path, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=%2Fconsole")


@pytest.mark.parametrize("path", ACTIONS)
def test_no_action_is_possible_without_a_login(console: TestClient, path: str) -> None:
    form = console.get("/console/login")
    response = console.post(path, data={"csrf": csrf_of(form)}, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")


def test_logging_in_sets_a_signed_httponly_samesite_strict_cookie_with_an_expiry(
    console: TestClient,
) -> None:
    response = log_in(console)

    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= flags
    assert "samesite=strict" in cookie.lower()
    assert "path=/console" in cookie.lower()
    assert console.get("/console").status_code == 200


def test_a_tampered_or_foreign_cookie_is_no_login(console: TestClient) -> None:
    log_in(console)
    value = console.cookies["creditflow_console"]
    console.cookies.clear()
    console.cookies.set("creditflow_console", value[:-2] + "xx", path="/console")

    assert console.get("/console", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(("hours_ago", "logged_in"), [(7.9, True), (8.1, False)])
def test_a_session_ends_eight_hours_after_the_login_however_busy(
    console: TestClient, hours_ago: float, logged_in: bool
) -> None:
    login_time = time.time() - hours_ago * 3600
    session = Session(csrf="token", operator=OPERATOR, started=login_time)
    response = Response()
    SessionCookie(CONSOLE_SECRET).write(response, session, console.get("/console/login").request)
    console.cookies.clear()
    console.cookies.set(
        "creditflow_console", _cookie_value(response.headers["set-cookie"]), path="/console"
    )

    page = console.get("/console", follow_redirects=False)

    assert page.status_code == (200 if logged_in else 303)


def _cookie_value(header: str) -> str:
    return header.split(";")[0].split("=", 1)[1]


def test_an_operator_removed_from_the_file_is_logged_out_at_once(
    console: TestClient, tmp_path: Path
) -> None:
    log_in(console)
    (tmp_path / "console-users").write_text("")
    console.get("/console/login")  # the file is empty: the console is off now

    assert console.get("/console", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_and_the_page_does_not_say_which_part_was_wrong(
    console: TestClient,
) -> None:
    wrong_password = log_in(console, password="not the password")
    unknown_name = log_in(console, name="mallory")

    assert wrong_password.status_code == unknown_name.status_code == 401
    assert "Wrong name or password." in wrong_password.text
    assert "Wrong name or password." in unknown_name.text
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_five_failed_logins_for_a_name_lock_it_even_with_the_right_password(
    console: TestClient,
) -> None:
    for _ in range(5):
        assert log_in(console, password="guess").status_code == 401

    locked = log_in(console)

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_failed_logins_from_one_address_are_limited_across_names(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    client = client_for(**console_settings(tmp_path, OPERATOR, "bob"))
    for name in ("carol", "dave", "erin", "frank", "grace"):
        assert log_in(client, name=name).status_code == 401

    assert log_in(client, name="bob").status_code == 429


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    operator_client: TestClient,
) -> None:
    register(operator_client, "u1")
    fields = {"user": "u1", "credits": "10", "reason": "goodwill", "form_key": "k1"}

    without = operator_client.post("/console/wallet/grants", data=fields)
    wrong = operator_client.post("/console/wallet/grants", data={**fields, "csrf": "forged"})

    assert without.status_code == wrong.status_code == 403
    assert balance(operator_client, "u1") == 0


def test_the_login_form_needs_its_csrf_token_too(console: TestClient) -> None:
    response = console.post("/console/login", data={"name": OPERATOR, "password": PASSWORD})

    assert response.status_code == 403
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_logging_out_ends_the_session(operator_client: TestClient) -> None:
    response = post_form(operator_client, "/console", "/console/logout")

    assert response.status_code == 303
    assert operator_client.get("/console", follow_redirects=False).status_code == 303


def test_the_api_key_is_never_shown(operator_client: TestClient) -> None:
    for path in ["/console", "/console/inbox", "/console/wallets", "/console/purchases"]:
        assert API_KEY not in operator_client.get(path).text


def test_a_grant_names_the_operator_and_the_reason_and_a_resent_form_grants_once(
    operator_client: TestClient,
) -> None:
    register(operator_client, "u1")
    page = operator_client.get("/console/wallet?user=u1")
    fields = {
        "csrf": csrf_of(page),
        "form_key": page.text.split('name="form_key" value="')[1].split('"')[0],
        "user": "u1",
        "credits": "25",
        "reason": "support ticket 812",
    }

    first = operator_client.post("/console/wallet/grants", data=fields, follow_redirects=False)
    again = operator_client.post("/console/wallet/grants", data=fields, follow_redirects=False)

    assert (first.status_code, again.status_code) == (303, 303)
    assert "granted=again" in again.headers["location"]
    [entry] = ledger(operator_client, "u1")
    assert entry["delta"] == 25
    assert entry["reason"] == f"support ticket 812 (granted by {OPERATOR} in the console)"
    assert OPERATOR in entry["reference"]
    assert balance(operator_client, "u1") == 25


@pytest.mark.parametrize(
    ("credits", "reason"), [("0", "why"), ("-5", "why"), ("1.5", "why"), ("ten", "why"), ("5", " ")]
)
def test_a_grant_form_with_bad_values_says_so_and_grants_nothing(
    operator_client: TestClient, credits: str, reason: str
) -> None:
    register(operator_client, "u1")

    response = post_form(
        operator_client,
        "/console/wallet?user=u1",
        "/console/wallet/grants",
        user="u1",
        credits=credits,
        reason=reason,
    )

    assert response.status_code == 422
    assert balance(operator_client, "u1") == 0


def test_a_replay_leaves_a_note_with_the_operator_and_why(operator_client: TestClient) -> None:
    register(operator_client, "user_42")
    event = paid_without_credits()
    deliver(operator_client, event)

    response = post_form(
        operator_client,
        f"/console/events/{event['id']}",
        f"/console/events/{event['id']}/replay",
        reason="catalog fixed",
    )

    assert response.status_code == 303
    page = operator_client.get(response.headers["location"])
    assert "catalog fixed" in page.text
    assert f"<td>{OPERATOR}</td>" in page.text
    assert "needs_attention" in page.text


def test_markup_in_a_payload_or_a_reason_is_shown_as_text(operator_client: TestClient) -> None:
    script = "<script>alert(1)</script>"
    register(operator_client, "u1", email="x@example.com")
    operator_client.post(
        "/v1/wallets/u1/grants",
        json={"credits": 1, "idempotency_key": "k", "reason": script},
        headers=auth(),
    )
    event = paid_without_credits(client_reference_id=script)
    deliver(operator_client, event)

    wallet = operator_client.get("/console/wallet?user=u1")
    stored = operator_client.get(f"/console/events/{event['id']}")

    for page in (wallet, stored):
        assert script not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "script-src" not in wallet.headers["content-security-policy"]
    assert "default-src 'none'" in wallet.headers["content-security-policy"]


def test_a_wallet_is_found_by_its_user_id_or_its_e_mail_in_any_case(
    operator_client: TestClient,
) -> None:
    register(operator_client, "u1", email="Someone@Example.com")

    by_email = operator_client.get("/console/wallets?q=someone@EXAMPLE.com", follow_redirects=False)
    by_id = operator_client.get("/console/wallets?q=u1", follow_redirects=False)
    unknown = operator_client.get("/console/wallets?q=nobody@example.com")

    assert by_email.headers["location"] == by_id.headers["location"] == "/console/wallet?user=u1"
    assert "No user has the id or e-mail" in unknown.text


def test_the_next_page_after_login_stays_inside_the_console(console: TestClient) -> None:
    form = console.get("/console/login?next=https://evil.example/")
    response = console.post(
        "/console/login",
        data={"name": OPERATOR, "password": PASSWORD, "csrf": csrf_of(form), "next": "//evil"},
        follow_redirects=False,
    )

    assert response.headers["location"] == "/console"


@pytest.mark.parametrize("page", ["/console/inbox", "/console/purchases", "/console/holds"])
def test_a_list_filtered_by_any_status_lists_everything_and_an_unknown_status_says_so(
    operator_client: TestClient, page: str
) -> None:
    """The form's "any" sends an empty status, and so do the next-page links it leads to."""
    any_status = operator_client.get(f"{page}?status=")
    unknown = operator_client.get(f"{page}?status=lost")

    assert any_status.status_code == 200
    assert (unknown.status_code, "no status &#39;lost&#39;" in unknown.text) == (422, True)
