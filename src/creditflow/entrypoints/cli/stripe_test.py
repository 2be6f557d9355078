"""`trigger`: signed test deliveries to a running server, like Stripe CLI's `stripe trigger`.

Events are shaped like Stripe's (its example Checkout Session, fresh ids) and signed with the
server's secret, so they travel the exact path a real delivery does. Later events about a payment
(`async_payment_*`) name its session with `--session`, as Stripe's would.
"""

from __future__ import annotations

import json
import shlex
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from creditflow.adapters.stripe import samples
from creditflow.entrypoints.cli.config import load_settings
from creditflow.entrypoints.cli.render import JsonFlag, note, print_json, show
from creditflow.entrypoints.cli.webhook_client import (
    DEFAULT_URL,
    TIMEOUT_SECONDS,
    explain_refusal,
    post_event,
    signing_secret,
)
from creditflow.settings import WEBHOOK_PATH

DEFAULT_CREDITS = 100


class TriggerEvent(StrEnum):
    COMPLETED = "checkout.session.completed"
    ASYNC_PAYMENT_SUCCEEDED = "checkout.session.async_payment_succeeded"
    ASYNC_PAYMENT_FAILED = "checkout.session.async_payment_failed"
    EXPIRED = "checkout.session.expired"


Url = Annotated[str, typer.Option("--url", help="Base URL of the running creditflow server.")]
WebhookPath = Annotated[str, typer.Option("--path", help="Webhook path on that server.")]


def trigger(
    event_type: Annotated[
        TriggerEvent,
        typer.Argument(
            metavar="EVENT_TYPE",
            help="checkout.session.completed, checkout.session.async_payment_succeeded, "
            "checkout.session.async_payment_failed or checkout.session.expired.",
            show_default=False,
        ),
    ],
    user: Annotated[
        str | None, typer.Option("--user", help="The buyer's user id (client_reference_id).")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="The buyer's e-mail.")] = None,
    credits: Annotated[
        int, typer.Option("--credits", min=1, help="metadata.credits on the session.")
    ] = DEFAULT_CREDITS,
    no_credits_metadata: Annotated[
        bool,
        typer.Option(
            "--no-credits-metadata", help="Leave metadata.credits out: the catalog must price it."
        ),
    ] = False,
    payment_link: Annotated[
        str | None,
        typer.Option("--payment-link", help="A Payment Link id (plink_...): buyer by e-mail only."),
    ] = None,
    unpaid: Annotated[
        bool, typer.Option("--unpaid", help="A completed session paid by a delayed method.")
    ] = False,
    session: Annotated[
        str | None, typer.Option("--session", help="Session id (cs_...) of an earlier trigger.")
    ] = None,
    url: Url = DEFAULT_URL,
    path: WebhookPath = WEBHOOK_PATH,
    as_json: JsonFlag = False,
) -> None:
    """Send a signed test event to a running server, like `stripe trigger`.

    Exits with status 1 unless the server answers 2xx.
    """
    _check_options(event_type, user, email, payment_link, unpaid, session)
    secret = signing_secret(load_settings())
    session_object = checkout_session(
        event_type,
        user=user,
        email=email,
        credits=None if no_credits_metadata else credits,
        payment_link=payment_link,
        unpaid=unpaid,
        session_id=session,
    )
    event = samples.event(event_type.value, session_object)
    with httpx.Client(base_url=url, timeout=TIMEOUT_SECONDS) as client:
        response = post_event(client, path, event, secret)
    if as_json:
        print_json(
            {
                "url": str(response.request.url),
                "event_id": event["id"],
                "event_type": event["type"],
                "session_id": session_object["id"],
                "status_code": response.status_code,
                "response": _body(response),
                "refused_because": None if response.is_success else explain_refusal(response),
            }
        )
    else:
        _report(event, response)
        if response.is_success:
            same_payment = _same_payment_options(
                user, email, payment_link, None if no_credits_metadata else credits, url
            )
            _suggest_next(event_type, event, response, same_payment)
    if not response.is_success:
        if not as_json:
            note(f"error: {explain_refusal(response)}")
        raise typer.Exit(1)


