"""Zero set-up for a newcomer: `serve` writes a local `.env` once, so other commands match it.

Why: `creditflow trigger` and `creditflow verify` must sign with the server's webhook secret and
call /v1 with its API key. On a fresh checkout neither exists, and the walk-through (`serve` in
one terminal, `trigger`/`verify` in another, same directory) would fail on its first step. Both
read `./.env`, so writing the two values there once makes every command agree.

It happens only when it cannot surprise anyone: the embedded default database, neither value
configured anywhere (nor even mentioned in the environment), and no `.env` file at all; the
file is created readable by its owner only, and what was written, and where, is printed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from creditflow.settings import DEFAULT_DATABASE_URL, Settings

ENV_FILE = Path(".env")
MANAGED_VARIABLES = ("STRIPE_WEBHOOK_SECRET", "CREDITFLOW_API_KEY", "CREDITFLOW_DATABASE_URL")


def wants_local_secrets(settings: Settings) -> bool:
    return (
        settings.database_url == DEFAULT_DATABASE_URL
        and not settings.webhook_secrets
        and settings.api_key is None
        # Even an empty variable would override the file's value (environment wins over .env).
        and not any(name in os.environ for name in MANAGED_VARIABLES)
        and not ENV_FILE.exists()
    )


def write_local_secrets() -> tuple[Path, list[str]]:
    """Create `./.env` with a fresh webhook secret and API key; its path and its lines."""
    lines = [
        f"STRIPE_WEBHOOK_SECRET=whsec_local_{secrets.token_hex(24)}",
        f"CREDITFLOW_API_KEY=cf_local_{secrets.token_urlsafe(32)}",
        # The operator console: on once `creditflow console add-user NAME` writes the file.
        f"CREDITFLOW_CONSOLE_SECRET={secrets.token_urlsafe(32)}",
        "CREDITFLOW_CONSOLE_USERS=console-users",
    ]
    text = (
        "# Written by `creditflow serve` for local development on the embedded database.\n"
        "# Replace STRIPE_WEBHOOK_SECRET with the one `stripe listen` prints to get real events.\n"
        + "".join(f"{line}\n" for line in lines)
    )
    # O_EXCL: never overwrite a file that appeared since we looked; 0o600: these are secrets.
    descriptor = os.open(ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    return ENV_FILE.resolve(), lines
