"""The console's plumbing: who is logged in, CSRF on every form, rendering, security headers.

Pages live in pages.py and the login in login.py; both build on `ConsoleWeb`, made once per app.
When no operator is configured (CREDITFLOW_CONSOLE_USERS, CREDITFLOW_CONSOLE_SECRET) every path
under /console answers a page saying how to turn the console on, and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from creditflow.bootstrap import Container
from creditflow.entrypoints.http.console import operators
from creditflow.entrypoints.http.console.session import (
    FailedLogins,
    Session,
    SessionCookie,
    csrf_matches,
    new_session,
)
from creditflow.entrypoints.http.errors import status_for
from creditflow.errors import CreditflowError

HERE = Path(__file__).parent
STATIC = HERE / "static"
SECURITY_HEADERS = {
    # Nothing but our own stylesheet: no script, no frame, no form posting elsewhere.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes every .html


class ConsoleWeb:
    def __init__(self, container: Container) -> None:
        settings = container.settings
        assert settings.console_users is not None
        assert settings.console_secret is not None
        self.container = container
        self.users_file: Path = settings.console_users
        self.cookie = SessionCookie(settings.console_secret.get_secret_value())
        self.failed_logins = FailedLogins()

    def has_operators(self) -> bool:
        return bool(operators.read(self.users_file))

    def session(self, request: Request) -> Session | None:
        return self.cookie.read(request)

    def operator(self, request: Request) -> tuple[str, Session]:
        """The logged-in operator (still in the file) and their session, or off to the login."""
        session = self.session(request)
        if session is None or session.operator not in operators.read(self.users_file):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(
                303, headers={"Location": f"/console/login?next={quote(target, safe='')}"}
            )
        assert session.operator is not None
        return session.operator, session

    async def form(self, request: Request) -> tuple[str, dict[str, str]]:
        """The logged-in operator and the posted form, after checking its CSRF token."""
        operator, session = self.operator(request)
        fields = await self.checked_form(request, session)
        return operator, fields

    async def checked_form(self, request: Request, session: Session | None) -> dict[str, str]:
        form = await request.form()
        if not csrf_matches(session, form.get("csrf")):
            raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")
        return {key: value for key, value in form.items() if isinstance(value, str)}

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        session: Session | None = None,
        status: int = 200,
    ) -> Response:
        session = session or self.session(request) or new_session()
        response = templates.TemplateResponse(
            request,
            template,
            {"csrf": session.csrf, "operator": session.operator, **context},
            status_code=status,
        )
        self.cookie.write(response, session, request)
        return secured(response)


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def see_other(location: str) -> Response:
    return secured(RedirectResponse(location, status_code=303))


def error_page(web: ConsoleWeb, request: Request, exc: CreditflowError) -> Response:
    return web.render(request, "error.html", {"message": exc.message}, status=status_for(exc))


def console_router(container: Container) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    router.add_api_route("/static/{name}", _static, methods=["GET"])
    settings = container.settings
    if settings.console_users is None or settings.console_secret is None:
        router.add_api_route("", off_page, methods=["GET", "POST"])
        router.add_api_route("/{rest:path}", off_page, methods=["GET", "POST"])
        return router
    from creditflow.entrypoints.http.console import login, pages

    web = ConsoleWeb(container)
    login.add_routes(router, web)
    pages.add_routes(router, web)
    return router


def off_page(request: Request) -> Response:
    """How to turn the console on: no operator, or no secret to sign their sessions with."""
    response = templates.TemplateResponse(request, "off.html", {}, status_code=404)
    return secured(response)


def _static(name: str) -> Response:
    path = STATIC / name
    if name not in {entry.name for entry in STATIC.iterdir()}:
        raise HTTPException(404, "no such file")
    return secured(FileResponse(path, headers={"Cache-Control": "max-age=3600"}))
