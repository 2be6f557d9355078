"""Users and their wallets (a wallet is created with its user, empty)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, Row, bindparam, or_, select, update

from creditflow.adapters.db.pipeline import Statement
from creditflow.adapters.db.repositories._sql import among, insert_if_absent
from creditflow.adapters.db.tables import users, wallets
from creditflow.domain.buyers import Buyer
from creditflow.domain.users import User


class UserRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, user_id: str) -> User | None:
        row = self._connection.execute(_BY_ID, {"user_id": user_id}).one_or_none()
        return None if row is None else _user(row)

    def find_by_email(self, email_key: str) -> User | None:
        row = self._connection.execute(
            select(users).where(users.c.email_key == email_key)
        ).one_or_none()
        return None if row is None else _user(row)

    def buyer_lookup(self, buyer: Buyer) -> Statement:
        """The statement finding the user a buyer names, for a load that sends it with others:
        the app's user id wins; an e-mail only when the payment names no user id."""
        if buyer.user_id is not None:
            return _BY_ID, {"user_id": buyer.user_id}
        return _BY_EMAIL, {"email_key": buyer.email}

    def buyers_lookup(self, buyers: Sequence[Buyer]) -> Statement:
        """`buyer_lookup` for many buyers in one statement: the users their ids name, and those
        the e-mails of buyers without an id name (`buyers_found` picks each buyer's)."""
        ids = sorted({b.user_id for b in buyers if b.user_id is not None})
        emails = sorted({b.email for b in buyers if b.user_id is None and b.email is not None})
        return _by_ids_or_emails(self._connection.dialect.name), {"ids": ids, "emails": emails}

    def save(self, user_id: str, email: str | None, email_key: str | None, now: datetime) -> bool:
        """Create the user and an empty wallet, or update the e-mail; True when newly created."""
        values = {
            "id": user_id,
            "email": email,
            "email_key": email_key,
            "created_at": now,
            "updated_at": now,
        }
        created = insert_if_absent(self._connection, users, values, ["id"]) is not None
        if created:
            self._connection.execute(
                wallets.insert().values(user_id=user_id, balance=0, updated_at=now)
            )
        else:
            self._connection.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(email=email, email_key=email_key, updated_at=now)
            )
        return created


_BY_ID = select(users).where(users.c.id == bindparam("user_id"))
_BY_EMAIL = select(users).where(users.c.email_key == bindparam("email_key"))


@cache
def _by_ids_or_emails(dialect: str) -> Executable:
    return select(users).where(
        or_(among(dialect, users.c.id, "ids"), among(dialect, users.c.email_key, "emails"))
    )


def buyers_found(buyers: Sequence[Buyer], rows: Sequence[Mapping[str, Any]]) -> list[User | None]:
    """Each buyer's user among `buyers_lookup`'s rows, by `buyer_lookup`'s rule."""
    by_id = {row["id"]: user_from(row) for row in rows}
    by_email = {row["email_key"]: user_from(row) for row in rows if row["email_key"] is not None}
    return [
        by_id.get(b.user_id) if b.user_id is not None else by_email.get(b.email or "")
        for b in buyers
    ]


def _user(row: Row[tuple[object, ...]]) -> User:
    return user_from(row._mapping)


def user_from(m: Mapping[Any, Any]) -> User:
    return User(id=m["id"], email=m["email"], created_at=m["created_at"])
