"""Read the TOML catalog: price / payment link id -> credits per unit, and named packs.

    [prices.price_1PqXyZ]
    credits = 100
    [payment_links.plink_1AbCdE]
    credits = 500              # per unit: times the quantity, read from Stripe's API
    [payment_links.plink_2FgHiJ]
    credits_per_purchase = 500 # sold in a fixed quantity: needs no API call (nor a key)
    [prices.price_1Plan]
    credits = 1000
    recurring = true           # a subscription plan: checkout makes a mode=subscription session
    rollover = true            # a subscription's credits for it never expire (default: reset;
                               # implies recurring)
    [packs.starter]            # sold by POST /v1/checkout-sessions {"pack": "starter"}
    price = "price_1PqXyZ"
    credits = 100              # optional: the same as a [prices.price_1PqXyZ] entry

A pack without `credits` is priced like any price: its `[prices]` entry, else the price's
`metadata.credits` in Stripe. Catalogs written before packs existed read as they did. A payment
link entry says exactly one of `credits` and `credits_per_purchase`.
"""

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
        prices = _credits_table(document, "prices")
        packs = _packs(document, prices)
        per_unit, per_purchase = _payment_links(document)
        return Catalog(
            prices=prices,
            payment_links=per_unit,
            packs=packs,
            link_purchases=per_purchase,
            rollover=_flagged(document, "rollover"),
            recurring=_flagged(document, "recurring") | _flagged(document, "rollover"),
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


def _table(document: dict[str, Any], name: str) -> dict[str, Any]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"[{name}] must be a table")
    return table


def _credits_table(document: dict[str, Any], name: str) -> dict[str, int]:
    table = _table(document, name)
    result: dict[str, int] = {}
    for key, entry in table.items():
        if not isinstance(entry, dict) or "credits" not in entry:
            raise ValueError(f"[{name}.{key}] needs `credits = <whole number>`")
        result[key] = entry["credits"]
    return result


def _flagged(document: dict[str, Any], flag: str) -> frozenset[str]:
    """The prices whose entry says `<flag> = true` (`rollover`, `recurring`)."""
    marked = set()
    for key, entry in _table(document, "prices").items():
        if "rollover_max" in entry:
            raise ValueError(f"[prices.{key}] rollover_max is not supported yet")
        value = entry.get(flag, False)
        if not isinstance(value, bool):
            raise ValueError(f"[prices.{key}] {flag} must be true or false")
        if value:
            marked.add(key)
    return frozenset(marked)


def _payment_links(document: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Links priced per unit (`credits`) and per purchase (`credits_per_purchase`)."""
    per_unit: dict[str, int] = {}
    per_purchase: dict[str, int] = {}
    for key, entry in _table(document, "payment_links").items():
        given = (
            [name for name in ("credits", "credits_per_purchase") if name in entry]
            if isinstance(entry, dict)
            else []
        )
        if len(given) != 1:
            raise ValueError(
                f"[payment_links.{key}] needs exactly one of `credits = <whole number>` (per "
                "unit bought) and `credits_per_purchase = <whole number>` (a fixed quantity)"
            )
        target = per_unit if given[0] == "credits" else per_purchase
        target[key] = entry[given[0]]
    return per_unit, per_purchase


def _packs(document: dict[str, Any], prices: dict[str, int]) -> dict[str, str]:
    """Pack name -> price id; a pack's own `credits` is added to `prices` (never contradicting)."""
    packs: dict[str, str] = {}
    for name, entry in _table(document, "packs").items():
        if not isinstance(entry, dict) or not isinstance(entry.get("price"), str):
            raise ValueError(f'[packs.{name}] needs `price = "price_..."`')
        price_id = entry["price"]
        if "credits" in entry:
            known = prices.setdefault(price_id, entry["credits"])
            if known != entry["credits"]:
                raise ValueError(
                    f"[packs.{name}] gives {entry['credits']!r} credits for {price_id}, "
                    f"the catalog elsewhere {known!r}"
                )
        packs[name] = price_id
    return packs
