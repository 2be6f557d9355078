"""The three measurements: fulfilment per engine, the database's limit, the HTTP layer's limit.

Each runs against its own fresh database and its own server process, one after the other, so
they never compete for the two cores or for PostgreSQL's connections.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from bench import pgbench_sql
from bench.webhook.checks import Answers, check
from bench.webhook.config import Config, server_environment
from bench.webhook.databases import POSTGRES_SERVER, database, register_users
from bench.webhook.load import Load, Request, make_load
from bench.webhook.pgbench import run_pgbench
from bench.webhook.server import serving
from bench.webhook.stats import Point
from bench.webhook.wrk import WrkSummary, as_point, run_wrk
from creditflow.adapters.db.tables import ledger_entries, purchases

HTTP_LIMIT_BODIES = 2000  # per wrk thread, sent round and round: the bare app stores nothing


def fulfilment(
    engine: str, config: Config, workdir: Path, rng: random.Random, app: str = "creditflow"
) -> list[Point]:
    """`app` (creditflow unless an experiment says otherwise) on a fresh `engine` database,
    each connection count in turn, checked after each; the server process lives for the whole
    engine run."""
    points = []
    with database(engine, f"fulfil_{engine}", workdir) as url:
        register_users(url, config.users)
        env = server_environment(url, config.log_level)
        with serving(app, env, config.workers(engine), workdir) as server:
            sent: list[Request] = []
            answers = Answers()
            for connections in config.connections:
                result = drive(server.url, config, connections, workdir, rng, sent, answers)
                verdict = check(url, sent, answers)
                point = as_point(connections, result)
                points.append(replace(point, extra={**point.extra, **vars(verdict)}))
                _say(f"{app} on {engine}", points[-1])
    return points


def drive(
    url: str,
    config: Config,
    connections: int,
    workdir: Path,
    rng: random.Random,
    sent: list[Request],
    answers: Answers,
) -> WrkSummary:
    """One point of the webhook load against the server at `url`: the warm-up, then the measured
    run (whose summary this is); what each sent is added to `sent` and `answers`."""
    threads = min(connections, config.wrk_threads)
    result: WrkSummary | None = None
    for phase, seconds in (("warmup", config.warmup), ("run", config.seconds)):
        if seconds <= 0:
            continue
        per_thread = math.ceil(config.max_rate * seconds / threads)
        load = make_load(threads, per_thread, config.users, connections, rng, config.body)
        prefix = workdir / f"c{connections}-{phase}"
        result = _send(url, load, prefix, connections, threads, seconds)
        issued = result["issued"]
        if load.exhausted(issued):
            raise RuntimeError(
                f"{connections} connections sent every body made for it: raise --max-rate "
                f"above {config.max_rate}"
            )
        sent.extend(load.sent(issued))
        answers.add(result, connections)
    assert result is not None, "a run of no seconds measures nothing"
    return result


def http_limit(config: Config, workdir: Path, rng: random.Random) -> list[Point]:
    """The bare ASGI app (signature check only) under the same load, same worker count."""
    points = []
    env = server_environment("sqlite://")
    with serving("bare", env, config.postgres_workers, workdir) as server:
        for connections in config.connections:
            threads = min(connections, config.wrk_threads)
            load = make_load(
                threads, HTTP_LIMIT_BODIES, config.users, connections, rng, config.body
            )
            prefix = workdir / f"bare-c{connections}"
            if config.warmup > 0:
                _send(server.url, load, prefix, connections, threads, config.warmup)
            result = _send(server.url, load, prefix, connections, threads, config.seconds)
            if set(result["statuses"]) != {"200"}:
                raise RuntimeError(f"the bare endpoint answered {result['statuses']}")
            points.append(as_point(connections, result))
            _say("HTTP limit (bare ASGI)", points[-1])
    return points


def database_limit(config: Config, workdir: Path) -> tuple[list[Point], str]:
    """pgbench running the SQL of one fulfilment (captured from the code now) on a fresh,
    migrated database with the same users; the script too."""
    script = pgbench_sql.pgbench_script(pgbench_sql.capture_fulfilment(), config.users)
    path = config.results / "pgbench-fulfilment.sql"
    path.write_text(script)
    points = []
    _warn_if_short_of_connections(max(config.connections))
    with database("postgres", "pgbench", workdir) as url:
        register_users(url, config.users)
        transactions = 0
        for connections in config.connections:
            if config.warmup > 0:
                warm = run_pgbench(url, path, connections, config.warmup, workdir)
                transactions += warm.requests
            point = run_pgbench(url, path, connections, config.seconds, workdir)
            transactions += point.requests
            _check_new_payments(url, transactions)
            points.append(point)
            _say("database limit (pgbench)", point)
    return points, script


def _send(
    url: str, load: Load, prefix: Path, connections: int, threads: int, seconds: float
) -> WrkSummary:
    load.write(prefix)
    try:
        return run_wrk(
            url,
            prefix,
            connections=connections,
            threads=threads,
            seconds=seconds,
            summary=prefix.with_suffix(".json"),
        )
    finally:
        for thread in range(threads):
            Path(f"{prefix}.{thread}").unlink(missing_ok=True)


def _check_new_payments(url: str, transactions: int) -> None:
    """Every pgbench transaction was a new payment: one purchase and one grant each."""
    engine = create_engine(url)
    with engine.connect() as connection:
        bought = connection.execute(select(func.count()).select_from(purchases)).scalar()
        granted = connection.execute(
            select(func.count()).where(ledger_entries.c.kind == "purchase")
        ).scalar()
    engine.dispose()
    if not bought == granted == transactions:
        raise RuntimeError(f"pgbench: {transactions} transactions, {bought} purchases, {granted}")


def _warn_if_short_of_connections(clients: int) -> None:
    """pgbench opens one connection per client on a server other people use too."""
    engine = create_engine(POSTGRES_SERVER)
    with engine.connect() as connection:
        limit = int(connection.execute(text("SHOW max_connections")).scalar() or 0)
        used = int(connection.execute(text("SELECT count(*) FROM pg_stat_activity")).scalar() or 0)
    engine.dispose()
    if clients > limit - used - 5:
        print(
            f"  warning: pgbench wants {clients} connections, PostgreSQL has {limit - used} of "
            f"{limit} free: its largest runs may fail",
            flush=True,
        )


def _say(what: str, point: Point) -> None:
    print(
        f"  {what:28} c={point.connections:<3} {point.rate:8.1f}/s  p50 {point.p50_ms:7.1f} ms"
        f"  p99 {point.p99_ms:7.1f} ms  non-2xx {point.non_2xx}",
        flush=True,
    )
