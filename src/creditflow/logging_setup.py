"""How creditflow's logs look: one JSON object per line, carrying the request and event ids.

The ids live in context variables: the HTTP layer binds the request id for a whole request and
the Stripe event id while a delivery is handled; a filter on our handler copies them onto every
record, whichever logger wrote it (ours, uvicorn's access log, a library's). Context variables
follow the request into the worker thread that runs the service, so lines logged there carry them.

Only the process entrypoint (`creditflow serve`) calls `configure_logging`: an app factory that
took over the root logger would fight whatever hosts it (tests, another server's log config).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str | None] = ContextVar("creditflow_request_id", default=None)
event_id: ContextVar[str | None] = ContextVar("creditflow_event_id", default=None)

# uvicorn's loggers, routed through our handler instead of uvicorn's own formatters.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


@contextmanager
def bound_event(stripe_event_id: str) -> Iterator[None]:
    """Every line logged inside carries `event_id`."""
    token = event_id.set(stripe_event_id)
    try:
        yield
    finally:
        event_id.reset(token)


def current_ids() -> dict[str, str]:
    """The ids bound now (none outside a request); absent ones are left out, not null."""
    ids = {"request_id": request_id.get(), "event_id": event_id.get()}
    return {name: value for name, value in ids.items() if value is not None}


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record (reading them when the line is written)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_ids().items():
            setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """For people at a terminal: `time LEVEL logger: message [request_id=... event_id=...]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(
            f"{name}={getattr(record, name)}"
            for name in ("request_id", "event_id")
            if hasattr(record, name)
        )
        return f"{line} [{ids}]" if ids else line


def json_formatter() -> JsonFormatter:
    # `color_message` is uvicorn's ANSI-coloured copy of the message: noise in JSON.
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


def build_handler(log_format: LogFormat, stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter() if log_format is LogFormat.JSON else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(log_format: LogFormat, level: str, stream: TextIO | None = None) -> None:
    """Send every log line of the process, uvicorn's included, to `stream` (stdout) in
    `log_format`. Stdout, because `serve` writes its notes for people to stderr: a log shipper
    reading stdout sees nothing but log lines."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(build_handler(log_format, stream or sys.stdout))
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.setLevel(logging.NOTSET)
        uvicorn_logger.propagate = True
