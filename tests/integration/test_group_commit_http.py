"""/v1 spends and grants with group commit (CREDITFLOW_GROUP_COMMIT, on by default) and without:
the spending tests of test_spending.py (which run on the default) answer the same with it off,
and concurrent spends on one hot wallet over real HTTP never oversell with it on (every
invariant is audited after each test, as for every app fixture)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from creditflow.settings import Settings
from tests.integration import test_spending
from tests.support import balance, grant, make_settings, register, spend

# The spending tests, collected here again: with this module's `settings`, one transaction each.
globals().update(
    {
        name: value
        for name, value in vars(test_spending).items()
        if name.startswith("test_") or name == "wallet_of_100"
    }
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, group_commit=False)


def test_concurrent_spends_on_one_hot_wallet_over_http_never_oversell(
    live_server_for: Callable[..., str],
) -> None:
    url = live_server_for(group_commit=True)
    with httpx.Client(base_url=url) as client:
        register(client, "hot")
        assert grant(client, "hot", 100, "funding").status_code == 200

    def spend_seven(i: int) -> int:
        with httpx.Client(base_url=url) as client:
            return spend(client, "hot", 7, f"s{i}").status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(spend_seven, range(40)))

    assert (statuses.count(200), statuses.count(402)) == (14, 26)
    with httpx.Client(base_url=url) as client:
        assert balance(client, "hot") == 2
