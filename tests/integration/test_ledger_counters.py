"""The grant and spend counters of `/metrics` are read from the ledger: every process's grants
show in every server's metrics (the CLI's too), once, and the totals a process caches below its
horizon stay right as time moves on."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from creditflow.services.ledger_totals import SETTLE_LAG
from tests.cli.support import cli_json
from tests.conftest import ClientFactory
from tests.integration.test_metrics import grants, scrape, spend
from tests.support import ManualClock, auth, deliver, paid_session_event, register, services_at

PAST_THE_HORIZON = SETTLE_LAG + timedelta(minutes=1)


def granted(metrics: dict[str, float], source: str) -> tuple[float, float]:
    """(grants, credits granted) of one source."""
    count, credits = grants(source)
    return metrics[count], metrics[credits]


def spent(metrics: dict[str, float]) -> tuple[float, float]:
    return metrics["creditflow_spends_total"], metrics["creditflow_credits_spent_total"]


def grant(client: httpx.Client, user_id: str, credits: int, key: str) -> httpx.Response:
    body = {"credits": credits, "idempotency_key": key, "reason": "test grant"}
    return client.post(f"/v1/wallets/{user_id}/grants", json=body, headers=auth())


def test_grants_and_claims_made_by_the_cli_show_in_the_servers_metrics_once(
    live_server: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", database_url)  # the operator's CLI
    promotion = ("grant", "ada", "50", "--reason", "welcome bonus", "--idempotency-key", "promo-7")
    with httpx.Client(base_url=live_server, timeout=30) as server:
        before = scrape(server)
        # "later" is no user yet: the server holds the purchase as a pending grant.
        assert deliver(server, paid_session_event(user_id="later", credits=40)).status_code == 200
        cli_json("users", "add", "ada")
        replayed = [cli_json(*promotion)["replayed"] for _ in "12"]
        claimed = cli_json("users", "add", "later")  # registration claims the pending grant
        after = scrape(server)

    assert replayed == [False, True]
    assert claimed["balance"] == 40
    assert (granted(before, "promotional"), granted(before, "purchase")) == ((0, 0), (0, 0))
    assert granted(after, "promotional") == (1, 50)
    assert granted(after, "purchase") == (1, 40)  # counted when claimed, as a purchase
    assert after["creditflow_pending_grants"] == 0


def test_every_server_reports_the_same_totals_whichever_of_them_moved_the_credits(
    client_for: ClientFactory,
) -> None:
    """Two apps on one database stand for two server processes behind a load balancer."""
    first, second = client_for(), client_for()
    register(first, "ada")
    deliver(first, paid_session_event(user_id="ada", credits=30))
    spends = [spend(second, "ada", 12, "gen_1") for _ in "12"]  # the retry takes nothing
    grant(second, "ada", 4, "sorry")

    seen = [scrape(first), scrape(second)]

    assert [response.json()["replayed"] for response in spends] == [False, True]
    assert [granted(metrics, "purchase") for metrics in seen] == [(1, 30)] * 2
    assert [granted(metrics, "promotional") for metrics in seen] == [(1, 4)] * 2
    assert [spent(metrics) for metrics in seen] == [(1, 12)] * 2


def test_totals_stay_right_as_entries_age_past_the_horizon_over_several_scrapes(
    client_for: ClientFactory, database_url: str
) -> None:
    clock = ManualClock()
    client = client_for(clock=clock)
    register(client, "ada")
    with services_at(database_url, clock.now - timedelta(days=30)) as long_ago:
        long_ago.wallets.grant("ada", 10, "old", "granted long ago", None)
    seen = []

    seen.append(scrape(client))  # the first scrape: the whole history, once
    grant(client, "ada", 5, "recent")
    seen.append(scrape(client))
    clock.advance(PAST_THE_HORIZON)  # the grant of 5 falls behind the horizon: cached
    seen.append(scrape(client))
    grant(client, "ada", 7, "newer")
    spend(client, "ada", 3, "gen_1")
    spend(client, "ada", 3, "gen_1")
    seen.append(scrape(client))
    clock.advance(PAST_THE_HORIZON)
    seen.append(scrape(client))
    seen.append(scrape(client))

    assert [granted(metrics, "promotional") for metrics in seen] == [
        (1, 10),
        (2, 15),
        (2, 15),
        (3, 22),
        (3, 22),
        (3, 22),
    ]
    assert [spent(metrics) for metrics in seen] == [(0, 0)] * 3 + [(1, 3)] * 3


def test_a_scrape_reads_only_the_entries_newer_than_the_horizon_it_cached(
    client_for: ClientFactory, database_url: str
) -> None:
    """Shown by an entry that appears below the horizon after it was cached (as one would from
    a transaction committed longer than the lag after it began): that process never reads it; a
    process started later counts it."""
    client, clock = with_a_cached_grant_of_5(client_for)

    with services_at(database_url, clock.now - timedelta(days=1)) as behind:
        behind.wallets.grant("ada", 100, "late", "committed a day after it was made", None)
    grant(client, "ada", 7, "second")

    assert granted(scrape(client), "promotional") == (2, 12)
    assert granted(scrape(client_for()), "promotional") == (3, 112)


def test_a_clock_set_back_neither_recounts_nor_loses_what_was_cached(
    client_for: ClientFactory,
) -> None:
    client, clock = with_a_cached_grant_of_5(client_for)
    clock.advance(-2 * PAST_THE_HORIZON)  # its recent range would hold that grant again

    assert [granted(scrape(client), "promotional") for _ in "12"] == [(1, 5), (1, 5)]


def with_a_cached_grant_of_5(client_for: ClientFactory) -> tuple[TestClient, ManualClock]:
    """An app that granted ada 5 credits, then scraped with its clock past that grant's horizon:
    the grant is in the totals it caches."""
    clock = ManualClock()
    client = client_for(clock=clock)
    register(client, "ada")
    grant(client, "ada", 5, "first")
    scrape(client)
    clock.advance(PAST_THE_HORIZON)
    scrape(client)
    return client, clock
