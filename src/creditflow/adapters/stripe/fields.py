"""Reading Stripe objects defensively: ids that may be expanded objects, integer amounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def id_of(value: object) -> str | None:
    """Stripe fields hold an id, or the object itself when expanded."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None


def int_or_none(value: object) -> int | None:
    return value if type(value) is int else None


def metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}
