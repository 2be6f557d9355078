"""`GET /metrics`: counters that say exactly what happened, gauges that say what the database holds.

Every scrape is parsed with prometheus_client's own parser, as Prometheus would read it. The
webhook counters belong to one app (one server process); the backlog gauges, and the grant and
spend counters, are read from the shared database (test_ledger_counters.py: across processes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from creditflow.adapters.stripe import samples
from creditflow.entrypoints.http import create_app
from creditflow.settings import MAX_WEBHOOK_BODY_BYTES
from tests.conftest import ClientFactory
from tests.support import (
    OTHER_SECRET,
    auth,
    deliver,
    error_of,
    fixture,
    make_settings,
    paid_session_event,
    post_webhook,
    register,
    sign_bytes,
)

METRICS_KEY = "cf_test_metrics_key_0123456789"
PAID = "checkout.session.completed"
# The metric a line of the text format is about: its sample, or its `# HELP` / `# TYPE` comment.
METRIC_NAME_OF_LINE = re.compile(r"(?:# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*)")


def scrape(client: httpx.Client, headers: Mapping[str, str] | None = None) -> dict[str, float]:
    """Every sample of `GET /metrics` as `name{label="value",...}` (labels sorted) -> value."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples_by_name: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{name}="{value}"' for name, value in sorted(sample.labels.items()))
            samples_by_name[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples_by_name


def only(metrics: Mapping[str, float], *names: str) -> dict[str, float]:
    """The samples of these metrics, every label combination of each."""
    return {key: value for key, value in metrics.items() if key.split("{")[0] in names}


def deliveries(event_type: str, outcome: str) -> str:
    return f'creditflow_webhook_deliveries_total{{event_type="{event_type}",outcome="{outcome}"}}'


def refused(reason: str) -> str:
    return f'creditflow_webhook_refused_total{{reason="{reason}"}}'


def grants(source: str) -> tuple[str, str]:
    return (
        f'creditflow_grants_total{{source="{source}"}}',
        f'creditflow_credits_granted_total{{source="{source}"}}',
    )


def backlog(metrics: Mapping[str, float]) -> tuple[float, float, float]:
    """The gauges read from the database: pending grants, their credits, parked events."""
    return (
        metrics["creditflow_pending_grants"],
        metrics["creditflow_pending_grant_credits"],
        metrics["creditflow_needs_attention_events"],
    )


def spend(client: httpx.Client, user_id: str, credits: int, key: str) -> httpx.Response:
    body = {"credits": credits, "idempotency_key": key, "reason": "test spend"}
    return client.post(f"/v1/wallets/{user_id}/spend", json=body, headers=auth())


def test_deliveries_are_counted_by_type_and_outcome_refusals_by_reason_and_every_one_is_timed(
    client_for: ClientFactory,
) -> None:
    client = client_for(raise_server_exceptions=False)
    register(client, "user_1")
    first, second = paid_session_event(user_id="user_1"), paid_session_event(user_id="user_1")
    too_large = b"x" * (MAX_WEBHOOK_BODY_BYTES + 1)
    responses = [
        deliver(client, first),
        deliver(client, first),  # Stripe retrying
        deliver(client, second),
        deliver(client, paid_session_event(user_id="user_1", credits=None)),  # no rule prices it
        deliver(client, samples.event("customer.created", fixture("customer.json"))),
        deliver(client, paid_session_event(user_id="user_1"), secret=OTHER_SECRET),
        post_webhook(client, b"not json", {"Stripe-Signature": sign_bytes(b"not json")}),
        post_webhook(client, too_large, {"Stripe-Signature": sign_bytes(too_large)}),
        deliver(
            client, paid_session_event(user_id="user_1"), headers={"Content-Type": "text/plain"}
        ),
    ]

    metrics = scrape(client)

    assert [response.status_code for response in responses] == [200] * 5 + [400, 400, 413, 415]
    assert only(
        metrics, "creditflow_webhook_deliveries_total", "creditflow_webhook_refused_total"
    ) == {
        deliveries(PAID, "processed"): 2,
        deliveries(PAID, "duplicate"): 1,
        deliveries(PAID, "needs_attention"): 1,
        deliveries("customer.created", "ignored"): 1,
        refused("invalid_signature"): 1,
        refused("malformed_payload"): 1,
        refused("payload_too_large"): 1,
        refused("unsupported_media_type"): 1,
        refused("not_configured"): 0,
    }
    assert metrics["creditflow_webhook_duration_seconds_count"] == len(responses)
    assert metrics['creditflow_webhook_duration_seconds_bucket{le="+Inf"}'] == len(responses)
    assert metrics["creditflow_webhook_duration_seconds_sum"] > 0


def test_grants_count_credits_that_reached_a_wallet_and_the_pending_gauges_follow_the_database(
    client: TestClient,
) -> None:
    register(client, "known")
    deliver(client, paid_session_event(user_id="known", credits=100))
    deliver(client, paid_session_event(user_id="later", credits=40))
    deliver(client, paid_session_event(user_id="later", credits=2))
    promotional = {"credits": 7, "idempotency_key": "welcome", "reason": "welcome gift"}
    granted = [  # the retry of a grant moves nothing, so it is not counted again
        client.post("/v1/wallets/known/grants", json=promotional, headers=auth()) for _ in "12"
    ]

    before_claim = scrape(client)
    register(client, "later")
    after_claim = scrape(client)

    assert [response.json()["replayed"] for response in granted] == [False, True]
    purchase_grants, purchase_credits = grants("purchase")
    promotional_grants, promotional_credits = grants("promotional")
    assert (before_claim[purchase_grants], before_claim[purchase_credits]) == (1, 100)
    assert (before_claim[promotional_grants], before_claim[promotional_credits]) == (1, 7)
    assert backlog(before_claim) == (2, 42, 0)
    assert (after_claim[purchase_grants], after_claim[purchase_credits]) == (3, 142)
    assert backlog(after_claim) == (0, 0, 0)


def test_spends_count_what_was_taken_once_and_refusals_for_insufficient_credits(
    client: TestClient,
) -> None:
    register(client, "user_1")
    deliver(client, paid_session_event(user_id="user_1", credits=50))

    spent = [spend(client, "user_1", 30, "gen_1"), spend(client, "user_1", 30, "gen_1")]
    refused_spend = spend(client, "user_1", 21, "gen_2")
    metrics = scrape(client)

    assert [response.json()["replayed"] for response in spent] == [False, True]
    assert error_of(refused_spend) == (402, "insufficient_credits")
    assert metrics["creditflow_spends_total"] == 1
    assert metrics["creditflow_credits_spent_total"] == 30
    assert metrics['creditflow_spends_refused_total{reason="insufficient_credits"}'] == 1


def test_no_created_series_are_exposed_only_the_counts_themselves(client: TestClient) -> None:
    """prometheus_client adds a `*_created` series to each counter and histogram by default."""
    register(client, "user_1")
    deliver(client, paid_session_event(user_id="user_1"))

    response = client.get("/metrics")
    names = {
        match.group(1)
        for line in response.text.splitlines()
        if (match := METRIC_NAME_OF_LINE.match(line)) is not None
    }

    assert [name for name in names if name.endswith("_created")] == []
    assert {
        "creditflow_webhook_deliveries_total",
        "creditflow_grants_total",
        "creditflow_spends_total",
        "creditflow_webhook_duration_seconds_count",
    } <= names


def test_webhook_counters_belong_to_one_process_while_the_backlog_gauges_are_global(
    client_for: ClientFactory,
) -> None:
    """Two apps on one database stand for two server processes behind a load balancer."""
    receiving, other = client_for(), client_for()
    deliver(receiving, paid_session_event(user_id="nobody_yet", credits=10))
    deliver(receiving, paid_session_event(user_id="user_1", credits=None))

    seen_by_other = scrape(other)

    assert backlog(seen_by_other) == (1, 10, 1)
    assert seen_by_other["creditflow_database_up"] == 1
    assert not any(name.startswith("creditflow_webhook_deliveries_total") for name in seen_by_other)
    assert scrape(receiving)[deliveries(PAID, "needs_attention")] == 1


def test_with_the_database_down_metrics_still_answer_and_say_so(
    unreachable_database_url: str,
) -> None:
    with TestClient(create_app(make_settings(unreachable_database_url))) as client:
        delivery = deliver(client, paid_session_event(user_id="user_1"))
        metrics = scrape(client)

    assert error_of(delivery) == (503, "database_unavailable")
    assert metrics["creditflow_database_up"] == 0
    assert "creditflow_pending_grants" not in metrics
    # Left out, not 0: Prometheus would take a counter back at 0 for a reset.
    assert 'creditflow_grants_total{source="purchase"}' not in metrics
    assert metrics["creditflow_webhook_duration_seconds_count"] == 1


class TestMetricsKey:
    def test_without_one_metrics_are_open_like_most_exporters(self, client: TestClient) -> None:
        assert client.get("/metrics").status_code == 200

    @pytest.mark.parametrize(
        "headers", [{}, auth(), auth("not-the-key")], ids=["none", "api key", "wrong"]
    )
    def test_when_set_only_that_key_reads_them(
        self, client_for: ClientFactory, headers: dict[str, str]
    ) -> None:
        client = client_for(metrics_key=SecretStr(METRICS_KEY))

        assert error_of(client.get("/metrics", headers=headers)) == (401, "unauthorized")
        assert "creditflow_grants_total" in client.get("/metrics", headers=auth(METRICS_KEY)).text

    def test_metrics_are_not_part_of_the_api_document(self, client: TestClient) -> None:
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]
