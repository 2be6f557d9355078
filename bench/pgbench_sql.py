"""The SQL one fulfilment commits, captured from the code and turned into a pgbench script.

One real delivery (a new paid `checkout.session.completed` of a registered user) runs through
`build_container(...).deliveries.receive(...)` on a scratch PostgreSQL database, with a
`before_cursor_execute` listener recording every statement and its parameters as the driver gets
them. Regenerated on every run, the script follows the code as statements are added or removed.

Each recorded statement becomes a line of literal SQL in which whatever is unique to one payment
is a pgbench variable, so every transaction is a new payment of a random registered user:

- ids made for the captured payment (event, session, PaymentIntent) carry PAYMENT_TOKEN: every
  text holding them (ids, the stored payload, references) is concatenated around `:bench_n`;
- the user id and e-mail carry USER_TOKEN, likewise around `:bench_u`;
- ids the database generated (purchase, ledger entry, lot) are recognised by moving each sequence
  to a distinctive value before the capture, and read back with `currval(...)`;
- timestamps are the capture's, as `to_timestamp(epoch)`, and literal text never holds a colon
  that pgbench would read as a variable (it is cut into two literals there);
- advisory lock keys (computed in Python from "user:<id>" / "email:<e-mail>") become
  `hashtextextended(<the same key>, 0)`: a different hash, the same locking (one key per
  identity).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event, text

from bench.webhook import payments
from bench.webhook.databases import bench_settings, migrate, postgres_database
from bench.webhook.payments import PAYMENT_TOKEN, USER_TOKEN
from creditflow.adapters.db.unit_of_work import _lock_id
from creditflow.adapters.stripe.signatures import verify_and_parse
from creditflow.bootstrap import build_container
from creditflow.domain.keys import identity_lock_keys
from creditflow.services.deliveries import Delivery
from creditflow.settings import WEBHOOK_PATH, Settings

# Each generated id starts far from the others, so a parameter equal to one is recognisably it.
SEQUENCE_BASES = {
    "purchases_id_seq": 710_000_000,
    "ledger_entries_id_seq": 720_000_000,
    "credit_lots_id_seq": 730_000_000,
    "pending_grants_id_seq": 740_000_000,
}
PARAM = re.compile(r"%\((\w+)\)s")
# What one payment's text holds that the next one's does not, and the SQL for it.
VARIABLES = {
    PAYMENT_TOKEN: ":bench_n::text",
    USER_TOKEN: ":bench_u::text",
    **{str(base + 1): f"currval('{sequence}')::text" for sequence, base in SEQUENCE_BASES.items()},
}
SPLIT = re.compile("(" + "|".join(map(re.escape, VARIABLES)) + ")")
# pgbench reads `:name` anywhere, quotes or not, as a variable (`"created":1795...` in the payload
# too): such a colon ends its literal, and the text goes on in the next one.
NOT_A_VARIABLE = re.compile(r":(?=[A-Za-z0-9_\x80-\U0010ffff])")


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Capture:
    """What one fulfilment sent: statements in order, and whether it committed."""

    statements: list[Statement]
    committed: bool
    status: str


def capture_fulfilment() -> Capture:
    """Run one new payment through the delivery service on a scratch database, recording SQL."""
    with postgres_database("capture") as url:
        migrate(url)
        settings = bench_settings(url)
        container = build_container(settings)
        try:
            container.users.register(payments.user_id(USER_TOKEN), payments.user_email(USER_TOKEN))
            _move_sequences(container.engine)
            payment = payments.new_payment(USER_TOKEN, PAYMENT_TOKEN)
            recorded: list[Statement] = []
            commits: list[bool] = []
            listeners = _record(container.engine, recorded, commits)
            try:
                result = container.deliveries.receive(
                    delivery_of(payment.body, payments.signed(payment.body), settings)
                )
            finally:
                for name, listener in listeners:
                    event.remove(container.engine, name, listener)
        finally:
            container.close()
    return Capture(recorded, bool(commits), result.status.value)


def delivery_of(body: bytes, signature: str, settings: Settings) -> Delivery:
    """What the webhook handler hands the delivery service: the body, once its signature is
    verified and its event parsed (the handler's own work, done the handler's way)."""
    event_ = verify_and_parse(
        body, signature, settings.webhook_secrets, settings.webhook_tolerance_seconds
    )
    return Delivery(
        event_id=event_["id"],
        event_type=event_["type"],
        livemode=bool(event_.get("livemode", False)),
        payload=body.decode(),
        event=event_,
        endpoint=WEBHOOK_PATH,
    )


def _move_sequences(engine: Engine) -> None:
    with engine.begin() as connection:
        for sequence, base in SEQUENCE_BASES.items():
            connection.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": base})


def _record(
    engine: Engine, recorded: list[Statement], commits: list[bool]
) -> list[tuple[str, Any]]:
    def before(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        assert not many, "executemany is not expected in a fulfilment"
        recorded.append(Statement(statement, dict(parameters or {})))

    def on_commit(_conn: Any) -> None:
        commits.append(True)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", on_commit)
    return [("before_cursor_execute", before), ("commit", on_commit)]


def pgbench_script(capture: Capture, users: int) -> str:
    """BEGIN; the captured statements, literal but for one payment's unique values; COMMIT."""
    if not capture.committed or capture.status != "processed":
        raise RuntimeError(f"the captured fulfilment did not commit a grant ({capture.status})")
    header = [
        "-- One new paid checkout.session.completed as creditflow commits it: bench/pgbench_sql.py",
        f"\\set bench_n random(1, {10**18})",
        f"\\set bench_u random(0, {users - 1})",
        "BEGIN;",
    ]
    body = [_render(statement) + ";" for statement in capture.statements]
    return "\n".join([*header, *body, "COMMIT;", ""])


def _render(statement: Statement) -> str:
    sql = " ".join(statement.sql.split())  # pgbench reads one command per line
    return PARAM.sub(lambda match: _literal(statement.params[match.group(1)]), sql)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _integer(value)
    if isinstance(value, datetime):
        return f"to_timestamp({value.timestamp():.6f})"  # the ISO form's colons read as variables
    if isinstance(value, str):
        return _text(value)
    raise TypeError(f"no literal for {type(value).__name__} {value!r}")


def _integer(value: int) -> str:
    for sequence, base in SEQUENCE_BASES.items():
        if value == base + 1:
            return f"currval('{sequence}')"
    if value in _lock_keys():
        return f"hashtextextended({_text(_lock_keys()[value])}, 0)"
    if any(str(base)[:3] in str(value) for base in SEQUENCE_BASES.values()):
        raise ValueError(f"an integer {value} that looks like a generated id is not the last one")
    return str(value)


def _lock_keys() -> dict[int, str]:
    keys = identity_lock_keys(payments.user_id(USER_TOKEN), payments.user_email(USER_TOKEN))
    return {_lock_id(key): key for key in keys}


def _text(value: str) -> str:
    """A text literal, with the payment's and the user's tokens and any generated id
    concatenated in as pgbench variables and `currval(...)`: whole values, never inside quotes,
    so the script also runs as prepared statements (each variable a parameter)."""
    parts = []
    for piece in SPLIT.split(value):
        if piece in VARIABLES:
            parts.append(VARIABLES[piece])
        elif piece:
            parts.append("'" + NOT_A_VARIABLE.sub(":' || '", piece.replace("'", "''")) + "'")
    if len(parts) == 1:
        return parts[0]
    return "(" + " || ".join(parts or ["''"]) + ")"


def script_lines(statements: Sequence[Statement]) -> list[str]:
    return [_render(statement) for statement in statements]
