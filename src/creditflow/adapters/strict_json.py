"""JSON read strictly, for both doors: the webhook and the /v1 API.

Python's `json` accepts what has no one meaning or cannot be served back: a key given twice
(parsers keep the first or the last), nesting deep enough to break whatever walks it recursively
later, lone surrogate escapes (`\\ud800`, the escaped twin of bytes that are not UTF-8). Each is
refused here with `JsonRefused`, a `ValueError`, as `json` refuses what is not JSON at all.
"""

from __future__ import annotations

import json
from typing import Any

# Stripe's objects nest a few levels, expanded ones a few more. Far deeper JSON still parses, but
# whatever later walks it recursively (the API's serializer stops near 255 levels) would fail.
MAX_NESTING = 64


class JsonRefused(ValueError):
    """Parses as JSON, but is not JSON creditflow reads one way only."""


def loads(text: str | bytes) -> Any:
    """The value `text` holds; `ValueError` (JSONDecodeError, JsonRefused) when it is not JSON
    read strictly. Bytes must be UTF-8, as RFC 8259 requires between systems."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError as exc:
        raise JsonRefused(f"nesting too deep to read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise JsonRefused(f"not UTF-8: {exc}") from exc
    _check_contents(value)
    return value


def _check_contents(value: object) -> None:
    """Refuse nesting deeper than `MAX_NESTING` and strings that are not Unicode text.

    Walked without recursion: the point is to refuse what recursion cannot handle.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodes(item):
                raise JsonRefused(f"{item!a} is not Unicode text")
            continue
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            item = list(item.values())
        if not isinstance(item, list):
            continue
        if depth > MAX_NESTING:
            raise JsonRefused(f"objects and arrays nest over {MAX_NESTING} levels deep")
        stack.extend((child, depth + 1) for child in item)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key given twice has no one meaning: refused rather than read one way here, another
    elsewhere (Stripe never sends one; an app that does has a bug worth hearing about)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise JsonRefused(f"the key {key!a} is given twice in one object")
        obj[key] = value
    return obj
