"""What one wrk run sends: a stream of requests per wrk thread, 90% new payments, 10% re-sends.

Every tenth request of a thread is an exact re-send (same body, same signature, same event id) of
a new payment that thread sent earlier, at least `gap` requests before, so the first delivery has
most likely been answered: a duplicate, not a race. Threads never share a new payment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from bench.webhook.payments import Payment, new_payment, signed

DUPLICATE_EVERY = 10  # 10% duplicates


@dataclass(frozen=True)
class Request:
    payment: Payment
    signature: str
    duplicate: bool


@dataclass
class Load:
    """Per-thread request streams; `write` lays them out for bench/lua/webhook.lua."""

    streams: list[list[Request]] = field(default_factory=list)

    def write(self, prefix: Path) -> None:
        for thread, stream in enumerate(self.streams):
            lines = []
            for request in stream:
                body = request.payment.body.decode()
                assert "\t" not in body, "compact JSON has no tab"
                assert "\n" not in body, "nor a newline"
                lines.append(f"{request.signature}\t{body}\n")
            Path(f"{prefix}.{thread}").write_text("".join(lines))

    def sent(self, issued: dict[str, int]) -> list[Request]:
        """What wrk's threads took, from how many requests each one issued (wrk's summary)."""
        taken: list[Request] = []
        for thread, stream in enumerate(self.streams):
            taken.extend(stream[: issued.get(str(thread), 0)])
        return taken

    def exhausted(self, issued: dict[str, int]) -> bool:
        return any(count > len(self.streams[int(t)]) for t, count in issued.items())


def make_load(
    threads: int, per_thread: int, users: int, gap: int, rng: random.Random, body: str = "stripe"
) -> Load:
    """`threads` streams of `per_thread` requests for users 0..users-1 (bodies: payments.BODIES)."""
    load = Load()
    for _ in range(threads):
        stream: list[Request] = []
        originals: list[Request] = []
        for position in range(per_thread):
            if position % DUPLICATE_EVERY == DUPLICATE_EVERY - 1 and len(originals) > gap:
                original = rng.choice(originals[: len(originals) - gap])
                stream.append(Request(original.payment, original.signature, duplicate=True))
                continue
            payment = new_payment(rng.randrange(users), body_shape=body)
            request = Request(payment, signed(payment.body), duplicate=False)
            originals.append(request)
            stream.append(request)
        load.streams.append(stream)
    return load
