"""What one benchmark run does; every knob is a command-line option of `python -m bench.webhook`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.webhook.payments import WEBHOOK_SECRET

RESULTS = Path(__file__).resolve().parents[1] / "results"
# Bodies are signed before the run, up to minutes earlier: the bench server accepts signatures up
# to a day old (CREDITFLOW_WEBHOOK_TOLERANCE). Nothing else differs from a deployment's settings.
TOLERANCE_SECONDS = 86_400


@dataclass(frozen=True)
class Config:
    connections: tuple[int, ...] = (1, 16, 64)
    seconds: float = 10.0
    warmup: float = 2.0
    engines: tuple[str, ...] = ("postgres", "sqlite")
    postgres_workers: int = 2
    # One process owns the embedded database (as `creditflow serve` runs it); two processes on one
    # file only add lock hand-offs between them.
    sqlite_workers: int = 1
    wrk_threads: int = 2
    users: int = 1000
    max_rate: int = 3000  # new bodies made per second of each run: more than any run can send
    limits: bool = True  # also measure the database's and the HTTP layer's limits
    results: Path = RESULTS
    # WARNING: one INFO line per delivery would measure the log handler (and the peer of
    # bench/peer logs nothing per request either); INFO is `creditflow serve`'s default.
    log_level: str = "WARNING"
    body: str = "stripe"  # what each delivery carries: bench.webhook.payments.BODIES

    def workers(self, engine: str) -> int:
        return self.postgres_workers if engine == "postgres" else self.sqlite_workers


def server_environment(database_url: str, log_level: str = "WARNING") -> dict[str, str]:
    """A deployment's settings, but for the signature tolerance and the log level (WARNING unless
    told: one INFO line per delivery would measure the log handler)."""
    return {
        "CREDITFLOW_DATABASE_URL": database_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CREDITFLOW_WEBHOOK_TOLERANCE": str(TOLERANCE_SECONDS),
        "CREDITFLOW_LOG_LEVEL": log_level,
    }
