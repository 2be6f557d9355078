"""Logs: one JSON object per line, naming the request and the Stripe event; never a secret.

In-process tests put our JSON handler on the root logger (as `serve` does) and read what the app
logged while real HTTP requests went through it. The last test runs `creditflow serve` itself, so
uvicorn's access log, the logging set-up and the stdout/stderr split are the real ones.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditflow.logging_setup import LogFormat, build_handler
from creditflow.settings import WEBHOOK_PATH
from tests.cli.support import serve
from tests.conftest import ClientFactory
from tests.fakes.stripe_api import FakeStripeApi
from tests.support import (
    API_KEY,
    OTHER_SECRET,
    PRICE,
    WEBHOOK_SECRET,
    auth,
    catalog_toml,
    deliver,
    paid_session_event,
    paid_without_credits,
    register,
    replay,
    session_id_of,
)

LogLines = Callable[[], list[dict[str, Any]]]
HEX_ID = 32  # a generated request id: uuid4().hex


@contextmanager
def logged(log_format: LogFormat) -> Iterator[io.StringIO]:
    """Everything logged at INFO and above, through one of our handlers on the root logger."""
    stream = io.StringIO()
    handler = build_handler(log_format, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with logged(LogFormat.JSON) as stream:
        yield stream


@pytest.fixture
def json_lines(captured: io.StringIO) -> LogLines:
    """The captured lines, each parsed (a line that is not one JSON object fails the test)."""

    def parsed() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in captured.getvalue().splitlines()]
        assert all(isinstance(line, dict) for line in lines)
        return lines

    return parsed


def lines_of(lines: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("request_id") == request_id]


def test_a_delivery_logs_json_lines_naming_the_callers_request_id_and_the_event(
    client_for: ClientFactory, json_lines: LogLines
) -> None:
    client = client_for()
    register(client, "user_1")
    event = paid_session_event(user_id="user_1")

    response = deliver(client, event, headers={"X-Request-ID": "req-7f3a"})

    assert response.headers["X-Request-ID"] == "req-7f3a"
    [outcome] = [
        line for line in lines_of(json_lines(), "req-7f3a") if line.get("event_id") == event["id"]
    ]
    assert outcome["message"] == f"delivery {event['id']}: processed"
    assert (outcome["level"], outcome["logger"]) == ("INFO", "creditflow.services.deliveries")
    assert outcome["timestamp"].endswith("+00:00")


def test_every_line_has_the_fields_log_tools_index(
    client_for: ClientFactory, json_lines: LogLines
) -> None:
    client = client_for()
    deliver(client, paid_session_event(user_id="nobody_yet"))
    deliver(client, paid_session_event(user_id="user_1"), secret=OTHER_SECRET)

    lines = json_lines()

    assert all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
    # The app's own lines (the test client's httpx logs too, outside any request).
    served = [line for line in lines if line["logger"].startswith("creditflow.")]
    assert len(served) == 2
    assert all("request_id" in line for line in served)


def test_without_an_incoming_id_one_is_made_up_echoed_and_logged_and_no_event_is_named(
    client_for: ClientFactory, json_lines: LogLines
) -> None:
    client = client_for()

    response = deliver(client, paid_session_event(user_id="user_1"), secret=OTHER_SECRET)

    generated = response.headers["X-Request-ID"]
    assert len(generated) == HEX_ID
    [refusal] = lines_of(json_lines(), generated)
    assert refusal["level"] == "WARNING"
    assert refusal["message"].startswith("webhook refused (invalid_signature)")
    assert "event_id" not in refusal  # an unverified body names nothing we trust


@pytest.mark.parametrize("incoming", ["two words", "x" * 201, ""])
def test_an_incoming_id_that_is_not_a_plain_token_is_replaced_not_logged(
    client_for: ClientFactory, json_lines: LogLines, incoming: str
) -> None:
    client = client_for()

    response = client.get("/v1/pending-grants", headers={**auth(), "X-Request-ID": incoming})

    assert len(response.headers["X-Request-ID"]) == HEX_ID
    assert response.headers["X-Request-ID"] != incoming


def test_a_replay_logs_with_the_event_it_processes(
    client_for: ClientFactory, json_lines: LogLines
) -> None:
    client = client_for()
    event = paid_session_event(user_id="later")
    deliver(client, event)

    replay(client, event["id"])

    replayed = [line for line in json_lines() if line.get("event_id") == event["id"]]
    assert len({line["request_id"] for line in replayed}) == 2  # the delivery, then the replay


def test_text_format_names_the_ids_at_the_end_of_the_line(client_for: ClientFactory) -> None:
    event = paid_session_event(user_id="user_1")
    with logged(LogFormat.TEXT) as stream:
        deliver(client_for(), event, headers={"X-Request-ID": "req-1"})

    [line] = [line for line in stream.getvalue().splitlines() if "processed" in line]
    assert line.endswith(f"[request_id=req-1 event_id={event['id']}]")
    assert " INFO    creditflow.services.deliveries: delivery " in line


@pytest.mark.slow
def test_serve_logs_json_on_stdout_with_uvicorns_access_log_and_never_a_secret(
    database_url: str, tmp_path: Path, fake_stripe: FakeStripeApi
) -> None:
    """At DEBUG, with every secret configured and used: a grant priced through the Stripe API,
    a wrong-signature delivery, wrong and missing API keys."""
    wrong_key = "cf_wrong_key_guessed_by_someone"
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(catalog_toml({PRICE: 10}))
    env = {
        "CREDITFLOW_DATABASE_URL": database_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CREDITFLOW_API_KEY": API_KEY,
        "STRIPE_SECRET_KEY": fake_stripe.api_key,
        "STRIPE_API_BASE": fake_stripe.base_url,
        "CREDITFLOW_CATALOG": str(catalog),
        "CREDITFLOW_LOG_LEVEL": "debug",
    }
    event = paid_without_credits()
    fake_stripe.sell(session_id_of(event), (PRICE, 2))

    with serve(tmp_path, env) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        register(http, "user_42")
        granted = deliver(http, event, headers={"X-Request-ID": "req-grant"})
        forged = deliver(http, paid_session_event(user_id="user_42"), secret=OTHER_SECRET)
        unauthorized = [http.get("/v1/events", headers=auth(wrong_key)), http.get("/v1/events")]
    lines = [json.loads(line) for line in server.log_lines()]  # the server has stopped

    assert granted.json()["status"] == "processed"
    assert fake_stripe.requests == [f"/v1/checkout/sessions/{session_id_of(event)}/line_items"]
    assert forged.status_code == 400
    assert [response.status_code for response in unauthorized] == [401, 401]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert f'"POST {WEBHOOK_PATH} HTTP/1.1" 200' in lines_of(access, "req-grant")[0]["message"]
    assert len(access) >= 5  # healthz polls, registration, the three above
    assert any(line.get("event_id") == event["id"] for line in lines)
    everything = "\n".join([*server.log_lines(), server.output()])
    for secret in (WEBHOOK_SECRET, OTHER_SECRET, API_KEY, fake_stripe.api_key, wrong_key):
        assert secret not in everything
