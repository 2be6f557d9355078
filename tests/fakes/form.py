"""Decode Stripe's form encoding (`line_items[0][price]=...`) into the nested params it encodes."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

KEY_PART = re.compile(r"[^\[\]]+")


def decode_form(body: bytes) -> dict[str, Any]:
    """`a[b][0][c]=1` -> {"a": {"b": [{"c": "1"}]}}; values stay strings, as Stripe reads them."""
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        *parents, leaf = KEY_PART.findall(key)
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    decoded: dict[str, Any] = _lists(tree)
    return decoded


def _lists(node: Any) -> Any:
    """Maps keyed 0, 1, 2... are the arrays the SDK encoded."""
    if not isinstance(node, dict):
        return node
    children = {key: _lists(value) for key, value in node.items()}
    if children and all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children
