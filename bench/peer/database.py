"""The peer's scratch database: bench/peer/schema.sql on a fresh `bw_*` PostgreSQL database,
with the users the load names: the webhook's (`bench-user-N`, their e-mails) or the spend's
(`u1..uN`, each funded far beyond what a run can spend)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.webhook.databases import postgres_database
from bench.webhook.payments import user_email, user_id

SCHEMA = Path(__file__).with_name("schema.sql")


@contextmanager
def peer_database(label: str) -> Iterator[str]:
    """A fresh database with the peer's schema; its libpq URL (what PEER_DATABASE_URL takes)."""
    with postgres_database(label) as url:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(SCHEMA.read_text().encode())  # several statements: simple protocol
        yield conninfo


def register_webhook_users(conninfo: str, count: int) -> None:
    """Users bench-user-0 .. count-1 with their e-mails and empty wallets, as the load pays for."""
    rows = [(user_id(number), user_email(number)) for number in range(count)]
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        cursor.executemany("INSERT INTO peer_users (id, email) VALUES (%s, %s)", rows)
        cursor.executemany(
            "INSERT INTO peer_wallets (user_id) VALUES (%s)", [(u,) for u, _ in rows]
        )


def fund_spend_users(
    conninfo: str, count: int, funding: int, extra: tuple[tuple[str, int], ...] = ()
) -> None:
    """Users u1..u`count` (bench/spend/spend.lua's), each wallet holding `funding` credits, and
    the `extra` (user id, credits) wallets."""
    with psycopg.connect(conninfo) as connection:
        connection.execute(
            "INSERT INTO peer_users (id, email) SELECT 'u' || g, 'u' || g || '@bench.example' "
            "FROM generate_series(1, %s) g",
            (count,),
        )
        connection.execute(
            "INSERT INTO peer_wallets (user_id, credits) "
            "SELECT 'u' || g, %s FROM generate_series(1, %s) g",
            (funding, count),
        )
        for user, credits in extra:
            connection.execute("INSERT INTO peer_users (id) VALUES (%s)", (user,))
            connection.execute(
                "INSERT INTO peer_wallets (user_id, credits) VALUES (%s, %s)", (user, credits)
            )
