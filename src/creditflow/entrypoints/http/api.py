"""The /v1 API for the app: users, wallets, ledger, purchases, pending grants, events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from creditflow.bootstrap import Container
from creditflow.domain.statuses import DeliveryStatus, PurchaseStatus
from creditflow.entrypoints.http.auth import require_api_key
from creditflow.entrypoints.http.errors import error_responses
from creditflow.entrypoints.http.json_body import JsonBodyRoute, require_utf8_path
from creditflow.entrypoints.http.schemas import (
    MAX_ID,
    NO_NUL,
    EventDetailOut,
    EventOut,
    EventsOut,
    GrantIn,
    LedgerEntryOut,
    LedgerPageOut,
    PendingGrantOut,
    PendingGrantsOut,
    PurchaseOut,
    PurchasesOut,
    RegistrationOut,
    ReplayOut,
    SpendIn,
    UserIn,
    UserOut,
    UserWithBalanceOut,
    WalletChangeOut,
    WalletOut,
)
from creditflow.logging_setup import bound_event
from creditflow.services.users import KEEP_EMAIL

# Every /v1 router checks the key, then the path; bodies are read by JsonBodyRoute.
V1_DEPENDENCIES = [Depends(require_api_key), Depends(require_utf8_path)]
BODY_ERRORS = (415,)  # a body neither declared nor sent as JSON
router = APIRouter(
    prefix="/v1",
    dependencies=V1_DEPENDENCIES,
    responses=error_responses(401, 422, 503),
    route_class=JsonBodyRoute,
)
Limit = Annotated[int, Query(ge=1, le=500)]
UserId = Annotated[str, Path(max_length=255, pattern=NO_NUL)]
EventId = Annotated[str, Path(max_length=255, pattern=NO_NUL)]
BeforeId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
T = TypeVar("T")
K = TypeVar("K")


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


Services = Annotated[Container, Depends(container)]


@router.put(
    "/users/{user_id}",
    tags=["users"],
    response_model=RegistrationOut,
    responses=error_responses(400, 409, *BODY_ERRORS),
)
def put_user(user_id: UserId, body: UserIn, services: Services) -> RegistrationOut:
    """Register or update a user; claims the pending grants waiting for their id or e-mail.

    Without `email` the stored e-mail stays; `"email": null` removes it."""
    email = body.email if "email" in body.model_fields_set else KEEP_EMAIL
    registration = services.users.register(user_id, email)
    return RegistrationOut(
        user=UserOut.of(registration.user),
        created=registration.created,
        balance=registration.balance,
        claimed=[PendingGrantOut.of(grant) for grant in registration.claimed],
    )


@router.get(
    "/users/{user_id}",
    tags=["users"],
    response_model=UserWithBalanceOut,
    responses=error_responses(404),
)
def get_user(user_id: UserId, services: Services) -> UserWithBalanceOut:
    user, wallet = services.queries.user(user_id)
    return UserWithBalanceOut(user=UserOut.of(user), balance=wallet.balance)


@router.get(
    "/wallets/{user_id}", tags=["wallets"], response_model=WalletOut, responses=error_responses(404)
)
def get_wallet(user_id: UserId, services: Services) -> WalletOut:
    """`available` is the balance less the live holds: what a spend or a new hold may use."""
    return WalletOut.of(*services.holds.wallet(user_id))


@router.get(
    "/wallets/{user_id}/ledger",
    tags=["wallets"],
    response_model=LedgerPageOut,
    responses=error_responses(404),
)
def get_ledger(
    user_id: UserId,
    services: Services,
    limit: Limit = 50,
    before: BeforeId = None,
) -> LedgerPageOut:
    """Entries newest first. Pass `next_before` back as `before` for the next page."""
    entries = services.queries.ledger(user_id, limit=limit, before_id=before)
    return LedgerPageOut(
        user_id=user_id,
        entries=[LedgerEntryOut.of(entry) for entry in entries],
        next_before=next_before(entries, limit, lambda entry: entry.id),
    )


@router.post(
    "/wallets/{user_id}/spend",
    tags=["wallets"],
    response_model=WalletChangeOut,
    responses=error_responses(400, 402, 404, 409, *BODY_ERRORS),
)
async def spend(user_id: UserId, body: SpendIn, services: Services) -> WalletChangeOut:
    """Spend credits, idempotently by `idempotency_key`: a retry returns the original result."""
    args = (user_id, body.credits, body.idempotency_key, body.reason)
    if services.batched_wallets is not None:  # group commit: shares a transaction
        change = await services.batched_wallets.spend(*args)
    else:  # one transaction of its own, in a worker thread as a sync route would be
        change = await run_in_threadpool(services.wallets.spend, *args)
    return WalletChangeOut.of(user_id, change)


@router.post(
    "/wallets/{user_id}/grants",
    tags=["wallets"],
    response_model=WalletChangeOut,
    responses=error_responses(400, 404, 409, *BODY_ERRORS),
)
async def grant(user_id: UserId, body: GrantIn, services: Services) -> WalletChangeOut:
    """Promotional or manual credits; spent before paid ones, leaving at `expires_at`."""
    args = (user_id, body.credits, body.idempotency_key, body.reason, body.expires_at)
    if services.batched_wallets is not None:
        change = await services.batched_wallets.grant(*args)
    else:
        change = await run_in_threadpool(services.wallets.grant, *args)
    return WalletChangeOut.of(user_id, change)


@router.get("/purchases", tags=["purchases"], response_model=PurchasesOut)
def list_purchases(
    services: Services,
    user_id: Annotated[str | None, Query(max_length=255, pattern=NO_NUL)] = None,
    status: PurchaseStatus | None = None,
    limit: Limit = 100,
    before: BeforeId = None,
) -> PurchasesOut:
    """Newest first. Pass `next_before` back as `before` for the next page."""
    found = services.queries.purchases(
        user_id=user_id, status=status, limit=limit, before_id=before
    )
    return PurchasesOut(
        purchases=[PurchaseOut.of(purchase) for purchase in found],
        next_before=next_before(found, limit, lambda purchase: purchase.id),
    )


@router.get("/pending-grants", tags=["purchases"], response_model=PendingGrantsOut)
def list_pending_grants(
    services: Services, limit: Limit = 100, before: BeforeId = None
) -> PendingGrantsOut:
    """Newest first. Pass `next_before` back as `before` for the next page."""
    grants = services.queries.pending_grants(limit=limit, before_id=before)
    return PendingGrantsOut(
        pending_grants=[PendingGrantOut.of(grant) for grant in grants],
        next_before=next_before(grants, limit, lambda grant: grant.id),
    )


@router.get("/events", tags=["events"], response_model=EventsOut)
def list_events(
    services: Services,
    status: DeliveryStatus | None = None,
    limit: Limit = 100,
    before: Annotated[str | None, Query(max_length=255, pattern=NO_NUL)] = None,
) -> EventsOut:
    """Newest first, by when they were first received. Pass `next_before` (an event id) back as
    `before` for the next page; an id the inbox does not hold is a 422."""
    found = services.queries.events(status=status, limit=limit, before=before)
    return EventsOut(
        events=[EventOut.of(event) for event in found],
        next_before=next_before(found, limit, lambda event: event.id),
    )


def next_before(page: Sequence[T], limit: int, key: Callable[[T], K]) -> K | None:
    """The cursor of the next page: the last row's key when the page is full (the next page may
    then be empty), None when this page is the last."""
    return key(page[-1]) if len(page) == limit else None


@router.get(
    "/events/{event_id}",
    tags=["events"],
    response_model=EventDetailOut,
    responses=error_responses(404),
)
def get_event(event_id: EventId, services: Services) -> EventDetailOut:
    return EventDetailOut.of(services.queries.event(event_id))


@router.post(
    "/events/{event_id}/replay",
    tags=["events"],
    response_model=ReplayOut,
    responses=error_responses(404),
)
def replay_event(event_id: EventId, services: Services) -> ReplayOut:
    """Process a stored delivery again (after fixing the catalog, say). Never grants twice."""
    with bound_event(event_id):
        result = services.deliveries.replay(event_id)
    return ReplayOut(event_id=result.event_id, status=result.status.value, error=result.error)
