"""A webhook sender that behaves like Stripe: every event is retried until a 2xx, with backoff.

Stripe retries a delivery that got no 2xx (an error status, a refused or cut connection, a
timeout) for up to three days with exponential backoff; here the same schedule is compressed to
fractions of a second so a fault test ends in seconds. Each attempt is signed afresh (Stripe
signs every attempt with its own timestamp). Every attempt's answer is kept, so a test can say
what the server answered while a fault was on.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from creditflow.settings import WEBHOOK_PATH
from tests.support import deliver

FIRST_DELAY_SECONDS = 0.05
MAX_DELAY_SECONDS = 0.5
GIVE_UP_SECONDS = 60  # a guard against a test hanging, far beyond any fault the tests inject


@dataclass(frozen=True)
class Answer:
    """One attempt: the HTTP status and creditflow's `status` in the body, or the transport
    error's name when no answer came (connection refused or cut, client timeout)."""

    event_id: str
    status: int | None
    outcome: str | None = None
    failure: str | None = None

    @classmethod
    def of(cls, event_id: str, response: httpx.Response) -> Answer:
        return cls(event_id, response.status_code, _outcome(response))

    @property
    def label(self) -> str:
        if self.status is None:
            return f"no answer ({self.failure})"
        return f"{self.status} {self.outcome}" if self.outcome else str(self.status)


class StripeLikeSender:
    """Delivers events to the base URL `target()` names at each attempt, until each gets a 2xx.

    `settled` counts events that got their 2xx; fault injectors wait on it to strike while the
    load is running.
    """

    def __init__(
        self, target: Callable[[], str], rng: random.Random, *, timeout: float = 10.0
    ) -> None:
        self._target = target
        self._rng = rng
        self._timeout = timeout
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._progress = threading.Condition()
        self._finished = False
        self.settled = 0
        self.answers: list[Answer] = []

    def send_all(self, events: Sequence[dict[str, Any]], *, concurrency: int) -> list[Answer]:
        """Every event delivered until a 2xx, `concurrency` at a time; every attempt's answer."""
        try:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                for attempts in pool.map(self.send_until_2xx, events):
                    self.answers.extend(attempts)
        finally:
            with self._progress:
                self._finished = True
                self._progress.notify_all()
            for client in self._clients:
                client.close()
        return self.answers

    def send_until_2xx(self, event: dict[str, Any]) -> list[Answer]:
        attempts: list[Answer] = []
        deadline = time.monotonic() + GIVE_UP_SECONDS
        delay = FIRST_DELAY_SECONDS
        while True:
            attempts.append(self._attempt(event))
            if attempts[-1].status is not None and 200 <= attempts[-1].status < 300:
                with self._progress:
                    self.settled += 1
                    self._progress.notify_all()
                return attempts
            if time.monotonic() > deadline:
                seen = Counter(answer.label for answer in attempts)
                raise AssertionError(f"{event['id']} got no 2xx in {GIVE_UP_SECONDS} s: {seen}")
            time.sleep(delay * self._rng.uniform(0.5, 1.0))
            delay = min(delay * 2, MAX_DELAY_SECONDS)

    def wait_until_settled(self, count: int) -> bool:
        """Until `count` events got their 2xx; False if the load ended (or hung) before."""
        with self._progress:
            self._progress.wait_for(
                lambda: self.settled >= count or self._finished, timeout=GIVE_UP_SECONDS
            )
            return self.settled >= count

    def _attempt(self, event: dict[str, Any]) -> Answer:
        try:
            response = deliver(self._client(), event, path=f"{self._target()}{WEBHOOK_PATH}")
        except httpx.TransportError as exc:
            return Answer(event["id"], None, failure=type(exc).__name__)
        return Answer.of(event["id"], response)

    def _client(self) -> httpx.Client:
        """One client (one connection pool) per sending thread."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=self._timeout)
            self._clients.append(client)
        return client


def send_under_faults(
    sender: StripeLikeSender,
    events: Sequence[dict[str, Any]],
    rng: random.Random,
    *,
    faults: int,
    strike: Callable[[], str],
    concurrency: int = 8,
) -> tuple[list[Answer], list[str]]:
    """Send `events` while `strike` (a fault, then its repair) runs `faults` times, each when a
    random share of the events (10-60 %) has been settled and a random instant after; every
    attempt's answer, and what each strike reported."""
    total = len(events)
    moments = sorted(rng.choices(range(total // 10, total * 6 // 10), k=faults))

    def strike_at_moments() -> list[str]:
        reports = []
        for moment in moments:
            if not sender.wait_until_settled(moment):
                break
            time.sleep(rng.uniform(0, 0.05))  # not right after an answer: anywhere in a request
            reports.append(f"after {sender.settled} of {total} events: {strike()}")
        return reports

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as injector:
        struck = injector.submit(strike_at_moments)
        answers = sender.send_all(events, concurrency=concurrency)
        reports = struck.result()
    print(f"{total} events in {time.monotonic() - started:.1f} s; meanwhile: {reports}")
    print(f"answers: {dict(tally(answers))}")
    return answers, reports


def _outcome(response: httpx.Response) -> str | None:
    """creditflow's `status` of a delivery, or the `error.code` of an error answer."""
    if response.headers.get("content-type") != "application/json":
        return None
    body = response.json()
    outcome = body.get("status") or body.get("error", {}).get("code")
    return None if outcome is None else str(outcome)


def tally(answers: Iterable[Answer]) -> Counter[str]:
    """How many attempts got each kind of answer, e.g. {'200 processed': 90, '503': 12}."""
    return Counter(answer.label for answer in answers)
