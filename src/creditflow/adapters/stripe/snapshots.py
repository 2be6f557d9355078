"""A Stripe object read through the API, presented as the event Stripe sends for its state.

The success page's fulfil call processes what Stripe says now through the webhook's own path (the
same interpreter, inbox and idempotent fulfilment), so both can never grant twice. The event id
names the object and its state: asking again about an unchanged session is a duplicate delivery,
a session paid since is news.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# An open session (the buyer came back before paying) reads like a completed unpaid one: the
# purchase awaits payment. The interpreter itself reads paid / unpaid from `payment_status`.
EVENT_TYPE_BY_SESSION_STATUS = {"expired": "checkout.session.expired"}
DEFAULT_EVENT_TYPE = "checkout.session.completed"


def checkout_session_event(session: Mapping[str, Any], *, created: int) -> dict[str, Any]:
    status = session.get("status")
    return {
        "id": f"snapshot:{session['id']}:{status}:{session.get('payment_status')}",
        "object": "event",
        "api_version": None,
        "created": created,
        "data": {"object": dict(session)},
        "livemode": bool(session.get("livemode", False)),
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": EVENT_TYPE_BY_SESSION_STATUS.get(str(status), DEFAULT_EVENT_TYPE),
    }
