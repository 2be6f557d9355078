"""The /v1 holds API: reserve credits, capture what the work cost, void the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from creditflow.domain.credits import MAX_CREDITS
from creditflow.domain.holds import DEFAULT_EXPIRY, MAX_EXPIRY, Hold, HoldStatus
from creditflow.entrypoints.http.api import BODY_ERRORS, V1_DEPENDENCIES, Services, UserId
from creditflow.entrypoints.http.errors import error_responses
from creditflow.entrypoints.http.json_body import JsonBodyRoute
from creditflow.entrypoints.http.schemas import NO_NUL, SpendIn
from creditflow.services.holds import HoldResult

router = APIRouter(
    prefix="/v1",
    dependencies=V1_DEPENDENCIES,
    responses=error_responses(401, 422, 503),
    route_class=JsonBodyRoute,
    tags=["holds"],
)
HoldId = Annotated[str, Path(max_length=64, pattern=NO_NUL)]


class HoldIn(SpendIn):
    expires_in_seconds: int = Field(DEFAULT_EXPIRY, gt=0, le=MAX_EXPIRY, strict=True)


class CaptureIn(BaseModel):
    credits: int | None = Field(
        None, ge=0, le=MAX_CREDITS, strict=True, description="omitted: the whole hold"
    )


class HoldOut(BaseModel):
    id: str
    user_id: str
    status: HoldStatus = Field(description="expired as soon as expires_at has passed")
    credits: int
    captured: int
    released: int
    reason: str
    expires_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, hold: Hold, status: HoldStatus) -> HoldOut:
        return cls(
            id=hold.id,
            user_id=hold.user_id,
            status=status,
            credits=hold.credits,
            captured=hold.captured,
            released=hold.released,
            reason=hold.reason,
            expires_at=hold.expires_at,
            created_at=hold.created_at,
        )


class HoldChangeOut(HoldOut):
    balance: int
    available: int = Field(description="the balance less the live holds")
    replayed: bool = Field(description="true when this request was made before: nothing moved")

    @classmethod
    def of_result(cls, result: HoldResult) -> HoldChangeOut:
        out = HoldOut.of(result.hold, result.status)
        extra = {"balance": result.balance, "available": result.available}
        return cls(**out.model_dump(), **extra, replayed=result.replayed)


class HoldsOut(BaseModel):
    user_id: str
    holds: list[HoldOut]


@router.post(
    "/wallets/{user_id}/holds",
    status_code=201,
    response_model=HoldChangeOut,
    responses=error_responses(400, 402, 404, 409, *BODY_ERRORS),
)
def open_hold(
    user_id: UserId, body: HoldIn, services: Services, response: Response
) -> HoldChangeOut:
    """Reserve credits of `available`; the same key again returns the first hold (200)."""
    result = services.holds.open(
        user_id, body.credits, body.idempotency_key, body.reason, body.expires_in_seconds
    )
    if result.replayed:
        response.status_code = 200
    return HoldChangeOut.of_result(result)


@router.post(
    "/holds/{hold_id}/capture",
    response_model=HoldChangeOut,
    responses=error_responses(400, 404, 409, *BODY_ERRORS),
)
def capture_hold(
    hold_id: HoldId, services: Services, body: CaptureIn | None = None
) -> HoldChangeOut:
    """Spend part or all of the hold (a `spend` entry referencing it); release the rest."""
    credits = None if body is None else body.credits
    return HoldChangeOut.of_result(services.holds.capture(hold_id, credits))


@router.post(
    "/holds/{hold_id}/void",
    response_model=HoldChangeOut,
    responses=error_responses(404, 409),
)
def void_hold(hold_id: HoldId, services: Services) -> HoldChangeOut:
    """Release the whole hold; idempotent. After a capture: 409."""
    return HoldChangeOut.of_result(services.holds.void(hold_id))


@router.get("/holds/{hold_id}", response_model=HoldChangeOut, responses=error_responses(404))
def get_hold(hold_id: HoldId, services: Services) -> HoldChangeOut:
    return HoldChangeOut.of_result(services.holds.get(hold_id))


@router.get("/wallets/{user_id}/holds", response_model=HoldsOut, responses=error_responses(404))
def list_holds(user_id: UserId, services: Services, status: HoldStatus | None = None) -> HoldsOut:
    """Newest first, the last 500."""
    found = services.holds.of_wallet(user_id, status)
    now_status = services.holds.status_now
    return HoldsOut(user_id=user_id, holds=[HoldOut.of(h, now_status(h)) for h in found])
