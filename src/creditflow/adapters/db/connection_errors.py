"""Why a database connection failed, in words an operator can act on, with the fix.

The driver's message is matched here, once, so `doctor`, `migrate` and every other command say
the same thing ("no such database: create it") instead of an exception's class name. Driver
messages never hold the password; the URL is shown by the caller with its password hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError


@dataclass(frozen=True)
class ConnectionFailure:
    reason: str
    fix: str


def explain(exc: SQLAlchemyError, url: str) -> ConnectionFailure:
    driver_message = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
    parsed = make_url(url)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if missing := re.search(r'database "([^"]+)" does not exist', driver_message):
        return ConnectionFailure(
            f"no such database {missing.group(1)!r} on {where}",
            f"create it (`createdb {missing.group(1)}`) or correct the database name in "
            "CREDITFLOW_DATABASE_URL, then run `creditflow migrate`",
        )
    if "Connection refused" in driver_message:
        return ConnectionFailure(
            f"connection refused by {where}: no database server listens there",
            "start PostgreSQL, or correct the host and port in CREDITFLOW_DATABASE_URL",
        )
    if re.search(r"authentication failed|role \"[^\"]+\" does not exist", driver_message):
        return ConnectionFailure(
            f"authentication failed on {where} for user {parsed.username!r}",
            "correct the user and password in CREDITFLOW_DATABASE_URL",
        )
    if "resolve host" in driver_message or "translate host name" in driver_message:
        return ConnectionFailure(
            f"unknown host {parsed.host!r}", "correct the host in CREDITFLOW_DATABASE_URL"
        )
    first_line = driver_message.strip().splitlines()[0] if driver_message.strip() else ""
    return ConnectionFailure(
        first_line or type(exc).__name__,
        "check CREDITFLOW_DATABASE_URL and that the database server is running",
    )
