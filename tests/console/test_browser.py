"""The console in Debian's Chromium against a real server, on SQLite and PostgreSQL: the flows
support staff and operators go through, by keyboard and mouse, with no script of ours."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Route, expect
from pydantic import SecretStr

from tests.console.browser import log_in, logged_in, screenshot
from tests.console.support import OPERATOR, console_settings
from tests.fakes.stripe_api import FakeStripeApi
from tests.invoices import INVOICE_ID, PRICE_ID, invoice_event, subscription_checkout_event
from tests.support import (
    PRICE,
    auth,
    balance,
    catalog_toml,
    deliver,
    derived_event,
    ledger,
    paid_without_credits,
    register,
    session_id_of,
)

LiveServer = Callable[..., str]
SCRIPT = "<script>alert('owned')</script>"


@pytest.fixture
def server(live_server_for: LiveServer, tmp_path: Path) -> str:
    return live_server_for(**console_settings(tmp_path))


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    """The app's side of things: the /v1 API and webhook deliveries to the same server."""
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def test_an_operator_logs_in_and_out(page: Page, server: str) -> None:
    page.goto(f"{server}/console/inbox")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot(page, "login")

    log_in(page, server, going_to="/console/inbox")

    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()  # where they were going
    expect(page.get_by_text(OPERATOR, exact=True)).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(f"{server}/console")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_wrong_password_is_refused_and_guessing_is_stopped(page: Page, server: str) -> None:
    for _ in range(5):
        log_in(page, server, password="wrong password, again")
        expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")

    log_in(page, server)

    expect(page.get_by_role("alert")).to_contain_text("Too many failed logins")
    page.goto(f"{server}/console")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_support_finds_a_wallet_by_e_mail_and_a_double_clicked_grant_grants_once(
    page: Page, server: str, api: httpx.Client
) -> None:
    register(api, "user_7", "Ada@Example.com")
    logged_in(page, server)
    page.get_by_role("link", name="Wallets").click()
    page.get_by_label("User id or e-mail").fill("ada@example.com")
    screenshot(page, "wallets")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name="Wallet of user_7")).to_be_visible()

    page.get_by_label("Credits", exact=True).fill("40")
    page.get_by_label("Reason (kept in the ledger with your name)").fill("goodwill, ticket 31")
    # The first submission is held back (a slow network), so the second click meets the same
    # form still on screen and sends it again; then both reach the server, in order.
    held: list[Route] = []
    page.route("**/console/wallet/grants", lambda route: held.append(route))
    button = page.get_by_role("button", name="Grant")
    button.scroll_into_view_if_needed()  # the mouse clicks where the page is on screen
    box = button.bounding_box()
    assert box is not None
    for _ in range(2):  # the mouse itself: a locator's click would wait for the navigation
        with page.expect_request("**/console/wallet/grants"):
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    answers = [route.fetch(max_redirects=0) for route in held]
    for route, answer in zip(held, answers, strict=True):
        with suppress(PlaywrightError):  # the browser gave up on the first when it sent the second
            route.fulfill(response=answer)

    assert [answer.status for answer in answers] == [303, 303]
    assert "granted=again" in answers[1].headers["location"]
    page.goto(f"{server}/console/wallet?user=user_7")
    screenshot(page, "wallet")
    assert balance(api, "user_7") == 40
    [entry] = ledger(api, "user_7")
    assert entry["reason"] == f"goodwill, ticket 31 (granted by {OPERATOR} in the console)"


def test_a_parked_payment_is_replayed_after_the_catalog_is_fixed_and_grants_once(
    page: Page,
    live_server_for: LiveServer,
    tmp_path: Path,
    fake_stripe: FakeStripeApi,
    catalog: Path,
    stack: ExitStack,
) -> None:
    server = live_server_for(
        **console_settings(tmp_path),
        catalog_path=catalog,
        stripe_secret_key=SecretStr(fake_stripe.api_key),
        stripe_api_base=fake_stripe.base_url,
    )
    api = stack.enter_context(httpx.Client(base_url=server, timeout=30))
    register(api, "user_42", "example@example.com")
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 2))
    assert deliver(api, event).json()["status"] == "needs_attention"
    waiting = derived_event(
        "checkout_session_completed_paid.json",
        event_id="evt_for_someone_new",
        id="cs_test_someone_new",
        payment_intent="pi_someone_new",
        client_reference_id="user_not_registered_yet",
        metadata={"credits": "70"},
    )
    deliver(api, waiting)

    logged_in(page, server)
    screenshot(page, "overview")
    page.get_by_role("link", name="1 need attention").click()
    screenshot(page, "inbox")
    page.get_by_role("link", name=event["id"]).click()
    expect(page.get_by_text("not in the catalog").first).to_be_visible()

    catalog.write_text(catalog_toml(prices={PRICE: 100}))
    page.get_by_label("Why (kept with the event)").fill("price added to the catalog")
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_contain_text("processed")
    page.get_by_label("Why (kept with the event)").fill("checking it grants only once")
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_contain_text("duplicate")  # the second changed nothing
    expect(page.get_by_role("cell", name="price added to the catalog")).to_be_visible()
    screenshot(page, "event")
    assert balance(api, "user_42") == 200
    assert [entry["delta"] for entry in ledger(api, "user_42")] == [200]
    page.get_by_role("link", name="Pending grants").click()
    expect(page.get_by_role("cell", name="user_not_registered_yet")).to_be_visible()
    screenshot(page, "pending")
    page.get_by_role("link", name="Purchases").click()
    page.get_by_label("Status").select_option("paid")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name=session_id_of(event))).to_be_visible()
    screenshot(page, "purchases")


