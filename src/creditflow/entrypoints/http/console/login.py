"""Logging in and out of the console; failed attempts are rate-limited per name and address."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from creditflow.entrypoints.http.console import operators
from creditflow.entrypoints.http.console.session import new_session
from creditflow.entrypoints.http.console.web import ConsoleWeb, off_page, see_other

HOME = "/console"


def add_routes(router: APIRouter, web: ConsoleWeb) -> None:
    def login_form(request: Request, next: str = HOME) -> Response:
        if not web.has_operators():
            return off_page(request)
        return web.render(request, "login.html", {"next": _local(next)})

    async def log_in(request: Request) -> Response:
        if not web.has_operators():
            return off_page(request)
        session = web.session(request)
        fields = await web.checked_form(request, session)
        name, password = fields.get("name", "").strip(), fields.get("password", "")
        target = _local(fields.get("next", HOME))
        address = request.client.host if request.client else "unknown"
        wait = web.failed_logins.blocked_for(name, address)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            message = f"Too many failed logins: try again in {minutes} minute(s)."
            return _refused(web, request, message, target, status=429)
        if not await run_in_threadpool(operators.verify, web.users_file, name, password):
            web.failed_logins.failed(name, address)
            return _refused(web, request, "Wrong name or password.", target, status=401)
        web.failed_logins.succeeded(name)
        response = see_other(target)
        web.cookie.write(response, new_session(name), request)
        return response

    async def log_out(request: Request) -> Response:
        _operator, session = web.operator(request)
        await web.checked_form(request, session)
        response = see_other("/console/login")
        web.cookie.clear(response)
        return response

    router.add_api_route("/login", login_form, methods=["GET"])
    router.add_api_route("/login", log_in, methods=["POST"])
    router.add_api_route("/logout", log_out, methods=["POST"])


def _refused(
    web: ConsoleWeb, request: Request, message: str, target: str, *, status: int
) -> Response:
    return web.render(request, "login.html", {"next": target, "error": message}, status=status)


def _local(target: str) -> str:
    """Only a console page: `next` must not send a fresh login to another site."""
    if target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME
