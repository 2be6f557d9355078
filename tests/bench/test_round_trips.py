"""The round-trip counter counts what crossed the wire: a known sequence of messages, and known
client calls on a real PostgreSQL server, give known counts. Then issue 12's targets, counted by
the same counter on creditflow's app (what `make bench-round-trips` prints): never a timing."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.roundtrips.operations import count_round_trips
from bench.roundtrips.wire import CountingProxy, FrontendParser, RoundTrip, counting_proxy
from creditflow.bootstrap import build_container
from creditflow.services.batched_deliveries import ReadDelivery
from creditflow.services.deliveries import Delivery, DeliveryResult
from creditflow.settings import WEBHOOK_PATH
from tests.support import make_settings, paid_session_event

pytestmark = pytest.mark.postgres_only


def message(kind: bytes, *fields: bytes) -> bytes:
    body = b"".join(fields)
    return kind + struct.pack("!i", len(body) + 4) + body


def cstring(value: str) -> bytes:
    return value.encode() + b"\0"


STARTUP = struct.pack("!ii", 8 + len(b"user\0me\0\0"), 196608) + b"user\0me\0\0"
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def statement(sql: str, name: str = "") -> bytes:
    """Parse, Bind, Describe, Execute: one extended-protocol statement, without its Sync."""
    return b"".join(
        [
            message(b"P", cstring(name), cstring(sql), struct.pack("!h", 0)),
            message(b"B", cstring(""), cstring(name), struct.pack("!hhh", 0, 0, 0)),
            message(b"D", b"P", cstring("")),
            message(b"E", cstring(""), struct.pack("!i", 0)),
        ]
    )


def bind(name: str) -> bytes:
    return message(b"B", cstring(""), cstring(name), struct.pack("!hhh", 0, 0, 0)) + message(
        b"E", cstring(""), struct.pack("!i", 0)
    )


SYNC, FLUSH = message(b"S"), message(b"H")


def parsed(*turns: bytes, split: int = 0) -> tuple[list[RoundTrip], int]:
    """Each turn fed (in pieces of `split` bytes when given), then the server's answer."""
    trips: list[RoundTrip] = []
    connections = []
    parser = FrontendParser(1, trips.append, lambda: connections.append(1))
    for turn in turns:
        pieces = [turn[i : i + split] for i in range(0, len(turn), split)] if split else [turn]
        for piece in pieces:
            parser.feed(piece)
        parser.answered()
    return trips, len(connections)


def test_each_answered_turn_is_one_round_trip_and_carries_its_sql() -> None:
    trips, connections = parsed(
        SSL_REQUEST,
        STARTUP,
        message(b"Q", cstring("BEGIN")),
        statement("SELECT 1") + SYNC,
        statement("SELECT 2") + statement("SELECT 3") + SYNC + FLUSH,  # a pipeline
        message(b"Q", cstring("COMMIT")),
    )
    assert connections == 1
    assert [(trip.message, trip.statements) for trip in trips] == [
        ("Query", ("BEGIN",)),
        ("Sync", ("SELECT 1",)),
        ("Sync+Flush", ("SELECT 2", "SELECT 3")),
        ("Query", ("COMMIT",)),
    ]


def test_messages_cut_anywhere_count_the_same() -> None:
    whole = parsed(STARTUP, message(b"Q", cstring("BEGIN")), statement("SELECT 1") + SYNC)
    assert (
        parsed(STARTUP, message(b"Q", cstring("BEGIN")), statement("SELECT 1") + SYNC, split=3)
        == whole
    )


