"""The side-by-side run's spend check catches what would make a figure a lie: overselling, a
spend recorded without its credits, a refusal while credits remain, answers lost."""

from __future__ import annotations

from bench.peer.checks import SpendAnswers, SpendBooks, spend_problems


def answers(ok: int, refused: int = 0, other: int = 0, connections: int = 16) -> SpendAnswers:
    return SpendAnswers(ok=ok, refused=refused, other=other, cut_off_allowance=connections)


def test_books_that_match_the_answers_pass() -> None:
    books = SpendBooks(spends=105, credits_taken=105, lowest_balance=10)
    assert spend_problems(books, answers(ok=100)) == []  # 5 cut off as wrk stopped


def test_an_empty_wallet_may_refuse() -> None:
    books = SpendBooks(spends=200, credits_taken=200, lowest_balance=0)
    assert spend_problems(books, answers(ok=200, refused=50)) == []


def test_overselling_and_unbacked_spends_are_caught() -> None:
    oversold = SpendBooks(spends=201, credits_taken=201, lowest_balance=-1)
    assert spend_problems(oversold, answers(ok=201)) == ["a balance of -1"]
    unbacked = SpendBooks(spends=100, credits_taken=99, lowest_balance=5)
    assert spend_problems(unbacked, answers(ok=100)) == ["100 spends took 99 credits"]


def test_lost_answers_and_wrong_refusals_are_caught() -> None:
    books = SpendBooks(spends=50, credits_taken=50, lowest_balance=7)
    assert spend_problems(books, answers(ok=100, refused=3, other=2)) == [
        "2 answers were neither 200 nor 402",
        "3 refused (402) while every wallet had credits",
        "100 spends answered 200 but 50 recorded",
    ]