def test_support_follows_the_active_holds_to_a_wallet_with_its_holds_and_subscription_grants(
    page: Page, live_server_for: LiveServer, tmp_path: Path, catalog: Path, stack: ExitStack
) -> None:
    catalog.write_text(catalog_toml(prices={PRICE_ID: 500}))
    server = live_server_for(**console_settings(tmp_path), catalog_path=catalog)
    api = stack.enter_context(httpx.Client(base_url=server, timeout=30))
    register(api, "user_42", "ada@example.com")  # the subscription session's user
    deliver(api, subscription_checkout_event())
    paid = invoice_event("basil", period_end=int(time.time()) + 30 * 86_400)
    assert deliver(api, paid).json()["status"] == "processed"
    held = {}
    for key, credits, reason in [("job-1", 120, "render job 1"), ("job-2", 30, SCRIPT)]:
        body = {"credits": credits, "idempotency_key": key, "reason": reason}
        answer = api.post("/v1/wallets/user_42/holds", json=body, headers=auth())
        held[key] = answer.json()["id"]
    api.post(f"/v1/holds/{held['job-1']}/capture", json={"credits": 100}, headers=auth())

    logged_in(page, server)  # the `page` fixture fails the test if any dialog opens
    page.get_by_role("link", name="1 active holds").click()
    expect(page.get_by_role("heading", name="Holds")).to_be_visible()
    expect(page.get_by_role("cell", name=SCRIPT)).to_be_visible()
    expect(page.get_by_role("cell", name=held["job-1"])).to_have_count(0)  # captured, not live
    page.get_by_label("Status").select_option("")  # any
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name=held["job-1"])).to_be_visible()
    screenshot(page, "holds")

    page.get_by_role("link", name="user_42").first.click()
    expect(page.get_by_role("heading", name="Wallet of user_42")).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Held30 credits")
    expect(facts).to_contain_text("Available370 credits")  # 500 - 100 captured - 30 held
    subscriptions = page.get_by_role("region", name="Subscription grants")
    expect(subscriptions.get_by_role("cell", name=INVOICE_ID, exact=True)).to_be_visible()
    screenshot(page, "wallet-holds")


def test_a_post_without_the_csrf_token_is_refused(
    page: Page, server: str, api: httpx.Client
) -> None:
    register(api, "user_7")
    logged_in(page, server)

    response = page.request.post(
        f"{server}/console/wallet/grants",
        form={"user": "user_7", "credits": "5", "reason": "forged", "form_key": "k"},
    )

    assert response.status == 403
    assert balance(api, "user_7") == 0


def test_markup_in_a_payload_or_a_reason_shows_as_text_and_never_runs(
    page: Page, server: str, api: httpx.Client
) -> None:
    register(api, "user_7", "x@example.com")
    api.post(
        "/v1/wallets/user_7/grants",
        json={"credits": 3, "idempotency_key": "xss", "reason": SCRIPT},
        headers=auth(),
    )
    event = paid_without_credits(client_reference_id=SCRIPT)
    deliver(api, event)
    logged_in(page, server)  # the `page` fixture fails the test if any dialog opens

    page.goto(f"{server}/console/wallet?user=user_7")
    expect(page.get_by_role("cell", name=SCRIPT)).to_be_visible()
    page.goto(f"{server}/console/events/{event['id']}")
    expect(page.locator("pre.payload")).to_contain_text(SCRIPT)
    page.goto(f"{server}/console/inbox")
    expect(page.get_by_role("link", name=event["id"])).to_be_visible()
