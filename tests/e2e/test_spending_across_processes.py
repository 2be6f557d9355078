"""Concurrent spends never oversell: 200 requests for 1 credit against a wallet of 100.

Over real HTTP, released together from a barrier: first one server (uvicorn in a thread) on each
database, then two server processes sharing one PostgreSQL database, as creditflow scales out.
Exactly 100 spends succeed, the other 100 are refused with 402, and every invariant holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.servers import all_at_once, server_processes
from tests.support import (
    assert_database_audit_clean,
    assert_ledger_matches_balances,
    balance,
    grant,
    register,
    server_environment,
    spend,
    story,
)

pytestmark = pytest.mark.slow

USER = "user_1"
WALLET = 100
SPENDS = 200


def spend_one_at(url: str, key: str) -> int:
    with httpx.Client(base_url=url, timeout=120) as client:
        return spend(client, USER, 1, key).status_code


def fill_then_spend_all_at_once(urls: Sequence[str]) -> Counter[int]:
    """A wallet of `WALLET` credits, then `SPENDS` spends of 1 (distinct keys) spread over
    `urls`, all at once; how many got each status code."""
    with httpx.Client(base_url=urls[0], timeout=30) as client:
        register(client, USER)
        assert grant(client, USER, WALLET, "starting_credits").status_code == 200
    calls = [partial(spend_one_at, urls[n % len(urls)], f"gen_{n}") for n in range(SPENDS)]
    return Counter(all_at_once(calls))


def assert_spent_exactly_the_wallet(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        assert balance(client, USER) == 0
        assert Counter(kind for kind, _ in story(client, USER)) == {"grant": 1, "spend": WALLET}


def test_two_hundred_concurrent_spends_of_one_credit_from_a_wallet_of_100_sell_exactly_100(
    live_server: str,
) -> None:
    results = fill_then_spend_all_at_once([live_server])

    assert results == {200: WALLET, 402: SPENDS - WALLET}
    assert_spent_exactly_the_wallet(live_server)


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    env = server_environment(postgres_url)
    with server_processes(2, env, tmp_path) as urls:
        yield urls
    assert_database_audit_clean(postgres_url)
    assert_ledger_matches_balances(postgres_url)


@pytest.mark.postgres_only
def test_two_hundred_concurrent_spends_over_two_server_processes_sell_exactly_100(
    two_servers: list[str],
) -> None:
    results = fill_then_spend_all_at_once(two_servers)

    assert results == {200: WALLET, 402: SPENDS - WALLET}
    assert_spent_exactly_the_wallet(two_servers[1])
