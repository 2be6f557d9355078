"""Reading Stripe objects defensively: ids that may be expanded objects, amounts, text.

A correctly signed event can still carry what Stripe never sends: an amount as a string, a list
where an id belongs, text no database column can hold. Such a field raises `UnreadableField`, so
the delivery is stored and parked for a person (`needs_attention`), never guessed at, and never
a crash that Stripe would retry for days.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from creditflow.errors import NeedsAttention

MAX_ID_LENGTH = 255  # the id columns (users, purchases, refunds, deliveries)
MAX_EMAIL_LENGTH = 320
# Far above any charge Stripe accepts, far inside the 64-bit integers the database stores.
MAX_AMOUNT = 10**15
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime holds


class UnreadableField(NeedsAttention):
    """A field of a Stripe object that is not what Stripe documents."""


def storable_text(value: str, max_length: int) -> bool:
    """Text both databases keep as it is: PostgreSQL refuses NUL characters. (Lone surrogates,
    which no database can encode, never get this far: deliveries holding one are refused.)"""
    return len(value) <= max_length and "\x00" not in value


def text_of(obj: Mapping[str, Any], key: str, max_length: int = MAX_ID_LENGTH) -> str | None:
    """`obj[key]` as text; None when absent or null."""
    return _text(obj.get(key), key, max_length)


def id_of(obj: Mapping[str, Any], key: str) -> str | None:
    """The id in `obj[key]`: Stripe fields hold an id, or the object itself when expanded."""
    value = obj.get(key)
    if isinstance(value, Mapping):
        value = value.get("id")
    return _text(value, key, MAX_ID_LENGTH)


def amount_of(obj: Mapping[str, Any], key: str) -> int | None:
    """An amount in minor units; None when absent or null. Never a string, float or negative."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_AMOUNT:
        raise UnreadableField(
            f"{key} is {_shown(value)}, not a whole amount from 0 to {MAX_AMOUNT}"
        )
    return value


def time_of(obj: Mapping[str, Any], key: str) -> datetime | None:
    """A Unix timestamp in whole seconds, as Stripe gives `created`; None when absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_TIMESTAMP:
        raise UnreadableField(f"{key} is {_shown(value)}, not a Unix time in seconds")
    return datetime.fromtimestamp(value, UTC)


def flag_of(obj: Mapping[str, Any], key: str) -> bool:
    """A boolean; absent means false. The string "false" is not false enough to guess."""
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise UnreadableField(f"{key} is {_shown(value)}, not true or false")
    return value


def mapping_of(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object (metadata, customer_details); absent or null means empty."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UnreadableField(f"{key} is {_shown(value)}, not an object")
    return value


def metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping_of(obj, "metadata")


def _text(value: object, key: str, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not storable_text(value, max_length):
        raise UnreadableField(
            f"{key} is {_shown(value)}, not text of at most {max_length} characters"
        )
    return value


def _shown(value: object) -> str:
    """The offending value for the operator, short, and as escapes (it may hold NUL)."""
    shown = ascii(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."
