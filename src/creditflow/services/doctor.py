"""`creditflow doctor`: is this set-up able to turn payments into credits? Findings in plain words.

The original app lost payments to set-up mistakes nobody could see: a webhook URL pointing at the
legacy route, two URLs delivering every event twice, a secret that did not match. Each check here
gathers one fact (settings, the database, Stripe's account) and says what is wrong and how to fix
it; the endpoint review is a pure function of what Stripe lists, so its rules are tested alone.
The database and Stripe are reached through ports (`Schema`, `DoctorGateway`) that bootstrap.py
fills with adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

from creditflow.domain.credits import Catalog
from creditflow.errors import CreditflowError, DatabaseUnavailable, NotFound
from creditflow.services.queries import Backlog
from creditflow.settings import LEGACY_WEBHOOK_PATH, WEBHOOK_PATH, Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 (the shape of every signing secret, not one)


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"  # works, but not as it should: fix it soon
    PROBLEM = "problem"  # payments can be lost or cannot be verified: fix it now

    @property
    def rank(self) -> int:
        return list(Level).index(self)


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str
    fix: str | None = None


class Schema(Protocol):
    """The database's schema revision and the one this release needs (adapters/db/migrate.py)."""

    def current_revision(self) -> str | None:
        """None on an empty database; DatabaseUnavailable, its `fix` detail saying what to do,
        when the database cannot be used."""
        ...

    def head_revision(self) -> str | None: ...


class DoctorGateway(Protocol):
    def check_key(self) -> None: ...
    def webhook_endpoints(self) -> list[dict[str, Any]]: ...
    def price_credits(self, price_id: str) -> str | None: ...
    def payment_link(self, link_id: str) -> dict[str, Any]: ...
    def recurring_prices(self) -> list[dict[str, Any]]: ...


def worst(findings: Iterable[Finding]) -> Level:
    return max(
        (finding.level for finding in findings), key=lambda level: level.rank, default=Level.OK
    )


