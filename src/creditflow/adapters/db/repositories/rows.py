"""Rows read back as domain records: one converter per table, shared by every repository that
reads that table (its own, the console's reads, the pipelined loads of the unit of work)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creditflow.domain.deliveries import StoredDelivery
from creditflow.domain.pending import PendingGrant
from creditflow.domain.purchase_record import Purchase
from creditflow.domain.statuses import DeliveryStatus, DisputeStatus, PaymentState, PurchaseStatus


def purchase_from(m: Mapping[Any, Any]) -> Purchase:
    dispute = m["dispute_status"]
    return Purchase(
        id=m["id"],
        checkout_session_id=m["checkout_session_id"],
        payment_intent_id=m["payment_intent_id"],
        payment_state=PaymentState(m["payment_state"]),
        status=PurchaseStatus(m["status"]),
        user_id=m["user_id"],
        email=m["email_key"],
        amount=m["amount"],
        currency=m["currency"],
        credits=m["credits"],
        payment_link=m["payment_link"],
        amount_refunded=m["amount_refunded"],
        dispute_status=None if dispute is None else DisputeStatus(dispute),
        credits_refunded=m["credits_refunded"],
        credits_held=m["credits_held"],
        credits_written_off=m["credits_written_off"],
        livemode=m["livemode"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        credited_at=m["credited_at"],
        invoice_id=m["invoice_id"],
        credits_expire_at=m["credits_expire_at"],
    )


def delivery_from(m: Mapping[Any, Any]) -> StoredDelivery:
    return StoredDelivery(
        id=m["id"],
        type=m["type"],
        livemode=m["livemode"],
        payload=m["payload"],
        status=DeliveryStatus(m["status"]),
        error=m["error"],
        endpoint=m["endpoint"],
        delivery_count=m["delivery_count"],
        received_at=m["received_at"],
        processed_at=m["processed_at"],
    )


def pending_grant_from(m: Mapping[Any, Any]) -> PendingGrant:
    return PendingGrant(
        id=m["id"],
        purchase_id=m["purchase_id"],
        user_id=m["user_id"],
        email=m["email_key"],
        credits=m["credits"],
        created_at=m["created_at"],
        claimed_at=m["claimed_at"],
        claimed_by=m["claimed_by"],
    )
