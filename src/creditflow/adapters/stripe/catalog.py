"""Read the TOML catalog (price / payment link id -> credits per unit)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from creditflow.domain.credits import Catalog
from creditflow.errors import NotConfigured


def load_catalog(path: Path | None) -> Catalog:
    """An empty catalog when none is configured; a clear error for a broken one."""
    if path is None:
        return Catalog()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise NotConfigured(f"catalog {path} cannot be read: {exc}") from exc
    try:
        return Catalog(
            prices=_credits_table(document, "prices"),
            payment_links=_credits_table(document, "payment_links"),
        )
    except ValueError as exc:
        raise NotConfigured(f"catalog {path}: {exc}") from exc


class CatalogFile:
    """The configured catalog, read when first needed and again when the file changes.

    A missing or broken file raises `NotConfigured` on use, not at start: deliveries are still
    stored, the ones that need the catalog are parked with the reason, and once the file is fixed
    a replay grants them.
    """

    _UNREAD = (-1, -1)

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = self._UNREAD
        self._catalog = Catalog()

    def current(self) -> Catalog:
        stamp = self._read_stamp()
        if stamp != self._stamp:
            self._catalog = load_catalog(self._path)
            self._stamp = stamp
        return self._catalog

    def _read_stamp(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            stat = self._path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size


def _credits_table(document: dict[str, Any], name: str) -> dict[str, int]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"[{name}] must be a table")
    result: dict[str, int] = {}
    for key, entry in table.items():
        if not isinstance(entry, dict) or "credits" not in entry:
            raise ValueError(f"[{name}.{key}] needs `credits = <whole number>`")
        result[key] = entry["credits"]
    return result
