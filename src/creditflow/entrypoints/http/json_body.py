"""How /v1 reads a request before its route does: the body as strict JSON, the path as UTF-8.

A JSON body is read as JSON whatever Content-Type it was declared with: `curl -d '{...}'` labels
it `application/x-www-form-urlencoded`, and an API answering that with "Input should be a valid
dictionary" only puzzles its users. A body that is not JSON under a type that is not JSON either
is answered 415, saying to send JSON. FastAPI's strict content type guards against cross-site
requests that carry a browser's cookies; /v1 takes a bearer token in a header, which a browser
never adds to a cross-site request without the API's consent (CORS), so there is none to guard.

JSON is read with `strict_json`: a key given twice, which FastAPI would read as its last value,
is refused with 422, as the webhook refuses it.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Scope

from creditflow.adapters import strict_json
from creditflow.errors import InvalidRequest, UnsupportedMediaType

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class JsonBodyRoute(APIRoute):
    """A route whose body, when it takes one, is read as strict JSON (see the module)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def read_json_body(request: Request) -> Response:
            return await handler(await _as_json(request))

        return read_json_body


def require_utf8_path(request: Request) -> None:
    """Refuse a path whose percent-escapes are not UTF-8 (`/v1/users/%FF`): Starlette would decode
    them to U+FFFD, and `%FF` and `%FE` would name one and the same user."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    try:
        unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the path is not UTF-8 once percent-decoded: {exc}") from exc


async def _as_json(request: Request) -> Request:
    body = await request.body()
    if not body:
        return request  # FastAPI says which fields are missing
    content_type = request.headers.get("content-type")
    try:
        value = strict_json.loads(body)
    except strict_json.JsonRefused as exc:
        raise InvalidRequest(f"the body's JSON is refused: {exc}") from exc
    except ValueError as exc:
        if content_type is None or _declares_json(content_type):
            raise InvalidRequest(f"the body is not JSON: {exc}") from exc
        raise UnsupportedMediaType(
            f"the body is not JSON, and its content type {content_type!r} is not JSON either: "
            "send a JSON body (Content-Type: application/json)"
        ) from exc
    return _ParsedJson(_labelled_json(request.scope), body, value)


def _declares_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _labelled_json(scope: Scope) -> Scope:
    """The request's scope, its body declared as the JSON it holds, for FastAPI to read as such."""
    headers = [(name, value) for name, value in scope["headers"] if name != b"content-type"]
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


class _ParsedJson(Request):
    """The request again, its body already read and its JSON already parsed strictly."""

    def __init__(self, scope: Scope, body: bytes, value: Any) -> None:
        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        super().__init__(scope, replay)
        self._value = value

    async def json(self) -> Any:
        return self._value
