"""The idempotency-key scheme: the strings that make each balance change happen at most once.

A ledger entry's key is unique in the database, so posting the same key twice is refused
whatever the race; these functions are the only place the strings are spelled. Changing one
changes which postings count as the same: old keys already in ledgers must keep their meaning.
Identity lock keys name what a registration and a parked payment both lock (docs/design.md).
"""

from __future__ import annotations


def spend_key(user_id: str, idempotency_key: str) -> str:
    """The app's spend, unique per wallet and the app's own key."""
    return f"spend:{user_id}:{idempotency_key}"


def grant_key(user_id: str, idempotency_key: str) -> str:
    """A promotional or manual grant, unique per wallet and the caller's key."""
    return f"grant:{user_id}:{idempotency_key}"


def hold_key(user_id: str, idempotency_key: str) -> str:
    """The app's hold, unique per wallet and the app's own key (a hold is not a ledger entry:
    this key is unique in the holds table)."""
    return f"hold:{user_id}:{idempotency_key}"


def hold_capture_key(hold_id: str) -> str:
    """A hold is captured once: its spend entry's key."""
    return f"{hold_id}:capture"


def purchase_grant_key(purchase_id: int) -> str:
    """One key per purchase, shared by a direct grant and a later pending-grant claim."""
    return f"purchase:{purchase_id}:grant"


def invoice_grant_key(invoice_id: str) -> str:
    """A subscription period's credits: one grant per Stripe invoice, whichever of its events
    (`invoice.paid`, `invoice.payment_succeeded`, a redelivery) or a later claim posts it."""
    return f"invoice:{invoice_id}:grant"


def purchase_adjustment_key(purchase_id: int, kind: str, event_id: str) -> str:
    """A refund or dispute movement of a purchase's credits: one per kind of movement and the
    provider's event that caused it (Stripe's evt_...), so no count of earlier entries is needed.

    Ledgers also hold the older `purchase:{id}:adjustment:{n}`; a replay of the event that
    posted one is kept from posting again by the targets recorded on the purchase, which the
    movement is the difference from (docs/design.md), not by the key.
    """
    return f"purchase:{purchase_id}:{kind}:{event_id}"


def lot_reference(lot_id: int) -> str:
    return f"lot:{lot_id}"


def lot_expiry_key(lot_id: int) -> str:
    """A lot expires once, however many expiry runs see it."""
    return f"{lot_reference(lot_id)}:expiry"


def lot_part_expiry_key(lot_id: int, remaining: int) -> str:
    """The part of an expired lot that live holds did not need (docs/design.md, holds): the
    rest expires once they are closed, under `lot_expiry_key`. Named by what the lot held
    then, which only shrinks past its expiry, so each part is posted once."""
    return f"{lot_expiry_key(lot_id)}:{remaining}"


def identity_lock_keys(user_id: str | None, email_key: str | None) -> list[str]:
    """The locks a payment that may be parked and a registration both take: its user id, its
    normalized e-mail."""
    keys = [f"user:{user_id}"] if user_id else []
    return keys + ([f"email:{email_key}"] if email_key else [])
