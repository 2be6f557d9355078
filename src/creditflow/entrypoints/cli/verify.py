"""`verify`: the end-to-end check against a running server, in the words of what to fix.

The checks run in order, each needing the one before: the server answers; a fresh test user is
registered through /v1; a signed paid `checkout.session.completed` for that user is accepted; a
purchase row appears; the wallet grew by the credits. The first failure says why and the rest
are reported as skipped. Last, the test credits are spent back through /v1 (a compensating
`spend` entry in the ledger: nothing is ever deleted), so the test user it leaves behind holds 0
credits; its ledger and purchase remain, so point it at a development or staging server.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.text import Text

from creditflow.adapters.stripe import samples
from creditflow.entrypoints.cli.config import load_settings
from creditflow.entrypoints.cli.render import JsonFlag, print_json, show
from creditflow.entrypoints.cli.webhook_client import (
    DEFAULT_URL,
    TIMEOUT_SECONDS,
    error_of,
    explain_refusal,
    post_event,
    signing_secret,
)
from creditflow.errors import CreditflowError
from creditflow.settings import WEBHOOK_PATH, Settings

VERIFY_CREDITS = 100
MARKS = {"passed": "✓", "failed": "✗", "skipped": "-"}


class CheckFailed(Exception):
    """A check's answer was wrong; the message tells a newcomer what to change."""


@dataclass(frozen=True)
class Check:
    name: str
    result: Literal["passed", "failed", "skipped"]
    detail: str


def verify(
    url: Annotated[
        str, typer.Option("--url", help="Base URL of the running server.")
    ] = DEFAULT_URL,
    path: Annotated[str, typer.Option("--path", help="Webhook path.")] = WEBHOOK_PATH,
    as_json: JsonFlag = False,
) -> None:
    """Check a running server end to end: a signed test event is accepted, credited once.

    Registers a test user verify_..., buys it 100 credits, then spends them back (a ledger
    entry, never a delete): use a development server.
    Exits with status 1 if any check fails.
    """
    with httpx.Client(base_url=url, timeout=TIMEOUT_SECONDS) as client:
        checks = Probe(client, load_settings(), path).run()
    passed = all(check.result == "passed" for check in checks)
    if as_json:
        print_json({"url": url, "passed": passed, "checks": [asdict(check) for check in checks]})
    else:
        show(Text(f"Verifying {url}"))
        for check in checks:
            style = {"passed": "green", "failed": "bold red", "skipped": "dim"}[check.result]
            line = Text(f" {MARKS[check.result]} ", style=style) + Text(check.name)
            show(line + Text(f": {check.detail}", style="dim" if check.result != "failed" else ""))
        failed = sum(check.result == "failed" for check in checks)
        show(Text("All checks passed." if passed else f"{failed} check failed.", style="bold"))
    if not passed:
        raise typer.Exit(1)


