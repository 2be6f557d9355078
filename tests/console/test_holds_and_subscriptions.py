"""The console's holds and subscription grants over HTTP, on both engines: a wallet's held and
available credits and its holds (live first, by status as seen now), the overview's count of
active holds, the holds list (filtered by status, keyset-paged), and the wallet's subscription
grants (purchases of paid invoices, with the period's expiry)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from creditflow.entrypoints.http.console import pages
from tests.conftest import ClientFactory
from tests.console.support import console_settings, log_in
from tests.invoices import INVOICE_ID, PRICE_ID, invoice_event, subscription_checkout_event
from tests.support import ManualClock, auth, deliver, grant, register

USER = "user_42"  # the subscription Checkout Session's client_reference_id
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(client_for: ClientFactory, tmp_path: Path, clock: ManualClock, catalog: Path) -> TestClient:
    catalog.write_text(f"[prices.{PRICE_ID}]\ncredits = 1000\n")
    client = client_for(
        clock=clock, catalog_path=catalog, expiry_interval_seconds=0, **console_settings(tmp_path)
    )
    assert log_in(client).status_code == 303
    register(client, USER)
    assert grant(client, USER, 100, "funding").status_code == 200
    return client


def hold(client: httpx.Client, credits: int, key: str, **fields: Any) -> str:
    body = {"credits": credits, "idempotency_key": key, "reason": f"job {key}", **fields}
    response = client.post(f"/v1/wallets/{USER}/holds", json=body, headers=auth())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def rows(page: httpx.Response, table_after: str) -> list[str]:
    """The body rows of the first table after `table_after`, each as its cells' text."""
    assert page.status_code == 200, page.text
    body = page.text.split(table_after, 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    cells = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)
    return [
        " | ".join(re.sub(r"<[^>]+>", "", cell).strip() for cell in cells.findall(row))
        for row in body.split("</tr>")
        if "<td" in row
    ]


def test_a_wallet_shows_held_and_available_and_its_holds_live_first(
    app: TestClient, clock: ManualClock
) -> None:
    lapsing = hold(app, 5, "lapsing", expires_in_seconds=60)
    clock.now += timedelta(seconds=1)
    captured = hold(app, 20, "captured")
    app.post(f"/v1/holds/{captured}/capture", json={"credits": 15}, headers=auth())
    clock.now += timedelta(minutes=2)  # `lapsing` is past its expiry, not swept yet
    live = hold(app, 30, "live")

    page = app.get(f"/console/wallet?user={USER}")

    assert "<dt>Held</dt><dd>30 credits" in page.text
    assert "<dt>Available</dt><dd><strong>55</strong>" in page.text  # 100 - 15 captured - 30
    listed = rows(page, 'id="holds"')
    assert [row.split(" | ")[:2] for row in listed] == [
        [live, "held"],
        [captured, "captured"],  # then the others, newest first
        [lapsing, "expired"],
    ]
    assert listed[1].split(" | ")[3] == "15"  # what the capture took


def test_the_overview_counts_active_holds_and_links_to_the_live_ones(
    app: TestClient, clock: ManualClock
) -> None:
    hold(app, 1, "a")
    hold(app, 1, "b", expires_in_seconds=60)
    voided = hold(app, 1, "c")
    app.post(f"/v1/holds/{voided}/void", headers=auth())
    clock.now += timedelta(minutes=2)

    overview = app.get("/console")

    assert re.search(
        r'<a href="/console/holds\?status=held"><strong>1</strong> active holds</a>', overview.text
    )


def test_the_holds_list_filters_by_status_as_seen_now(app: TestClient, clock: ManualClock) -> None:
    live = hold(app, 1, "live")
    clock.now += timedelta(seconds=1)
    lapsed = hold(app, 1, "lapsed", expires_in_seconds=60)
    clock.now += timedelta(seconds=1)
    voided = hold(app, 1, "voided")
    app.post(f"/v1/holds/{voided}/void", headers=auth())
    clock.now += timedelta(minutes=2)

    def listed(status: str) -> list[str]:
        page = app.get(f"/console/holds?status={status}")
        return [row.split(" | ")[0] for row in rows(page, "<table")]

    assert listed("held") == [live]
    assert listed("expired") == [lapsed]
    assert listed("voided") == [voided]
    assert listed("captured") == ["None."]
    assert listed("") == [voided, lapsed, live]  # newest first


def test_the_holds_list_pages_by_cursor_without_repeats_or_gaps(
    app: TestClient, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    opened = []
    for n in range(5):
        opened.append(hold(app, 1, f"h{n}"))
        clock.now += timedelta(seconds=1 if n != 2 else 0)  # two opened in the same second

    seen: list[str] = []
    path: str | None = f"/console/holds?user={USER}"
    while path is not None:
        page = app.get(path)
        seen += [row.split(" | ")[0] for row in rows(page, "<table")]
        found = re.search(r'<a rel="next" href="([^"]+)"', page.text)
        path = found.group(1).replace("&amp;", "&") if found else None

    # Newest first; h2 and h3, opened in the same second, by id (across a page's end).
    assert seen == [opened[4], *sorted(opened[2:4], reverse=True), opened[1], opened[0]]
    damaged = app.get("/console/holds?after=yesterday~h1")
    assert (damaged.status_code, "that page link is damaged" in damaged.text) == (422, True)


def test_a_hold_reason_holding_markup_is_shown_as_text(app: TestClient) -> None:
    hold(app, 1, "xss", reason=SCRIPT)

    for path in (f"/console/wallet?user={USER}", "/console/holds"):
        page = app.get(path)
        assert SCRIPT not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_a_wallet_lists_its_subscription_grants_with_the_invoice_and_the_period_expiry(
    app: TestClient, clock: ManualClock
) -> None:
    end = (clock.now + timedelta(days=30)).replace(microsecond=0)
    deliver(app, subscription_checkout_event())
    assert deliver(app, invoice_event("basil", period_end=int(end.timestamp()))).status_code == 200

    [row] = rows(app.get(f"/console/wallet?user={USER}"), 'id="subscriptions"')

    _number, invoice, status, credits, expires, _paid = row.split(" | ")
    assert (invoice, status, credits) == (INVOICE_ID, "paid", "1000")
    assert datetime.strptime(expires, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC) >= end


def test_a_wallet_without_subscriptions_says_so(app: TestClient) -> None:
    [row] = rows(app.get(f"/console/wallet?user={USER}"), 'id="subscriptions"')

    assert row == "None: no paid subscription invoice."


def test_the_page_of_a_wallet_nobody_has_says_so(app: TestClient) -> None:
    page = app.get("/console/wallet?user=nobody")

    assert (page.status_code, "no user nobody" in page.text) == (404, True)
