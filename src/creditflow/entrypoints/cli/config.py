"""The CLI reads the same configuration as the server, when a command runs (never at import).

Bad configuration is reported as our `NotConfigured`, so it reaches the user as one line naming
the variable, not as a pydantic traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from creditflow.bootstrap import Container, build_container
from creditflow.entrypoints.cli.database import require_database, translate_database_errors
from creditflow.errors import NotConfigured
from creditflow.settings import Settings


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {_message(error)}"
            for error in exc.errors()
        )
        raise NotConfigured(f"invalid configuration (environment or ./.env): {problems}") from exc


def _message(error: ErrorDetails) -> str:
    """Our validators' words without pydantic's "Value error, " in front."""
    return error["msg"].removeprefix("Value error, ")


@contextmanager
def open_services() -> Iterator[Container]:
    """The services on the configured database, once it is known to exist and be migrated.

    Checking first turns "no such table" deep in a query into "run `creditflow migrate`".
    """
    settings = load_settings()
    require_database(settings.database_url)
    container = build_container(settings)
    try:
        with translate_database_errors(settings.database_url):
            yield container
    finally:
        container.close()
