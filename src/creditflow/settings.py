"""Typed configuration, read once from the environment (and `.env`) and passed in.

Nothing reads the environment at import time: the app factory and the CLI build a
`Settings` and hand it down, so tests can run several configurations side by side.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from creditflow.domain.money_back import RefundPolicy
from creditflow.domain.subscriptions import DEFAULT_GRACE
from creditflow.logging_setup import LogFormat
from creditflow.services.group_commit import DEFAULT_MAX_BATCH

DEFAULT_DATABASE_URL = "sqlite:///./creditflow.db"
MAX_WEBHOOK_BODY_BYTES = 1024 * 1024
WEBHOOK_PATH = "/api/stripe/webhook"
LEGACY_WEBHOOK_PATH = "/api/payment/webhook"  # the old app's; served only when enabled
DATABASE_URL_FORMS = (
    "accepted: sqlite:///path/to/file.db, or postgresql://user:password@host:5432/database "
    "(postgres:// and postgresql+psycopg:// too)"
)
SUPPORTED_DRIVERS = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}
DEFAULT_POOL_SIZE = 10  # PostgreSQL connections kept per process (CREDITFLOW_DB_POOL_SIZE)


class Settings(BaseSettings):
    """The public configuration contract (see the README's configuration table)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("CREDITFLOW_DATABASE_URL")
    )
    db_pool_size: int = Field(
        DEFAULT_POOL_SIZE,
        ge=1,
        validation_alias=AliasChoices("CREDITFLOW_DB_POOL_SIZE"),
        description="PostgreSQL connections each process keeps open. The overflow is twice "
        "this, so a process may open up to 3 x this many; size `max_connections` for that. "
        "SQLite ignores it.",
    )
    db_prepared_statements: bool = Field(
        True,
        validation_alias=AliasChoices("CREDITFLOW_DB_PREPARED_STATEMENTS"),
        description="PostgreSQL: let psycopg prepare a statement it has run 5 times on a "
        "connection. Set false behind PgBouncer in transaction pooling mode before 1.21, "
        "where a prepared statement stays on a server connection the next transaction may not "
        "get (README, Behind PgBouncer). SQLite ignores it.",
    )
    webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET")
    )
    webhook_tolerance_seconds: int = Field(
        300, ge=1, validation_alias=AliasChoices("CREDITFLOW_WEBHOOK_TOLERANCE")
    )
    stripe_secret_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("STRIPE_SECRET_KEY")
    )
    stripe_api_base: str | None = Field(None, validation_alias=AliasChoices("STRIPE_API_BASE"))
    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("CREDITFLOW_API_KEY"))
    catalog_path: Path | None = Field(None, validation_alias=AliasChoices("CREDITFLOW_CATALOG"))
    legacy_webhook: bool = Field(False, validation_alias=AliasChoices("CREDITFLOW_LEGACY_WEBHOOK"))
    group_commit: bool = Field(
        True,
        validation_alias=AliasChoices("CREDITFLOW_GROUP_COMMIT"),
        description="Webhook deliveries, and spends and grants of /v1, that arrive together "
        "share one transaction (services/group_commit.py); a lone one runs at once, and each is "
        "answered once its transaction commits. On by default; off: one transaction per request.",
    )
    group_commit_max_batch: int = Field(
        DEFAULT_MAX_BATCH,
        ge=1,
        validation_alias=AliasChoices("CREDITFLOW_GROUP_COMMIT_MAX_BATCH"),
        description="The most operations one group-commit transaction holds.",
    )
    refund_policy: RefundPolicy = Field(
        RefundPolicy.DEBT, validation_alias=AliasChoices("CREDITFLOW_REFUND_POLICY")
    )
    expiry_interval_seconds: float = Field(
        60, ge=0, validation_alias=AliasChoices("CREDITFLOW_EXPIRY_INTERVAL")
    )
    # How long a subscription period's credits outlive the period's end (a renewal's invoice is
    # often paid a little after it): seconds, or an ISO 8601 duration such as P1D or PT12H.
    subscription_grace: timedelta = Field(
        DEFAULT_GRACE, validation_alias=AliasChoices("CREDITFLOW_SUBSCRIPTION_GRACE")
    )
    metrics_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("CREDITFLOW_METRICS_KEY")
    )
    log_format: LogFormat = Field(
        LogFormat.JSON, validation_alias=AliasChoices("CREDITFLOW_LOG_FORMAT")
    )
    # The operator console (/console): off until both are set (see the README).
    console_users: Path | None = Field(
        None, validation_alias=AliasChoices("CREDITFLOW_CONSOLE_USERS")
    )
    console_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("CREDITFLOW_CONSOLE_SECRET")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=AliasChoices("CREDITFLOW_LOG_LEVEL")
    )

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        """Accept `whsec_a,whsec_b` so secrets can be rolled and several endpoints served."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "stripe_secret_key",
        "api_key",
        "metrics_key",
        "stripe_api_base",
        "console_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty variable (`STRIPE_SECRET_KEY=`) means "not configured", not an empty key."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        """`debug` or `DEBUG`: people type both."""
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("catalog_path", "console_users", mode="before")
    @classmethod
    def _blank_path_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("subscription_grace", mode="before")
    @classmethod
    def _grace_is_a_duration(cls, value: object) -> object:
        """Whole seconds or an ISO 8601 duration; "1 day" or "-5" are refused, not guessed."""
        if isinstance(value, str):
            text = value.strip()
            if text.isdecimal():
                return timedelta(seconds=int(text))
            if not text.upper().startswith("P"):
                raise ValueError(
                    f"{value!r} is not a duration: give whole seconds (86400) or an ISO 8601 "
                    "duration (P1D, PT12H)"
                )
            return text
        return value

    @field_validator("subscription_grace")
    @classmethod
    def _grace_not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        """`postgres://` and `postgresql://` URLs (as platforms print them) use psycopg 3.

        Checked here, once, so every command answers a typo in one line (the URL itself is
        never repeated: it may hold a password)."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                value = "postgresql+psycopg://" + value[len(prefix) :]
        try:
            url = make_url(value)
            port = url.port  # a port that is not a number fails here, not at connect time
        except (ArgumentError, ValueError):
            raise ValueError(f"is not a database URL; {DATABASE_URL_FORMS}") from None
        if (url.get_backend_name(), url.get_driver_name()) not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"names an unsupported database ({url.drivername}); {DATABASE_URL_FORMS}"
            )
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"has port {port}, not 1 to 65535; {DATABASE_URL_FORMS}")
        return value
