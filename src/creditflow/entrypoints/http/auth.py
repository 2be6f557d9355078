"""Bearer-key protection for /v1, compared in constant time."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from creditflow.bootstrap import Container
from creditflow.errors import NotConfigured, Unauthorized

bearer = HTTPBearer(auto_error=False, description="CREDITFLOW_API_KEY")


def require_api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    container: Container = request.app.state.container
    expected = container.settings.api_key
    if expected is None:
        raise NotConfigured("CREDITFLOW_API_KEY is not set: the /v1 API is disabled")
    if credentials is None:
        raise Unauthorized(
            "missing bearer token: send `Authorization: Bearer <CREDITFLOW_API_KEY>`"
        )
    if not secrets.compare_digest(
        credentials.credentials.encode(), expected.get_secret_value().encode()
    ):
        raise Unauthorized("wrong API key")
