"""The ASGI app: the webhook handler, the /v1 API and health checks."""

from creditflow.entrypoints.http.app import create_app

__all__ = ["create_app"]
