"""The inbox: every verified delivery, stored before it is processed, with its outcome."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Executable,
    bindparam,
    func,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert

from creditflow.adapters.db.pipeline import Statement, run_together, write_later
from creditflow.adapters.db.repositories._sql import upsert
from creditflow.adapters.db.repositories.rows import delivery_from
from creditflow.adapters.db.tables import webhook_events
from creditflow.domain.deliveries import Arrival, Arriving, StoredDelivery
from creditflow.domain.statuses import DeliveryStatus


class InboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def receive(
        self,
        *,
        event_id: str,
        event_type: str,
        livemode: bool,
        payload: str,
        endpoint: str,
        now: datetime,
    ) -> Arrival:
        """Store a first delivery (status `failed` until an outcome is recorded), or count a
        delivery of a stored event, locking its row: one statement either way.

        On PostgreSQL a concurrent first delivery of the same event waits for the first to
        commit, then counts itself as a redelivery and reads the status it recorded. It goes
        out with the transaction's BEGIN, in one round trip (pipeline.py).
        """
        statement = self.arrival(
            event_id=event_id,
            event_type=event_type,
            livemode=livemode,
            payload=payload,
            endpoint=endpoint,
            now=now,
        )
        [[row]] = run_together(self._connection, [statement])
        return arrival_from(row)

    def arrival(
        self,
        *,
        event_id: str,
        event_type: str,
        livemode: bool,
        payload: str,
        endpoint: str,
        now: datetime,
    ) -> Statement:
        """`receive`'s statement, for a load that sends it with others (unit_of_work.py)."""
        values = {
            "id": event_id,
            "type": event_type,
            "livemode": livemode,
            "payload": payload,
            "status": DeliveryStatus.FAILED.value,
            "error": "processing did not finish",
            "endpoint": endpoint,
            "delivery_count": 1,
            "received_at": now,
        }
        return _arrival(self._connection.dialect.name), values

    def arrivals(self, arriving: Sequence[Arriving], now: datetime) -> Statement:
        """`arrival` of deliveries of distinct events, in one statement: each row's `id` comes
        back with it. Rows are written, so locked, in event id order: batches of two lanes or
        processes wait on each other's inbox rows in one order, never in a cycle."""
        rows = [
            {
                "id": a.event_id,
                "type": a.event_type,
                "livemode": a.livemode,
                "payload": a.payload,
                "status": DeliveryStatus.FAILED.value,
                "error": "processing did not finish",
                "endpoint": a.endpoint,
                "delivery_count": 1,
                "received_at": now,
            }
            for a in sorted(arriving, key=lambda a: a.event_id)
        ]
        dialect = self._connection.dialect.name
        if dialect == "postgresql":  # one text whatever the batch's size: compiled once
            names = ("id", "type", "livemode", "endpoint")
            arrays: dict[str, Any] = {name: [row[name] for row in rows] for name in names}
            # The bodies as one JSON array (json, not jsonb: each comes back exactly as
            # received): a text[] parameter costs psycopg a regex escape per quote in them.
            arrays["payload"] = json.dumps([row["payload"] for row in rows])
            first = {key: rows[0][key] for key in ("status", "error", "received_at")}
            return _PG_ARRIVALS, {**arrays, **first}
        insert = upsert(dialect, webhook_events).values(rows)
        return _counted(dialect, insert).returning(webhook_events.c.id), {}

    def lock(self, event_id: str) -> StoredDelivery | None:
        row = self._connection.execute(
            select(webhook_events).where(webhook_events.c.id == event_id).with_for_update()
        ).one_or_none()
        return None if row is None else delivery_from(row._mapping)

    def get(self, event_id: str) -> StoredDelivery | None:
        row = self._connection.execute(
            select(webhook_events).where(webhook_events.c.id == event_id)
        ).one_or_none()
        return None if row is None else delivery_from(row._mapping)

    def known(self, event_ids: Sequence[str]) -> set[str]:
        """Which of `event_ids` are stored: one query for a page of listed events."""
        if not event_ids:
            return set()
        rows = self._connection.execute(
            select(webhook_events.c.id).where(webhook_events.c.id.in_(event_ids))
        )
        return {row.id for row in rows}

    def record_outcome(
        self, event_id: str, status: DeliveryStatus, error: str | None, now: datetime
    ) -> None:
        """The last write of a delivery's transaction: sent with its COMMIT (pipeline.py)."""
        values = {"status": status.value, "error": error, "processed_at": now}
        write_later(self._connection, _OUTCOME, {"event_id": event_id, **values})

    def record_outcomes(
        self, outcomes: Sequence[tuple[str, DeliveryStatus, str | None]], now: datetime
    ) -> None:
        """`record_outcome` of a batch's deliveries (event id, status, error), in one statement
        on PostgreSQL, sent with the transaction's next round trip (its COMMIT at the latest)."""
        if not outcomes:
            return
        ordered = sorted(outcomes)
        if self._connection.dialect.name == "postgresql":
            params = {
                "event_id": [event_id for event_id, _, _ in ordered],
                "status": [status.value for _, status, _ in ordered],
                "error": [error for _, _, error in ordered],
                "processed_at": now,
            }
            write_later(self._connection, _PG_OUTCOMES, params)
            return
        rows = [
            {"event_id": e, "status": s.value, "error": error, "processed_at": now}
            for e, s, error in ordered
        ]
        self._connection.execute(_OUTCOME, rows)

    def count(self, status: DeliveryStatus) -> int:
        """Stored deliveries with this outcome (the status index answers it)."""
        return int(
            self._connection.execute(
                select(func.count())
                .select_from(webhook_events)
                .where(webhook_events.c.status == status.value)
            ).scalar_one()
        )

    def list(
        self,
        status: DeliveryStatus | None,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[StoredDelivery]:
        """Newest first, by (received_at, id): keyset pages, `after` the last of the previous page,
        each one range of the (received_at, id) or (status, received_at, id) index."""
        position = tuple_(webhook_events.c.received_at, webhook_events.c.id)
        query = select(webhook_events).order_by(
            webhook_events.c.received_at.desc(), webhook_events.c.id.desc()
        )
        if status is not None:
            query = query.where(webhook_events.c.status == status.value)
        if after is not None:
            query = query.where(position < tuple_(*after))
        return [delivery_from(row._mapping) for row in self._connection.execute(query.limit(limit))]


_OUTCOME = (
    update(webhook_events)
    .where(webhook_events.c.id == bindparam("event_id"))
    .values(
        status=bindparam("status"), error=bindparam("error"), processed_at=bindparam("processed_at")
    )
)


# `arrivals` on PostgreSQL, as `_counted` writes it for a multi-row VALUES, from one array per
# column, and what every new row starts with (failed, until its outcome is recorded).
_PG_ARRIVALS = text(
    """INSERT INTO webhook_events (id, type, livemode, payload, status, error, endpoint,
                                delivery_count, received_at)
    SELECT id, type, livemode, payload, :status, :error, endpoint, 1, :received_at
    FROM unnest(CAST(:id AS varchar[]), CAST(:type AS varchar[]), CAST(:livemode AS boolean[]),
                ARRAY(SELECT body FROM json_array_elements_text(CAST(:payload AS json))
                                       WITH ORDINALITY AS b(body, n) ORDER BY n),
                CAST(:endpoint AS varchar[]))
         WITH ORDINALITY AS w(id, type, livemode, payload, endpoint, ord)
    ORDER BY ord
    ON CONFLICT (id) DO UPDATE
    SET delivery_count = webhook_events.delivery_count + 1, endpoint = excluded.endpoint
    RETURNING webhook_events.id, webhook_events.status, xmax = 0 AS inserted"""
)
_PG_OUTCOMES = text(
    """UPDATE webhook_events
    SET status = o.status, error = o.error, processed_at = :processed_at
    FROM unnest(CAST(:event_id AS varchar[]), CAST(:status AS varchar[]),
                CAST(:error AS text[])) AS o(event_id, status, error)
    WHERE webhook_events.id = o.event_id
    """
)


@cache
def _arrival(dialect: str) -> Executable:
    """INSERT ... ON CONFLICT (id) DO UPDATE counting the delivery, RETURNING the status and
    whether the row is new: PostgreSQL's `xmax = 0` (no updating transaction yet); SQLite has
    no xmax, but a new row is the only one at its first delivery."""
    return _counted(dialect, upsert(dialect, webhook_events))


def _counted(dialect: str, insert: postgresql.Insert | sqlite.Insert) -> ReturningInsert[Any]:
    """`insert` counting a delivery of a stored event, RETURNING the status and whether the
    row is new."""
    counted = insert.on_conflict_do_update(
        index_elements=[webhook_events.c.id],
        set_={
            "delivery_count": webhook_events.c.delivery_count + 1,
            "endpoint": insert.excluded.endpoint,
        },
    )
    inserted: ColumnElement[bool] = (
        literal_column("xmax = 0", Boolean)
        if dialect == "postgresql"
        else webhook_events.c.delivery_count == 1
    )
    return counted.returning(webhook_events.c.status, inserted.label("inserted"))


def arrival_from(row: Mapping[str, object]) -> Arrival:
    return Arrival(first=bool(row["inserted"]), status=DeliveryStatus(str(row["status"])))