class Doctor:
    def __init__(
        self,
        settings: Settings,
        schema: Schema,
        gateway: DoctorGateway | None,
        catalog: Callable[[], Catalog],
        backlog: Callable[[], Backlog],
        handled_event_types: Sequence[str],
    ) -> None:
        self._settings = settings
        self._schema = schema
        self._gateway = gateway
        self._catalog = catalog
        self._backlog = backlog
        self._handled = handled_event_types

    def examine(self, public_url: str | None = None) -> list[Finding]:
        findings = [*self._database(), *secret_findings(self._settings), self._api_key()]
        if findings[0].level is Level.OK:
            findings += self._parked()
        findings += self._stripe(public_url)
        findings += self._catalog_entries()
        findings += self._plans()
        return findings

    def _database(self) -> list[Finding]:
        try:
            current = self._schema.current_revision()
        except DatabaseUnavailable as exc:
            fix = exc.details.get("fix")
            return [
                Finding(
                    "database",
                    Level.PROBLEM,
                    f"cannot use the database: {exc.message}",
                    fix if isinstance(fix, str) else None,
                )
            ]
        head = self._schema.head_revision()
        if current != head:
            return [
                Finding(
                    "database",
                    Level.PROBLEM,
                    f"the schema is at revision {current or '(empty)'}, this release needs {head}",
                    "run `creditflow migrate`",
                )
            ]
        return [Finding("database", Level.OK, f"reachable, schema at revision {head}")]

    def _api_key(self) -> Finding:
        if self._settings.api_key is None:
            return Finding(
                "api key",
                Level.PROBLEM,
                "CREDITFLOW_API_KEY is not set: the /v1 API refuses every call",
                "set CREDITFLOW_API_KEY to a long random token your app sends as a bearer token",
            )
        return Finding("api key", Level.OK, "CREDITFLOW_API_KEY is set")

    def _parked(self) -> list[Finding]:
        backlog = self._backlog()
        findings = []
        if backlog.needs_attention:
            findings.append(
                Finding(
                    "needs attention",
                    Level.WARNING,
                    f"{backlog.needs_attention} paid deliveries are parked: no credits granted yet",
                    "`creditflow events --status needs_attention` says why; fix it, then "
                    "`creditflow replay EVENT_ID`",
                )
            )
        if backlog.failed:
            findings.append(
                Finding(
                    "failed deliveries",
                    Level.WARNING,
                    f"{backlog.failed} deliveries failed while processing; Stripe retries them",
                    "`creditflow events --status failed` shows the errors",
                )
            )
        return findings or [Finding("needs attention", Level.OK, "no delivery is waiting")]

    def _stripe(self, public_url: str | None) -> list[Finding]:
        if self._gateway is None:
            return [
                Finding(
                    "stripe",
                    Level.WARNING,
                    "STRIPE_SECRET_KEY is not set: the webhook endpoints and the catalog "
                    "cannot be checked, and checkout creation, fulfil and reconcile are off",
                    "set STRIPE_SECRET_KEY (a restricted key that can read is enough here)",
                )
            ]
        try:
            self._gateway.check_key()
            endpoints = self._gateway.webhook_endpoints()
        except CreditflowError as exc:
            return [Finding("stripe", Level.PROBLEM, exc.message, "check STRIPE_SECRET_KEY")]
        return [
            Finding("stripe", Level.OK, "STRIPE_SECRET_KEY works"),
            *endpoint_findings(endpoints, public_url, self._handled),
        ]

    def _catalog_entries(self) -> list[Finding]:
        """The file's own checks need no Stripe key; only "does Stripe know these ids" does."""
        if self._settings.catalog_path is None:
            return [
                Finding(
                    "catalog",
                    Level.OK,
                    "none configured (CREDITFLOW_CATALOG): credits come from each price's or "
                    "session's metadata.credits",
                )
            ]
        try:
            catalog = self._catalog()
        except CreditflowError as exc:
            return [Finding("catalog", Level.PROBLEM, exc.message, "fix CREDITFLOW_CATALOG")]
        count = len(catalog.prices) + len(catalog.links)
        if self._gateway is None:
            return [
                Finding(
                    "catalog",
                    Level.OK,
                    f"{count} entries read; not checked against Stripe (no STRIPE_SECRET_KEY)",
                )
            ]
        gateway = self._gateway
        try:
            missing = [
                *_missing(catalog.prices, "price", gateway.price_credits),
                *_missing(catalog.links, "payment link", gateway.payment_link),
            ]
        except CreditflowError as exc:
            return [Finding("catalog", Level.PROBLEM, exc.message, "check STRIPE_SECRET_KEY")]
        if missing:
            return [
                Finding(
                    "catalog",
                    Level.PROBLEM,
                    f"not in this Stripe account: {', '.join(missing)}; payments for them "
                    "would be parked",
                    "correct the ids in CREDITFLOW_CATALOG (test and live ids differ)",
                )
            ]
        return [Finding("catalog", Level.OK, f"{count} entries, all found in Stripe")]

    def _plans(self) -> list[Finding]:
        """A plan no rule prices parks every invoice of it. "Used by a subscription" is what
        creditflow can see without reading every subscription: an active recurring price in
        Stripe (only subscriptions bill those). Skipped without a key or a readable catalog
        (both have their own findings)."""
        if self._gateway is None:
            return []
        try:
            catalog = self._catalog()
            prices = self._gateway.recurring_prices()
        except CreditflowError:
            return []
        return plan_findings(prices, catalog)


def plan_findings(prices: Iterable[Mapping[str, Any]], catalog: Catalog) -> list[Finding]:
    """Recurring prices neither the catalog nor their own `metadata.credits` price."""
    listed = list(prices)
    unpriced = [
        price["id"]
        for price in listed
        if price["id"] not in catalog.prices and "credits" not in (price.get("metadata") or {})
    ]
    if unpriced:
        return [
            Finding(
                "plans",
                Level.WARNING,
                f"recurring prices no rule gives credits: {', '.join(unpriced)}; their paid "
                "invoices are parked as needs_attention unless the subscription's "
                "metadata.credits says how many",
                "give each a `[prices.<id>] credits = N` entry in CREDITFLOW_CATALOG, or "
                "metadata.credits on the price in Stripe",
            )
        ]
    return [Finding("plans", Level.OK, f"{len(listed)} recurring prices, each gives credits")]


def _missing(ids: Iterable[str], kind: str, lookup: Callable[[str], object]) -> list[str]:
    missing = []
    for object_id in ids:
        try:
            lookup(object_id)
        except NotFound:
            missing.append(f"{kind} {object_id}")
    return missing


