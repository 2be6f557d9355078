"""Register or update a user, claiming the pending grants that were waiting for them, once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Literal

from creditflow.domain import purchase as purchase_rules
from creditflow.domain.buyers import normalize_email
from creditflow.domain.keys import identity_lock_keys
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.users import User
from creditflow.errors import Conflict, InvalidRequest
from creditflow.services.clock import Clock
from creditflow.services.posting import post
from creditflow.services.unit_of_work import UnitOfWork, UnitOfWorkFactory

MAX_USER_ID_LENGTH = 255
MAX_EMAIL_LENGTH = 320


class Unchanged(Enum):
    EMAIL = "the stored e-mail"


# `register(user_id, KEEP_EMAIL)`: a registration that says nothing of the e-mail keeps it. Were it
# wiped, the user's next Payment Link purchase (found by e-mail) would wait as a pending grant.
KEEP_EMAIL = Unchanged.EMAIL
EmailChange = str | None | Literal[Unchanged.EMAIL]


@dataclass(frozen=True)
class Registration:
    user: User
    created: bool
    balance: int
    claimed: list[PendingGrant]


class UserService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    def register(self, user_id: str, email: EmailChange) -> Registration:
        """Create or update the user: `email` sets the e-mail, None removes it, KEEP_EMAIL keeps
        the stored one (none for a new user)."""
        _validate(user_id, None if email is KEEP_EMAIL else email)
        with self._uow() as uow:
            now = self._clock()
            if email is KEEP_EMAIL:
                email = self._stored_email(uow, user_id)
                email_key = normalize_email(email)
            else:
                email_key = normalize_email(email)
                uow.lock_identities(identity_lock_keys(user_id, email_key))
                owner = uow.users.find_by_email(email_key) if email_key else None
                if owner is not None and owner.id != user_id:
                    raise Conflict(f"e-mail {email} already belongs to another user")
            created = uow.users.save(user_id, email.strip() if email else None, email_key, now)
            claimed = []
            for candidate in uow.pending.claimable(user_id, email_key):
                purchase = uow.purchases.lock_by_id(candidate.purchase_id)
                grant = uow.pending.lock_unclaimed(candidate.id)
                if grant is not None and self._claim(uow, grant, purchase, user_id, now):
                    claimed.append(replace(grant, claimed_at=now, claimed_by=user_id))
            user = uow.users.get(user_id)
            wallet = uow.wallets.get(user_id)
            assert user is not None
            assert wallet is not None
            uow.commit()
        return Registration(user=user, created=created, balance=wallet.balance, claimed=claimed)

    @staticmethod
    def _stored_email(uow: UnitOfWork, user_id: str) -> str | None:
        """The user's e-mail, under the lock of their id alone: every change of it holds that
        lock, and no payment parks a grant under an e-mail a user holds, so what is claimable
        under it cannot change meanwhile (and one key locked cannot wait in a cycle)."""
        uow.lock_identities(identity_lock_keys(user_id, None))
        stored = uow.users.get(user_id)
        return None if stored is None else stored.email

    @staticmethod
    def _claim(
        uow: UnitOfWork, grant: PendingGrant, purchase: Purchase, user_id: str, now: datetime
    ) -> bool:
        """Move a pending grant into the wallet; refunds before the claim already reduced it."""
        claim = purchase_rules.claim(grant, purchase, user_id, now)
        uow.pending.mark_claimed(grant.id, user_id, now)
        uow.purchases.apply(grant.purchase_id, claim.change, now)
        return claim.posting is None or post(uow, claim.posting, now) is not None


def _validate(user_id: str, email: str | None) -> None:
    if not user_id.strip() or len(user_id) > MAX_USER_ID_LENGTH or user_id != user_id.strip():
        raise InvalidRequest(
            f"user id must be 1 to {MAX_USER_ID_LENGTH} characters without surrounding spaces"
        )
    if email is None:
        return
    local, _, domain = email.strip().rpartition("@")
    if not local or "." not in domain or len(email) > MAX_EMAIL_LENGTH or " " in email.strip():
        raise InvalidRequest(f"{email!r} is not an e-mail address")
