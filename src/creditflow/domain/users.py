"""Users of the app (ids chosen by the app) and their wallets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class User:
    id: str
    email: str | None
    created_at: datetime


@dataclass(frozen=True)
class Wallet:
    user_id: str
    balance: int
    updated_at: datetime
