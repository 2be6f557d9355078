"""Spends and grants as an app sends them, by idempotency key, and what must hold after faults.

An app that got no answer (the server was killed, the connection cut) sends the same request
again with the same key; `assert_each_posted_once` then checks the ledger against every answer
the app saw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
from sqlalchemy import create_engine, func, select

from creditflow.adapters.db.tables import ledger_entries, wallets
from tests.faults.payments import assert_creditflow_audit_clean
from tests.support import assert_ledger_matches_balances, grant, spend

FUNDING = "funding"  # the key of each wallet's starting grant


@dataclass(frozen=True)
class WalletRequest:
    kind: Literal["spend", "grant"]
    user_id: str
    credits: int
    key: str

    @property
    def delta(self) -> int:
        return self.credits if self.kind == "grant" else -self.credits

    def send(self, client: httpx.Client) -> WalletAnswer:
        """One attempt through `client` (its base URL the server's); a transport error is an
        answer too: none came."""
        try:
            if self.kind == "spend":
                response = spend(client, self.user_id, self.credits, self.key)
            else:
                response = grant(client, self.user_id, self.credits, self.key)
        except httpx.ConnectError:
            return WalletAnswer(self, None, failure="refused")  # never reached a server
        except httpx.TransportError as exc:
            return WalletAnswer(self, None, failure=type(exc).__name__)  # cut off in flight
        body = response.json() if response.status_code == 200 else {}
        return WalletAnswer(
            self,
            response.status_code,
            entry_id=body.get("entry", {}).get("id"),
            replayed=bool(body.get("replayed")),
        )


@dataclass(frozen=True)
class WalletAnswer:
    request: WalletRequest
    status: int | None
    entry_id: int | None = None
    replayed: bool = False
    failure: str | None = None

    @property
    def cut_off(self) -> bool:
        """No answer although the request reached the server: it was in flight at the kill."""
        return self.status is None and self.failure != "refused"

    @property
    def label(self) -> str:
        if self.status is None:
            return f"no answer ({self.failure})"
        return f"{self.status}{' replayed' if self.replayed else ''}"


def assert_each_posted_once(
    database_url: str,
    starting: dict[str, int],
    requests: Sequence[WalletRequest],
    answers: Iterable[WalletAnswer],
) -> None:
    """Every request is in the ledger exactly once, under the entry every 200 for its key named;
    each wallet holds its starting credits moved by exactly its requests; the ledger sums to
    the balances and `creditflow audit` finds nothing."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(ledger_entries.c.reference, ledger_entries.c.id, ledger_entries.c.delta).where(
                ledger_entries.c.reference != FUNDING
            )
        ).all()
        balances = dict(connection.execute(select(wallets.c.user_id, wallets.c.balance)).all())
        entries = connection.execute(select(func.count()).select_from(ledger_entries)).scalar()
    engine.dispose()

    times = Counter(reference for reference, _, _ in rows)
    assert {key: n for key, n in times.items() if n != 1} == {}, "a request posted twice"
    assert set(times) == {request.key for request in requests}, "posted != requested"
    assert entries == len(requests) + len(starting), "entries besides the requests'"
    posted = {reference: (entry_id, delta) for reference, entry_id, delta in rows}
    assert {r.key: posted[r.key][1] for r in requests} == {r.key: r.delta for r in requests}
    named = {(a.request.key, a.entry_id) for a in answers if a.status == 200}
    assert {(key, entry) for key, entry in named if posted[key][0] != entry} == set(), (
        "an answer named an entry that is not the ledger's for its key"
    )
    expected = Counter(starting)
    for request in requests:
        expected[request.user_id] += request.delta
    assert {user: balances[user] for user in starting} == dict(expected)
    assert_ledger_matches_balances(database_url)
    assert_creditflow_audit_clean(database_url)


def tally(answers: Iterable[WalletAnswer]) -> Counter[str]:
    return Counter(answer.label for answer in answers)
