"""The operators' command line, `creditflow` (see `app` for the commands)."""

from creditflow.entrypoints.cli.app import app, main

__all__ = ["app", "main"]
