"""Credits paid for by a buyer creditflow does not know yet, parked until the user appears.

A grant parked under a user id is claimed only by that user id (the app named its user); one
parked under an e-mail alone is claimed by the user who registers, or updates to, that e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PendingGrant:
    id: int
    purchase_id: int
    user_id: str | None
    email: str | None
    credits: int
    created_at: datetime
    claimed_at: datetime | None
    claimed_by: str | None
