"""The console's pages: overview, inbox and an event, wallets and a wallet, holds, pending grants,
purchases; and its two actions, a replay and a grant, each a POST answered by a redirect."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from creditflow.domain.holds import HoldStatus
from creditflow.domain.operator_views import HoldCursor, InboxCursor, InboxFilter
from creditflow.domain.statuses import DeliveryStatus, PurchaseStatus
from creditflow.entrypoints.http.console.findings import FindingsCache
from creditflow.entrypoints.http.console.web import ConsoleWeb, error_page, see_other
from creditflow.errors import CreditflowError, InvalidRequest
from creditflow.services.console import Console

PAGE_SIZE = 50
Text = Annotated[str, Query(max_length=255)]
EventId = Annotated[str, Path(max_length=255)]
CURSOR_SEPARATOR = "~"
E = TypeVar("E", bound=StrEnum)


def add_routes(router: APIRouter, web: ConsoleWeb) -> None:
    console: Console = web.container.console
    findings = FindingsCache(web.container)

    def overview(request: Request, recheck: bool = False) -> Response:
        _operator, session = web.operator(request)
        context = {"overview": console.overview(), "findings": findings.get(fresh=recheck)}
        return web.render(request, "overview.html", context, session=session)

    def inbox(
        request: Request,
        status: Text = "",
        type: Text = "",
        received_from: Annotated[date | None, Query(alias="from")] = None,
        received_to: Annotated[date | None, Query(alias="to")] = None,
        after: Text = "",
    ) -> Response:
        _operator, session = web.operator(request)
        try:
            where = InboxFilter(
                status=_choice(DeliveryStatus, status),
                type=type.strip() or None,
                received_from=_midnight(received_from),
                received_before=_midnight(received_to, days=1),
            )
            cursor = _cursor(after)
            page = console.inbox(where, cursor and InboxCursor(*cursor), PAGE_SIZE)
        except InvalidRequest as exc:
            return error_page(web, request, exc)
        last = page.items[-1] if page.more else None
        filters = {
            "status": status,
            "type": type,
            "from": received_from.isoformat() if received_from else "",
            "to": received_to.isoformat() if received_to else "",
        }
        context = {
            "page": page,
            "filters": filters,
            "statuses": list(DeliveryStatus),
            "next_after": None if last is None else _cursor_text(last.received_at, last.id),
        }
        return web.render(request, "inbox.html", context, session=session)

    def event(request: Request, event_id: EventId, replayed: str = "") -> Response:
        _operator, session = web.operator(request)
        try:
            view = console.event(event_id)
        except CreditflowError as exc:
            return error_page(web, request, exc)
        context = {"view": view, "replayed": replayed}
        return web.render(request, "event.html", context, session=session)

    async def replay(request: Request, event_id: EventId) -> Response:
        operator, fields = await web.form(request)
        try:
            result = await run_in_threadpool(
                console.replay, operator, event_id, fields.get("reason", "")
            )
        except CreditflowError as exc:
            return error_page(web, request, exc)
        return see_other(f"/console/events/{event_id}?replayed={result.status.value}")

    def wallets(request: Request, q: Text = "") -> Response:
        _operator, session = web.operator(request)
        found = console.find_wallet(q) if q.strip() else None
        if found is not None:
            return see_other(f"/console/wallet?{_query(user=found)}")
        return web.render(request, "wallets.html", {"q": q}, session=session)

    def wallet(
        request: Request,
        user: Text,
        before: Annotated[int | None, Query(ge=1)] = None,
        granted: str = "",
    ) -> Response:
        _operator, session = web.operator(request)
        try:
            view = console.wallet(user, before_id=before, limit=PAGE_SIZE)
        except CreditflowError as exc:
            return error_page(web, request, exc)
        context = {"view": view, "granted": granted, "form_key": secrets.token_urlsafe(16)}
        return web.render(request, "wallet.html", context, session=session)

    async def grant(request: Request) -> Response:
        operator, fields = await web.form(request)
        user = fields.get("user", "")
        try:
            change = await run_in_threadpool(
                lambda: console.grant(
                    operator,
                    user,
                    _credits(fields.get("credits", "")),
                    form_key=fields.get("form_key", ""),
                    reason=fields.get("reason", ""),
                    expires_at=_expiry(fields.get("expires_at", "")),
                )
            )
        except CreditflowError as exc:
            return error_page(web, request, exc)
        outcome = "again" if change.replayed else str(change.entry.delta)
        return see_other(f"/console/wallet?{_query(user=user, granted=outcome)}")

    def holds(request: Request, status: Text = "", user: Text = "", after: Text = "") -> Response:
        _operator, session = web.operator(request)
        try:
            cursor = _cursor(after)
            page = console.holds(
                _choice(HoldStatus, status),
                user_id=user.strip() or None,
                after=cursor and HoldCursor(*cursor),
                limit=PAGE_SIZE,
            )
        except InvalidRequest as exc:
            return error_page(web, request, exc)
        last = page.items[-1].hold if page.more else None
        context = {
            "page": page,
            "filters": {"status": status, "user": user},
            "statuses": list(HoldStatus),
            "next_after": None if last is None else _cursor_text(last.created_at, last.id),
        }
        return web.render(request, "holds.html", context, session=session)

    def pending(request: Request, after: Annotated[int | None, Query(ge=1)] = None) -> Response:
        _operator, session = web.operator(request)
        page = console.pending_grants(after_id=after, limit=PAGE_SIZE)
        context = {"page": page, "next_after": page.items[-1].id if page.more else None}
        return web.render(request, "pending.html", context, session=session)

    def purchases(
        request: Request,
        status: Text = "",
        before: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        _operator, session = web.operator(request)
        try:
            page = console.purchases(
                _choice(PurchaseStatus, status), before_id=before, limit=PAGE_SIZE
            )
        except InvalidRequest as exc:
            return error_page(web, request, exc)
        context = {
            "page": page,
            "status": status,
            "statuses": list(PurchaseStatus),
            "next_before": page.items[-1].id if page.more else None,
        }
        return web.render(request, "purchases.html", context, session=session)

    router.add_api_route("", overview, methods=["GET"])
    router.add_api_route("/inbox", inbox, methods=["GET"])
    router.add_api_route("/events/{event_id}", event, methods=["GET"])
    router.add_api_route("/events/{event_id}/replay", replay, methods=["POST"])
    router.add_api_route("/wallets", wallets, methods=["GET"])
    router.add_api_route("/wallet", wallet, methods=["GET"])
    router.add_api_route("/wallet/grants", grant, methods=["POST"])
    router.add_api_route("/holds", holds, methods=["GET"])
    router.add_api_route("/pending", pending, methods=["GET"])
    router.add_api_route("/purchases", purchases, methods=["GET"])


def _choice(choices: type[E], text: str) -> E | None:
    """A filter's status: "any" (the form's empty choice, kept in its paging links) is None."""
    if not text.strip():
        return None
    try:
        return choices(text.strip())
    except ValueError as exc:
        known = ", ".join(choice.value for choice in choices)
        raise InvalidRequest(f"no status {text.strip()!r}: choose one of {known}") from exc


def _midnight(day: date | None, *, days: int = 0) -> datetime | None:
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=days)


def _cursor_text(moment: datetime, row_id: str) -> str:
    """A keyset cursor in a link: the last row's time and id (inbox, holds)."""
    return f"{moment.isoformat()}{CURSOR_SEPARATOR}{row_id}"


def _cursor(text: str) -> tuple[datetime, str] | None:
    if not text:
        return None
    stamp, separator, row_id = text.partition(CURSOR_SEPARATOR)
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        moment = None
    if not separator or not row_id or moment is None or moment.tzinfo is None:
        raise InvalidRequest("that page link is damaged: start again from the first page")
    return moment, row_id


def _credits(text: str) -> int:
    if not text.strip().isdecimal():
        raise InvalidRequest("credits must be a positive whole number")
    return int(text.strip())


def _expiry(text: str) -> datetime | None:
    """The form's `datetime-local`, read as UTC (the label says so)."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidRequest("the expiry must be a date and time, e.g. 2027-01-31T00:00") from exc


def _query(**values: str) -> str:
    return urlencode(values)