def test_a_prepared_statement_is_named_by_its_parse_and_unanswered_bytes_are_no_round_trip() -> (
    None
):
    trips, _ = parsed(
        STARTUP,
        statement("SELECT $1", name="_pg3_0") + SYNC,
        message(b"P", cstring("_pg3_1"), cstring("SELECT 7"), struct.pack("!h", 0)),  # no Sync
        bind("_pg3_0") + SYNC,
        message(b"X"),  # Terminate: nothing to answer
    )
    assert [trip.statements for trip in trips] == [
        ("(prepare) SELECT $1", "SELECT $1"),
        ("(prepare) SELECT 7", "SELECT $1"),
    ]


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[tuple[CountingProxy, str]]:
    url = make_url(postgres_url)
    with counting_proxy(url.host or "127.0.0.1", url.port or 5432) as counting:
        proxied = url.set(host="127.0.0.1", port=counting.port)
        yield counting, proxied.render_as_string(hide_password=False)


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_psycopg_statements_and_a_pipeline_through_the_proxy(
    proxy: tuple[CountingProxy, str],
) -> None:
    counting, url = proxy
    with psycopg.connect(conninfo(url)) as connection:
        opened = counting.take()
        connection.execute("SELECT 1").fetchone()
        connection.commit()
        one_statement = counting.take()
        with connection.pipeline():
            for number in range(3):
                connection.execute("SELECT %s::int", (number,))
        connection.commit()
        pipelined = counting.take()
    assert (opened.connections, len(opened.round_trips)) == (1, 0)
    assert [trip.statements for trip in one_statement.round_trips] == [
        ("BEGIN",),
        ("SELECT 1",),
        ("COMMIT",),
    ]
    # Three statements, one Sync (after the pipeline's BEGIN, which psycopg sends first).
    assert [trip.statements for trip in pipelined.round_trips][-2:] == [
        ("SELECT $1::int",) * 3,
        ("COMMIT",),
    ]


def test_sqlalchemy_pre_ping_begin_statement_commit_are_four(
    proxy: tuple[CountingProxy, str],
) -> None:
    counting, url = proxy
    engine = create_engine(url, pool_pre_ping=True, pool_size=1)
    try:
        with engine.begin() as connection:  # opens the connection: not counted below
            connection.execute(text("SELECT 1"))
        counting.take()
        with engine.begin() as connection:
            connection.execute(text("SELECT 2"))
        tally = counting.take()
    finally:
        engine.dispose()
    assert tally.connections == 0
    assert [trip.statements for trip in tally.round_trips] == [
        (";",),  # psycopg's ping: the empty query
        ("BEGIN",),
        ("SELECT 2",),
        ("COMMIT",),
    ]


def test_each_operation_takes_at_most_its_target_round_trips() -> None:
    """A new paid delivery <= 4 (BEGIN and COMMIT included), a redelivery <= 2, a spend <= 3."""
    counts = count_round_trips(rounds=2)

    most = {count.operation.name: count.most for count in counts}
    targets = {count.operation.name: count.operation.target for count in counts}
    assert most["new paid delivery"] <= 4, counts[0].trips
    assert most["redelivery"] <= 2
    assert most["spend"] <= 3
    assert targets == {"new paid delivery": 4, "redelivery": 2, "spend": 3, "grant": None}


@pytest.mark.parametrize("size", [2, 8, 32])
def test_a_batch_of_new_paid_deliveries_and_duplicates_takes_four_round_trips_whatever_its_size(
    proxy: tuple[CountingProxy, str], size: int
) -> None:
    # Group commit, the common case set-based: BEGIN with every inbox row and every buyer; every
    # purchase inserted or locked; every wallet locked and loaded; the purchases' changes,
    # entries, lots, balances and outcomes with COMMIT. One at a time, N deliveries take 4N.
    counting, url = proxy
    services = build_container(make_settings(url, group_commit=True, group_commit_max_batch=64))
    try:
        users = [f"u{i}" for i in range(8)]
        for user in users:
            services.users.register(user, None)
        assert services.batched_deliveries is not None
        batcher = services.batched_deliveries.batcher

        def batch() -> list[ReadDelivery]:
            events = [paid_session_event(user_id=users[i % 8], credits=5) for i in range(size)]
            duplicates = [{**e, "id": f"{e['id']}_again"} for e in events[: size // 4]]
            return [
                ReadDelivery(Delivery.of(e, json.dumps(e), WEBHOOK_PATH), interpret(e))
                for e in [*events, *duplicates]
            ]

        interpret = services.deliveries.interpret
        batcher.run(batch())  # warm: the pool's connection, the statements' compilation
        ops = batch()
        counting.take()
        results = batcher.run(ops)
        trips = counting.take().round_trips
    finally:
        services.close()
    answered = [r.status.value for r in results if isinstance(r, DeliveryResult)]
    assert answered == ["processed"] * size + ["duplicate"] * (size // 4)
    assert len(trips) == 4, [trip.statements for trip in trips]