class Probe:
    """One verification run; each step returns what it saw or raises `CheckFailed`."""

    def __init__(self, client: httpx.Client, settings: Settings, path: str) -> None:
        self._client = client
        self._settings = settings
        self._path = path
        self._user_id = f"verify_{secrets.token_hex(6)}"
        self._session_id = ""
        self._balance_before = 0

    def run(self) -> list[Check]:
        steps: list[tuple[str, Callable[[], str]]] = [
            ("server is up", self.health),
            (f"test user {self._user_id} registered", self.register),
            ("signed checkout.session.completed accepted", self.deliver),
            ("purchase recorded", self.purchase),
            (f"wallet grew by {VERIFY_CREDITS} credits", self.wallet),
            ("test credits spent back", self.clean_up),
        ]
        checks: list[Check] = []
        for name, step in steps:
            if checks and checks[-1].result != "passed":
                checks.append(Check(name, "skipped", "needs the check above"))
                continue
            try:
                checks.append(Check(name, "passed", step()))
            except (CheckFailed, CreditflowError) as exc:
                checks.append(Check(name, "failed", str(exc)))
        return checks

    def health(self) -> str:
        response = self._request("GET", "/healthz")
        if response.status_code == 503:
            raise CheckFailed(f"the server cannot reach its database: {error_of(response)[1]}")
        if response.status_code != 200:
            raise CheckFailed(f"GET /healthz answered {response.status_code}: is it creditflow?")
        return "GET /healthz answered 200"

    def register(self) -> str:
        if self._settings.api_key is None:
            raise CheckFailed(
                "CREDITFLOW_API_KEY is not set here (environment or ./.env): verify registers "
                "its test user and reads the wallet through /v1; set it to the server's key"
            )
        response = self._api("PUT", f"/v1/users/{self._user_id}", json={"email": None})
        self._balance_before = int(response.json()["balance"])
        return f"PUT /v1/users/{self._user_id} answered 200"

    def deliver(self) -> str:
        session = samples.checkout_session(user_id=self._user_id, credits=VERIFY_CREDITS)
        self._session_id = session["id"]
        event = samples.event("checkout.session.completed", session)
        response = post_event(self._client, self._path, event, signing_secret(self._settings))
        if not response.is_success:
            raise CheckFailed(explain_refusal(response))
        outcome = response.json()
        if outcome.get("status") != "processed":
            raise CheckFailed(
                f"accepted, but the delivery ended as {outcome.get('status')}: "
                f"{outcome.get('error') or 'no reason given'}"
            )
        return f"POST {self._path} answered {response.status_code}, processed ({event['id']})"

    def purchase(self) -> str:
        found = self._api("GET", "/v1/purchases", params={"user_id": self._user_id}).json()
        mine = [p for p in found["purchases"] if p["checkout_session_id"] == self._session_id]
        if not mine:
            raise CheckFailed(f"no purchase row for session {self._session_id}")
        status, credits = mine[0]["status"], mine[0]["credits"]
        if status != "paid" or credits != VERIFY_CREDITS:
            raise CheckFailed(
                f"purchase {self._session_id} is {status} with {credits} credits, "
                f"expected paid with {VERIFY_CREDITS}"
            )
        return f"{self._session_id} is paid, {credits} credits"

    def wallet(self) -> str:
        balance = int(self._api("GET", f"/v1/wallets/{self._user_id}").json()["balance"])
        expected = self._balance_before + VERIFY_CREDITS
        if balance != expected:
            raise CheckFailed(f"balance is {balance}, expected {expected}")
        return f"balance {self._balance_before} -> {balance}"

    def clean_up(self) -> str:
        """The test credits leave through a spend entry: the ledger keeps what verify did."""
        spend = {
            "credits": VERIFY_CREDITS,
            "idempotency_key": f"verify-clean-up-{self._session_id}",
            "reason": "creditflow verify: test credits spent back",
        }
        path = f"/v1/wallets/{self._user_id}/spend"
        balance = int(self._api("POST", path, json=spend).json()["balance"])
        if balance != self._balance_before:
            raise CheckFailed(
                f"balance is {balance} after the spend, expected {self._balance_before}"
            )
        return f"POST {path}: balance back to {balance}"

    def _api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        assert self._settings.api_key is not None  # checked by `register`, the first /v1 call
        headers = {"Authorization": f"Bearer {self._settings.api_key.get_secret_value()}"}
        response = self._request(method, path, headers=headers, **kwargs)
        code, message = error_of(response)
        if response.status_code == 401:
            raise CheckFailed(
                "the server refused the API key (401): the server's CREDITFLOW_API_KEY differs "
                "from yours"
            )
        if response.status_code == 503 and code == "not_configured":
            raise CheckFailed(
                "the server has no CREDITFLOW_API_KEY, so its /v1 API is disabled: set it where "
                "the server runs and restart it"
            )
        if response.status_code != 200:
            raise CheckFailed(f"{method} {path} answered {response.status_code}: {message}")
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise CheckFailed(
                f"no server answers at {self._client.base_url} ({type(exc).__name__}): "
                "start one with `creditflow serve`, or pass --url"
            ) from exc
