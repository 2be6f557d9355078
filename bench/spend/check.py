"""After a run: did the hot wallet oversell, and does every answer agree with the ledger?

wrk stops mid-flight, so the server may commit up to one spend per connection that wrk never
saw answered: the ledger may hold that many more spends than wrk counted 200s, never fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class HotWallet:
    funding: int
    balance: int  # the wallet row's balance after the run
    spent: int  # credits taken by its spend entries
    spends: int  # its spend entries


@dataclass(frozen=True)
class Answers:
    ok: int  # 200s wrk saw
    refused: int  # 402s
    other: int  # anything else
    connections: int  # at most this many requests were cut off in flight


def read_hot_wallet(connection: Connection, user_id: str, funding: int) -> HotWallet:
    """Balance and spends in one statement: one snapshot, even while late requests commit."""
    balance, spent, spends = connection.execute(
        text(
            "SELECT w.balance, COALESCE(-SUM(e.delta), 0), COUNT(e.id) FROM wallets w "
            "LEFT JOIN ledger_entries e ON e.user_id = w.user_id AND e.kind = 'spend' "
            "WHERE w.user_id = :u GROUP BY w.balance"
        ),
        {"u": user_id},
    ).one()
    return HotWallet(funding=funding, balance=int(balance), spent=int(spent), spends=int(spends))


def hot_wallet_problems(wallet: HotWallet, answers: Answers, credits_each: int = 1) -> list[str]:
    """Every way the run broke the rules; empty when it kept them."""
    problems = []
    if wallet.spent > wallet.funding:
        problems.append(f"oversold: {wallet.spent} credits spent of {wallet.funding}")
    if wallet.balance != wallet.funding - wallet.spent:
        problems.append(
            f"balance {wallet.balance} is not funding {wallet.funding} - spent {wallet.spent}"
        )
    if wallet.balance < 0:
        problems.append(f"negative balance {wallet.balance}")
    if wallet.spent != wallet.spends * credits_each:
        problems.append(f"{wallet.spends} spends of {credits_each} took {wallet.spent} credits")
    if answers.other:
        problems.append(f"{answers.other} answers were neither 200 nor 402")
    unseen = wallet.spends - answers.ok
    if not 0 <= unseen <= answers.connections:
        problems.append(f"{answers.ok} spends answered 200 but {wallet.spends} in the ledger")
    if answers.refused and wallet.balance >= credits_each:
        problems.append(f"{answers.refused} refused (402) while {wallet.balance} credits remain")
    return problems
