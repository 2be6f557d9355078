"""The operator console at /console: server-rendered pages over the services the API uses."""

from creditflow.entrypoints.http.console.web import console_router

__all__ = ["console_router"]
