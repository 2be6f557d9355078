"""The CLI's view of the configured database: where it is, and whether its schema fits this code.

SQLAlchemy and Alembic errors are translated here into ours (`DatabaseUnavailable`,
`NotConfigured`) with the reason a person can act on; passwords never appear in messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from creditflow.adapters.db import migrate
from creditflow.adapters.db.connection_errors import explain
from creditflow.adapters.db.engine import build_engine
from creditflow.errors import DatabaseUnavailable, NotConfigured


def display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other engines and in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


@contextmanager
def translate_database_errors(url: str) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        failure = explain(exc, url)
        raise DatabaseUnavailable(
            f"database {display_url(url)}: {failure.reason}; {failure.fix}"
        ) from exc


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = build_engine(url)
    try:
        with translate_database_errors(url):
            yield engine
    finally:
        engine.dispose()


def upgrade_to_head(url: str) -> tuple[str | None, str | None]:
    """Migrate the database; the revisions before and after (None: no schema)."""
    with engine_for(url) as engine:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        return before, migrate.current_revision(engine)


def require_migrated(engine: Engine, url: str) -> None:
    current, head = migrate.current_revision(engine), migrate.head_revision()
    if current == head:
        return
    if current is None:
        raise NotConfigured(
            f"database {display_url(url)} has no creditflow schema yet: run `creditflow migrate`"
        )
    raise NotConfigured(
        f"database {display_url(url)} is at schema revision {current}, this version of creditflow "
        f"needs {head}: run `creditflow migrate`"
    )


def require_database(url: str) -> None:
    """Refuse to work on a database that is not there or not migrated, before touching it.

    A missing SQLite file is reported instead of opened: opening would create an empty one.
    """
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise NotConfigured(
            f"there is no database at {path.resolve()}: `creditflow serve` creates it, "
            "or run `creditflow migrate` (CREDITFLOW_DATABASE_URL chooses another one)"
        )
    with engine_for(url) as engine:
        require_migrated(engine, url)
