"""The one table from our errors to HTTP statuses, and JSON error bodies for everything."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from creditflow.entrypoints.http.schemas import ErrorOut
from creditflow.errors import (
    Conflict,
    CreditflowError,
    DatabaseUnavailable,
    InsufficientCredits,
    InvalidDelivery,
    InvalidRequest,
    NeedsAttention,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    StripeUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[CreditflowError], int] = {
    InvalidDelivery: 400,
    Unauthorized: 401,
    InsufficientCredits: 402,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidRequest: 422,
    NeedsAttention: 422,
    NotConfigured: 503,
    StripeUnavailable: 503,
    DatabaseUnavailable: 503,
}


# What each error status means, for the OpenAPI document: routes list the ones they can answer.
ERROR_DESCRIPTIONS = {
    400: "the body is not JSON, or not a genuine Stripe delivery",
    401: "missing or wrong API key",
    402: "not enough credits: nothing spent; the error carries the balance",
    404: "no such user or event",
    409: "contradicts stored state: the e-mail belongs to another user, or the idempotency key "
    "was used for another request",
    413: "body over 1 MiB",
    415: "not JSON: the webhook takes application/json only; /v1 reads a JSON body whatever "
    "its declared type, and answers this to a body that is JSON neither in type nor in fact",
    422: "the request's values are not acceptable",
    500: "processing failed; what was received is stored and a retry processes it again",
    503: "not configured, Stripe or the database is unavailable: retry later",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route for the errors it can answer, all shaped as `ErrorOut`."""
    return {
        status: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


def error_body(code: str, message: str, **details: object) -> dict[str, dict[str, object]]:
    """`{"error": {"code", "message", ...details}}`, e.g. the balance with a refused spend."""
    return {"error": {"code": code, "message": message, **details}}


def status_for(exc: CreditflowError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CreditflowError)
    async def _ours(_request: Request, exc: CreditflowError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500 or isinstance(exc, Unauthorized):
            # What an operator must fix, or someone knocking without the key. Our messages never
            # carry a secret; the token a caller presented is not logged either.
            log.warning("answered %d %s: %s", status, exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return JSONResponse(error_body("invalid_request", problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        headers = exc.headers
        if exc.status_code == 405:
            named = (headers or {}).get("Allow", "")
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request, named))}
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
        )


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _allowed_methods(request: Request, named: str) -> list[str]:
    """Every method the path serves. Starlette's 405 `Allow` names only the first route it
    tried (`named`), where RFC 9110 (15.5.6) wants all: GET and PUT /v1/users/{id} are two
    routes. The OpenAPI document knows them all."""
    methods = {method.strip() for method in named.split(",") if method.strip()}
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {key.upper() for key in operations if key in HTTP_METHODS}
    return sorted(methods)