def checkout_session(
    event_type: TriggerEvent,
    *,
    user: str | None,
    email: str | None,
    credits: int | None,
    payment_link: str | None,
    unpaid: bool,
    session_id: str | None,
) -> dict[str, Any]:
    """The session as Stripe sends it in `event_type`; one session keeps one PaymentIntent."""
    session_id = session_id or samples.new_id("cs")
    paid = event_type is TriggerEvent.ASYNC_PAYMENT_SUCCEEDED or (
        event_type is TriggerEvent.COMPLETED and not unpaid
    )
    session = samples.checkout_session(
        user_id=user,
        email=email,
        credits=credits,
        paid=paid,
        payment_link=payment_link,
        session_id=session_id,
        payment_intent_id="pi_" + session_id.removeprefix("cs_"),
    )
    if event_type in (TriggerEvent.ASYNC_PAYMENT_SUCCEEDED, TriggerEvent.ASYNC_PAYMENT_FAILED):
        session["payment_method_types"] = ["us_bank_account"]  # only delayed methods get these
    if event_type is TriggerEvent.EXPIRED:
        session["status"] = "expired"
        session["payment_intent"] = None  # nobody paid: Stripe made no PaymentIntent
    return session


def _check_options(
    event_type: TriggerEvent,
    user: str | None,
    email: str | None,
    payment_link: str | None,
    unpaid: bool,
    session: str | None,
) -> None:
    if payment_link is not None:
        if not payment_link.startswith("plink_"):
            raise typer.BadParameter(
                "a Payment Link id starts with plink_", param_hint="--payment-link"
            )
        if user is not None:
            raise typer.BadParameter(
                "a Payment Link session carries no user id, only the buyer's e-mail: drop --user",
                param_hint="--payment-link",
            )
        if email is None:
            raise typer.BadParameter(
                "a Payment Link buyer is known by e-mail only: add --email", param_hint="--email"
            )
    if user is None and email is None:
        raise typer.BadParameter(
            "say who buys: --user USER_ID, or --email E (with --payment-link for a Payment Link)",
            param_hint="--user",
        )
    if unpaid and event_type is not TriggerEvent.COMPLETED:
        raise typer.BadParameter(
            f"only {TriggerEvent.COMPLETED} can be unpaid; {event_type} says so itself",
            param_hint="--unpaid",
        )
    if session is not None and not session.startswith("cs_"):
        raise typer.BadParameter("a Checkout Session id starts with cs_", param_hint="--session")


def _same_payment_options(
    user: str | None, email: str | None, payment_link: str | None, credits: int | None, url: str
) -> list[str]:
    """Options that make a later event carry the same session, as Stripe's would, to the same
    server: the credits are read from the event that says "paid", so they must match too."""
    options = [] if user is None else ["--user", user]
    options += [] if email is None else ["--email", email]
    options += [] if payment_link is None else ["--payment-link", payment_link]
    if credits is None:
        options.append("--no-credits-metadata")
    elif credits != DEFAULT_CREDITS:
        options += ["--credits", str(credits)]
    return options if url == DEFAULT_URL else [*options, "--url", url]


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _report(event: dict[str, Any], response: httpx.Response) -> None:
    session = event["data"]["object"]
    buyer = session["client_reference_id"] or session["customer_details"]["email"]
    if session["payment_link"]:
        buyer += f" via {session['payment_link']}"
    credits = session["metadata"].get("credits", "none in metadata")
    show(Text(f"→ {event['type']} {event['id']} to {response.request.url}"))
    show(
        Text(
            f"  session {session['id']} ({session['payment_status']}), buyer {buyer}, "
            f"credits {credits}"
        )
    )
    body = _body(response)
    outcome = ""
    if isinstance(body, dict):
        outcome = body.get("status") or (body.get("error") or {}).get("code", "")
    rendered = json.dumps(body) if not isinstance(body, str) else body
    show(Text(f"← {response.status_code} {outcome}".rstrip() + f"  {rendered}"))


def _suggest_next(
    event_type: TriggerEvent, event: dict[str, Any], response: httpx.Response, same: list[str]
) -> None:
    """The command a person most likely types next, with the ids filled in."""
    body = _body(response)
    session_id = event["data"]["object"]["id"]
    if isinstance(body, dict) and body.get("status") == "needs_attention":
        show(Text(f"Parked: {body.get('error')}. Once fixed: creditflow replay {event['id']}"))
    elif (
        event_type is TriggerEvent.COMPLETED and event["data"]["object"]["payment_status"] != "paid"
    ):
        settle = shlex.join(
            [
                "creditflow",
                "trigger",
                TriggerEvent.ASYNC_PAYMENT_SUCCEEDED.value,
                "--session",
                session_id,
                *same,
            ]
        )
        show(Text(f"Awaiting payment. When it succeeds (or use async_payment_failed):\n  {settle}"))
