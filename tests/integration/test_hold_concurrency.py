"""Holds raced on a real server (uvicorn, worker threads, both engines): never overdrawn.

The check-then-deduct race that overruns budgets under concurrency is what holds exist to
close: the wallet's lock is taken before its live holds are summed, so concurrent holds queue.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

import httpx

from tests.servers import all_at_once
from tests.support import auth, grant, register

USER = "user_1"
CONCURRENT_HOLDS = 50


def http(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120)


def hold_at(url: str, key: str, credits: int) -> int:
    body = {"credits": credits, "idempotency_key": key, "reason": "a job"}
    with http(url) as client:
        return client.post(f"/v1/wallets/{USER}/holds", json=body, headers=auth()).status_code


def close_at(url: str, hold_id: str, action: str) -> int:
    with http(url) as client:
        return client.post(f"/v1/holds/{hold_id}/{action}", json={}, headers=auth()).status_code


def wallet_of_100(url: str) -> None:
    with http(url) as client:
        register(client, USER)
        assert grant(client, USER, 100, "welcome").status_code == 200


def test_fifty_concurrent_holds_of_three_on_a_hundred_credits_hold_exactly_33(
    live_server: str,
) -> None:
    wallet_of_100(live_server)
    calls = [partial(hold_at, live_server, f"job_{n}", 3) for n in range(CONCURRENT_HOLDS)]
    statuses = Counter(all_at_once(calls))
    assert statuses == {201: 33, 402: 17}
    with http(live_server) as client:
        found = client.get(f"/v1/wallets/{USER}", headers=auth()).json()
    assert (found["balance"], found["held"], found["available"]) == (100, 99, 1)


def test_a_concurrent_capture_and_void_of_one_hold_let_exactly_one_win(live_server: str) -> None:
    wallet_of_100(live_server)
    with http(live_server) as client:
        body = {"credits": 40, "idempotency_key": "job", "reason": "a job"}
        hold_id = client.post(f"/v1/wallets/{USER}/holds", json=body, headers=auth()).json()["id"]
    calls = [partial(close_at, live_server, hold_id, action) for action in ("capture", "void")]
    assert sorted(all_at_once(calls * 3)) == [200, 200, 200, 409, 409, 409]
    with http(live_server) as client:
        status = client.get(f"/v1/holds/{hold_id}", headers=auth()).json()["status"]
        balance = client.get(f"/v1/wallets/{USER}", headers=auth()).json()["balance"]
    assert (status, balance) in (("captured", 60), ("voided", 100))
