"""Bearer keys, compared in constant time: CREDITFLOW_API_KEY for /v1, CREDITFLOW_METRICS_KEY for
/metrics. Two keys, so the scraper's credential cannot spend anyone's credits."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from creditflow.bootstrap import Container
from creditflow.errors import NotConfigured, Unauthorized

bearer = HTTPBearer(auto_error=False, description="CREDITFLOW_API_KEY")
metrics_bearer = HTTPBearer(auto_error=False, description="CREDITFLOW_METRICS_KEY, when set")


def require_api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    container: Container = request.app.state.container
    expected = container.settings.api_key
    if expected is None:
        raise NotConfigured("CREDITFLOW_API_KEY is not set: the /v1 API is disabled")
    _require(credentials, expected, "CREDITFLOW_API_KEY")


def require_metrics_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(metrics_bearer)],
) -> None:
    """Open unless CREDITFLOW_METRICS_KEY is set, as exporters usually are (see the README)."""
    container: Container = request.app.state.container
    expected = container.settings.metrics_key
    if expected is not None:
        _require(credentials, expected, "CREDITFLOW_METRICS_KEY")


def _require(
    credentials: HTTPAuthorizationCredentials | None, expected: SecretStr, variable: str
) -> None:
    if credentials is None:
        raise Unauthorized(f"missing bearer token: send `Authorization: Bearer <{variable}>`")
    if not secrets.compare_digest(
        credentials.credentials.encode(), expected.get_secret_value().encode()
    ):
        raise Unauthorized(f"wrong bearer token: it is not {variable}")
