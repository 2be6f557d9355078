"""After each point of the side-by-side run: did each side keep its promises?

wrk stops mid-flight, so a server may finish up to one request per connection per run that wrk
never saw answered: the database may hold that many more than wrk counted, never fewer.
creditflow's webhook side is checked by bench/webhook/checks.py (its inbox, ledger and audit);
here, the peer's webhook side, and the spends of both.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from bench.webhook.checks import SETTLE_DEADLINE, SETTLE_SECONDS, Answers, CorrectnessError
from bench.webhook.load import Request
from bench.webhook.payments import CREDITS

PEER_OUTCOMES = {"granted", "duplicate"}


def check_peer_webhook(conninfo: str, sent: Sequence[Request], answers: Answers) -> None:
    """Every answer 200 and granted or duplicate; one purchase per payment received, each in its
    buyer's wallet once; none parked (every buyer is registered)."""
    sessions = _settled(conninfo, "SELECT session_id FROM peer_purchases")
    with psycopg.connect(conninfo) as connection:
        credits, parked = connection.execute(
            "SELECT (SELECT COALESCE(SUM(credits), 0) FROM peer_wallets), "
            "(SELECT COUNT(*) FROM peer_parked)"
        ).fetchone() or (0, 0)
    issued = {request.payment.session_id for request in sent}
    failures = []
    if set(answers.statuses) - {"200"} or answers.errors:
        failures.append(
            f"answers other than 200: {dict(answers.statuses)}, {answers.errors} errors"
        )
    if set(answers.outcomes) - PEER_OUTCOMES:
        failures.append(f"outcomes other than granted/duplicate: {dict(answers.outcomes)}")
    if stray := sessions - issued:
        failures.append(f"{len(stray)} purchases were never sent, e.g. {sorted(stray)[:3]}")
    if not 0 <= len(issued) - len(sessions) <= answers.cut_off_allowance:
        failures.append(f"{len(issued) - len(sessions)} payments issued but never stored")
    if answers.outcomes["granted"] > len(sessions):
        failures.append(f"{answers.outcomes['granted']} answered granted, {len(sessions)} stored")
    if credits != CREDITS * len(sessions) or parked:
        failures.append(f"wallets hold {credits} for {len(sessions)} purchases; {parked} parked")
    if failures:
        raise CorrectnessError("peer: " + "; ".join(failures))


@dataclass
class SpendAnswers:
    """What wrk saw answered, summed over every spend run on one database (warm-ups too)."""

    ok: int = 0
    refused: int = 0  # 402: only right once the wallet is empty
    other: int = 0  # anything else, socket errors and timeouts included
    cut_off_allowance: int = 0

    def add(self, run: dict[str, int], connections: int) -> None:
        self.ok += run["ok"]
        self.refused += run["refused"]
        self.other += run["other"] + run["socket_errors"] + run["timeouts"]
        self.cut_off_allowance += connections


@dataclass(frozen=True)
class Funding:
    """What each wallet held before the run: `each`, but for those `apart` names."""

    each: int
    apart: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SpendBooks:
    """What the database says was spent: spend records, credits gone from wallets since the
    funding, and the lowest balance."""

    spends: int
    credits_taken: int
    lowest_balance: int


def spend_problems(books: SpendBooks, answers: SpendAnswers, credits_each: int = 1) -> list[str]:
    """Every way the run broke the rules; empty when it kept them. Oversold: credits taken that
    no wallet had (a balance below zero, or taken != spends recorded)."""
    problems = []
    if answers.other:
        problems.append(f"{answers.other} answers were neither 200 nor 402")
    if answers.refused and books.lowest_balance >= credits_each:
        problems.append(f"{answers.refused} refused (402) while every wallet had credits")
    if not 0 <= books.spends - answers.ok <= answers.cut_off_allowance:
        problems.append(f"{answers.ok} spends answered 200 but {books.spends} recorded")
    if books.credits_taken != books.spends * credits_each:
        problems.append(f"{books.spends} spends took {books.credits_taken} credits")
    if books.lowest_balance < 0:
        problems.append(f"a balance of {books.lowest_balance}")
    return problems


def peer_spend_books(conninfo: str, funding: Funding) -> SpendBooks:
    spends = "SELECT idempotency_key FROM peer_spends"
    return _books(conninfo, spends, "SELECT user_id, credits FROM peer_wallets", funding)


def creditflow_spend_books(conninfo: str, funding: Funding) -> SpendBooks:
    spends = "SELECT id FROM ledger_entries WHERE kind = 'spend'"
    return _books(conninfo, spends, "SELECT user_id, balance FROM wallets", funding)


def _books(conninfo: str, spends: str, balances: str, funding: Funding) -> SpendBooks:
    """The spends recorded (once settled) and the wallets' balances against their funding."""
    recorded = len(_settled(conninfo, spends))
    with psycopg.connect(conninfo) as connection:
        rows = connection.execute(balances.encode()).fetchall()
    taken = sum(funding.apart.get(user, funding.each) - balance for user, balance in rows)
    return SpendBooks(recorded, int(taken), min(int(balance) for _, balance in rows))


def _settled(conninfo: str, query: str) -> set[str]:
    """The rows `query` names once the requests wrk left in flight are done: unchanged for
    SETTLE_SECONDS."""
    deadline = time.monotonic() + SETTLE_DEADLINE
    previous: set[str] | None = None
    while True:
        with psycopg.connect(conninfo) as connection:
            rows = {str(row[0]) for row in connection.execute(query.encode())}
        if rows == previous or time.monotonic() > deadline:
            return rows
        previous = rows
        time.sleep(SETTLE_SECONDS)
