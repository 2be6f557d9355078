"""The four measured series: each side's webhook and spends, each on its own fresh database and
server process, one after the other, so they never compete for the two cores.

The load is the existing harness's: bench/webhook's (signed `checkout.session.completed`, 90 %
new and 10 % exact re-sends, bench/lua/webhook.lua) and bench/spend's (1 credit on a random
funded wallet, a fresh key each, bench/spend/spend.lua), with every point checked afterwards.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.peer.checks import (
    Funding,
    SpendAnswers,
    check_peer_webhook,
    creditflow_spend_books,
    peer_spend_books,
    spend_problems,
)
from bench.peer.database import fund_spend_users, peer_database, register_webhook_users
from bench.scale.pgdb import scratch_database
from bench.scale.seed import SeedPlan, seed
from bench.scale.server import API_KEY, server_env
from bench.spend import run as spend
from bench.webhook import runner
from bench.webhook.checks import Answers, CorrectnessError
from bench.webhook.config import TOLERANCE_SECONDS, Config
from bench.webhook.load import Request
from bench.webhook.payments import WEBHOOK_SECRET
from bench.webhook.server import serving
from bench.webhook.stats import Point
from bench.webhook.wrk import as_point

FUNDING = 10**12  # per spend wallet: no run can empty one
HOT = "hot"  # the one wallet every spend of the hot scenario takes from


@dataclass(frozen=True)
class Side:
    """How one side is served: a name in bench/webhook/server.py's COMMANDS, and its workers."""

    label: str
    command: str
    workers: int


PEER = Side("one-function peer", "peer", 1)
# The peer's HTTP stack: creditflow's (uvloop, httptools) or plain uvicorn's (asyncio, h11).
PEER_STACKS = {"creditflow": "peer", "plain": "peer-plain-uvicorn"}


def webhook(side: Side, config: Config, workdir: Path, rng: random.Random) -> list[Point]:
    if side.label == PEER.label:
        return _peer_webhook(side, config, workdir, rng)
    one_side = Config(**{**vars(config), "postgres_workers": side.workers})
    return runner.fulfilment("postgres", one_side, workdir, rng, app=side.command)


def _peer_webhook(peer: Side, config: Config, workdir: Path, rng: random.Random) -> list[Point]:
    points = []
    with peer_database("peer_webhook") as conninfo:
        register_webhook_users(conninfo, config.users)
        env = {
            "PEER_DATABASE_URL": conninfo,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PEER_WEBHOOK_TOLERANCE": str(TOLERANCE_SECONDS),
        }
        with serving(peer.command, env, peer.workers, workdir) as server:
            sent: list[Request] = []
            answers = Answers()
            for connections in config.connections:
                result = runner.drive(server.url, config, connections, workdir, rng, sent, answers)
                check_peer_webhook(conninfo, sent, answers)
                points.append(as_point(connections, result))
                _say(f"{PEER.label} webhook", points[-1])
    return points


def spends(
    side: Side, config: Config, workdir: Path, hot_funding: int | None = None
) -> list[Point]:
    """1-credit spends on random wallets u1..u`config.users`, each funded with FUNDING; or, with
    `hot_funding`, all on the one wallet HOT, funded with that."""
    is_peer = side.label == PEER.label
    database = peer_database("peer_spend") if is_peer else scratch_database("cf_spend")
    hot = () if hot_funding is None else ((HOT, hot_funding),)
    with database as url:
        if is_peer:
            fund_spend_users(url, config.users, FUNDING, hot)
            env = {"PEER_DATABASE_URL": url, "PEER_API_KEY": API_KEY, "STRIPE_WEBHOOK_SECRET": "-"}
            books = peer_spend_books
        else:
            _seed_creditflow(url, config.users, hot)
            env = server_env(url, CREDITFLOW_LOG_LEVEL=config.log_level)
            books = creditflow_spend_books
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        start = Funding(FUNDING, dict(hot))
        scenario = "spend" if hot_funding is None else "hot-wallet spend"
        with serving(side.command, env, side.workers, workdir) as server:
            points, answers = [], SpendAnswers()
            for connections in config.connections:
                run: dict[str, Any] = {}
                for seconds in (config.warmup, config.seconds):
                    if seconds > 0:
                        run = _spend_run(server.url, connections, seconds, config, hot)
                        answers.add(run, connections)
                problems = spend_problems(books(conninfo, start), answers)
                if not is_peer:
                    problems += _audit(env)
                if problems:
                    raise CorrectnessError(f"{side.label} {scenario}: " + "; ".join(problems))
                points.append(_spend_point(run))
                _say(f"{side.label} {scenario}", points[-1])
    return points


def _spend_run(
    url: str, connections: int, seconds: float, config: Config, hot: tuple[tuple[str, int], ...]
) -> dict[str, Any]:
    target = hot[0][0] if hot else ""
    return spend.wrk(url, connections, seconds, config.users, target, threads=config.wrk_threads)


def _seed_creditflow(url: str, users: int, extra: tuple[tuple[str, int], ...]) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        seed(connection, SeedPlan(users=users, entries=0, funding=FUNDING, extra_wallets=extra))
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def _audit(env: dict[str, str]) -> list[str]:
    checked = spend.audit(env)
    return [] if checked["exit_code"] == 0 else [f"creditflow audit: {checked['report']}"]


def _spend_point(run: dict[str, Any]) -> Point:
    return Point(
        connections=run["connections"],
        rate=run["spends_per_s"],
        p50_ms=run["p50_ms"],
        p90_ms=run["p90_us"] / 1000,
        p99_ms=run["p99_ms"],
        requests=run["requests"],
        seconds=run["duration_us"] / 1e6,
        non_2xx=run["refused"] + run["other"],
        errors=run["socket_errors"] + run["timeouts"],
    )


def _say(what: str, point: Point) -> None:
    print(
        f"  {what:36} c={point.connections:<3} {point.rate:8.1f}/s  p50 {point.p50_ms:7.1f} ms"
        f"  p99 {point.p99_ms:7.1f} ms  non-2xx {point.non_2xx}",
        flush=True,
    )
