"""The app factory the bench serves: creditflow's, with logging set up as `creditflow serve` does.

`uvicorn --factory bench.webhook.app:create_app --workers N` until `creditflow serve --workers N`
exists; everything else (settings from the environment, the app) is creditflow's own.
"""

from __future__ import annotations

from fastapi import FastAPI

from creditflow.entrypoints import http
from creditflow.logging_setup import configure_logging
from creditflow.settings import Settings


def create_app() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return http.create_app(settings)