def secret_findings(settings: Settings) -> list[Finding]:
    """The secrets' shape only: a value is never printed, not even in part."""
    secrets = [secret.get_secret_value() for secret in settings.webhook_secrets]
    if not secrets:
        return [
            Finding(
                "webhook secret",
                Level.PROBLEM,
                "STRIPE_WEBHOOK_SECRET is not set: every delivery is refused with 503",
                "copy the endpoint's signing secret (whsec_...) from the Dashboard or "
                "`stripe listen` into STRIPE_WEBHOOK_SECRET",
            )
        ]
    malformed = [
        str(position)
        for position, secret in enumerate(secrets, start=1)
        if not secret.startswith(SECRET_PREFIX) or len(secret) < len(SECRET_PREFIX) + 16
    ]
    if malformed:
        return [
            Finding(
                "webhook secret",
                Level.PROBLEM,
                f"STRIPE_WEBHOOK_SECRET entry {', '.join(malformed)} of {len(secrets)} is not a "
                "signing secret (they start with whsec_): deliveries signed with it fail",
                "use the endpoint's signing secret, not an API key",
            )
        ]
    return [Finding("webhook secret", Level.OK, f"{len(secrets)} signing secret(s) configured")]


def endpoint_findings(
    endpoints: Sequence[Mapping[str, Any]], public_url: str | None, handled: Sequence[str]
) -> list[Finding]:
    """Which of the account's webhook endpoints deliver to this service, and what is wrong.

    An endpoint is this service's when its path is the webhook path or the legacy one, and, when
    the public URL is known, its host is that URL's; each must send every `handled` event type.
    """
    ours = [endpoint for endpoint in endpoints if _is_ours(endpoint, public_url)]
    enabled = [endpoint for endpoint in ours if endpoint.get("status") == "enabled"]
    findings = [
        *_legacy(ours),
        *_disabled(ours),
        *_missing_events(enabled, handled),
    ]
    if not enabled:
        findings.append(
            Finding(
                "webhook endpoints",
                Level.PROBLEM,
                "no enabled Stripe webhook endpoint delivers to creditflow: payments are not "
                "credited until someone runs `creditflow reconcile`",
                f"add an endpoint https://<your host>{WEBHOOK_PATH} in the Dashboard",
            )
        )
    elif len(enabled) > 1:
        findings.append(
            Finding(
                "webhook endpoints",
                Level.WARNING,
                f"{len(enabled)} enabled endpoints deliver to creditflow "
                f"({', '.join(_names(enabled))}): every event arrives twice; credits are still "
                "granted once, but each delivery costs a request",
                f"keep one endpoint, at {WEBHOOK_PATH}",
            )
        )
    if not findings:
        findings.append(
            Finding("webhook endpoints", Level.OK, f"one endpoint delivers: {_names(enabled)[0]}")
        )
    return findings


def _is_ours(endpoint: Mapping[str, Any], public_url: str | None) -> bool:
    if _path(endpoint) not in (WEBHOOK_PATH, LEGACY_WEBHOOK_PATH):
        return False
    host = urlsplit(str(endpoint.get("url"))).netloc
    return public_url is None or host == urlsplit(public_url).netloc


def _path(endpoint: Mapping[str, Any]) -> str:
    return urlsplit(str(endpoint.get("url"))).path.rstrip("/")


def _names(endpoints: Iterable[Mapping[str, Any]]) -> list[str]:
    return [f"{endpoint.get('id')} {endpoint.get('url')}" for endpoint in endpoints]


def _legacy(ours: Sequence[Mapping[str, Any]]) -> list[Finding]:
    legacy = [
        e for e in ours if urlsplit(str(e.get("url"))).path.rstrip("/") == LEGACY_WEBHOOK_PATH
    ]
    if not legacy:
        return []
    return [
        Finding(
            "legacy url",
            Level.PROBLEM,
            f"endpoint {', '.join(_names(legacy))} uses the deprecated {LEGACY_WEBHOOK_PATH}: "
            "it works only while CREDITFLOW_LEGACY_WEBHOOK=true",
            f"point it at {WEBHOOK_PATH} (or delete it if another endpoint already does)",
        )
    ]


def _disabled(ours: Sequence[Mapping[str, Any]]) -> list[Finding]:
    disabled = [e for e in ours if e.get("status") != "enabled"]
    if not disabled:
        return []
    return [
        Finding(
            "disabled endpoint",
            Level.WARNING,
            f"endpoint {', '.join(_names(disabled))} is disabled: Stripe sends it nothing",
            "enable it in the Dashboard, or delete it",
        )
    ]


def _missing_events(enabled: Sequence[Mapping[str, Any]], handled: Sequence[str]) -> list[Finding]:
    findings = []
    for endpoint in enabled:
        events = set(endpoint.get("enabled_events") or [])
        if "*" in events:
            continue
        missing = [event for event in handled if event not in events]
        if missing:
            findings.append(
                Finding(
                    "event types",
                    Level.PROBLEM,
                    f"endpoint {endpoint.get('id')} does not send {', '.join(missing)}",
                    "add them to the endpoint's events in the Dashboard",
                )
            )
    return findings
