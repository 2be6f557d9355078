"""`serve` and `migrate`: run the HTTP service on a database whose schema fits this version.

The embedded SQLite database is migrated on start (zero set-up, one process owns it). PostgreSQL
is shared by several server processes and migrated deliberately, so `serve` only checks it and
points at `creditflow migrate`.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from rich.text import Text
from sqlalchemy.engine import make_url

from creditflow import __version__
from creditflow.entrypoints.cli import local_dev
from creditflow.entrypoints.cli.config import load_settings
from creditflow.entrypoints.cli.database import (
    display_url,
    engine_for,
    require_migrated,
    sqlite_file,
    upgrade_to_head,
)
from creditflow.entrypoints.cli.render import JsonFlag, note, print_json, show, warn
from creditflow.entrypoints.http import create_app
from creditflow.logging_setup import configure_logging
from creditflow.settings import WEBHOOK_PATH, Settings

MAX_WORKERS = 64


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=MAX_WORKERS,
            show_default=False,
            help="Server processes sharing the port. They share nothing but the database. "
            "Default: one per CPU core on PostgreSQL, 1 on SQLite (one writer at a time).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the webhook handler and the /v1 API (embedded SQLite by default, migrated on start).

    On a fresh directory with nothing configured, writes a local webhook secret and API key to
    ./.env first (and says so), so `creditflow trigger` and `verify` work from another terminal.
    Log lines go to stdout (JSON unless CREDITFLOW_LOG_FORMAT=text); notes for people to stderr.
    With --json, a failure to start is also JSON on stdout.
    """
    settings = load_settings()
    if local_dev.wants_local_secrets(settings):
        settings = _write_local_secrets()
    _prepare_database(settings)
    _warn_about_missing_secrets(settings)
    base = f"http://{host}:{port}"
    note(f"creditflow {__version__}: webhook endpoint {base}{WEBHOOK_PATH}, API docs {base}/docs")
    default, why = default_workers(settings.database_url, cpu_cores())
    chosen = default if workers is None else workers
    note(f"serving with {_count(chosen)} ({_workers_origin(workers, default, why)})")
    configure_logging(settings.log_format, settings.log_level)
    # Each worker is a fresh process that builds its own app from the same configuration (the
    # environment and ./.env, written above when needed). log_config=None: uvicorn keeps its
    # hands off logging, so its lines go through ours.
    uvicorn.run(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=chosen,
        log_config=None,
    )


def cpu_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(database_url: str, cores: int) -> tuple[int, str]:
    """The worker count `serve` picks without --workers, and why, as the start-up note says it
    (the module docstring says why these)."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return 1, "SQLite takes one writer at a time"
    return max(1, min(cores, MAX_WORKERS)), "one per CPU core on PostgreSQL"


def _workers_origin(given: int | None, default: int, why: str) -> str:
    if given is None:
        return f"default: {why}"
    return f"--workers; the default here would be {default}: {why}"


def _count(workers: int) -> str:
    return f"{workers} worker{'' if workers == 1 else 's'}"


def worker_app() -> FastAPI:
    """The app one server process serves: logging set up here too, since a worker process
    starts afresh and inherits none of the parent's configuration."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)


class MigrationOut(BaseModel):
    database: str
    before: str | None  # None: the database had no schema
    after: str | None


def migrate(as_json: JsonFlag = False) -> None:
    """Upgrade the configured database's schema to this version (safe to run again)."""
    settings = load_settings()
    before, after = upgrade_to_head(settings.database_url)
    out = MigrationOut(database=display_url(settings.database_url), before=before, after=after)
    if as_json:
        print_json(out)
    elif before == after:
        show(Text(f"{out.database}: already at revision {after}"))
    else:
        show(Text(f"{out.database}: migrated from revision {before or '(empty)'} to {after}"))


def _write_local_secrets() -> Settings:
    path, lines = local_dev.write_local_secrets()
    note(
        "Nothing is configured and this is the embedded database, so for local development "
        f"creditflow wrote {path} (readable by you only):"
    )
    for line in lines:
        name = line.partition("=")[0]
        note(f"    {name}=...")  # values stay in the file: terminals get recorded and shared
    note(
        "`creditflow trigger` and `creditflow verify` run from this directory read the same file. "
        "Delete it, or set these variables yourself, to choose other values."
    )
    return load_settings()


def _prepare_database(settings: Settings) -> None:
    url = settings.database_url
    path = sqlite_file(url)
    if path is not None:
        _before, revision = upgrade_to_head(url)
        note(f"SQLite database {path.resolve()} at schema revision {revision}")
        return
    with engine_for(url) as engine:
        require_migrated(engine, url)
    note(f"database {display_url(url)} is migrated")


def _warn_about_missing_secrets(settings: Settings) -> None:
    if not settings.webhook_secrets:
        warn(
            "STRIPE_WEBHOOK_SECRET is not set: every webhook will be refused with 503. Set it "
            "(environment or ./.env) to your endpoint's signing secret (`stripe listen` prints "
            "one); `creditflow trigger` and `verify` must see the same value to sign test events."
        )
    if settings.api_key is None:
        warn(
            "CREDITFLOW_API_KEY is not set: the /v1 API answers 503 and `creditflow verify` "
            "cannot run. Set it (environment or ./.env) to a long random token."
        )
