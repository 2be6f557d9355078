"""A batch's paid deliveries, decided in arrival order on in-memory purchases (group commit).

The common case of a batch of webhook deliveries: paid Checkout Sessions and PaymentIntents
whose buyer is a registered user, and their duplicates. Their purchases are inserted or locked
all at once (the first sighting of each payment in the batch inserts it), then each delivery is
decided here, in arrival order, by the same rules as alone (domain/purchase.py, and
domain/money_back.py's settlement): a later delivery of a payment sees what an earlier one made
of its purchase, so a duplicate in the batch is a duplicate. A delivery these rules would send
anywhere but a wallet (parked, refunds to settle) is answered `OwnPath`: it takes the
per-delivery path instead, and nothing of the batch is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from creditflow.domain import money_back, purchase
from creditflow.domain.money_back import RefundPolicy
from creditflow.domain.payments import PaymentEvent
from creditflow.domain.purchase import GrantPlan
from creditflow.domain.purchase_record import NO_CHANGE, NewPurchase, Purchase, PurchaseChange
from creditflow.domain.statuses import DeliveryStatus
from creditflow.domain.wallet import Posting


@dataclass(frozen=True)
class BatchPayment:
    """A paid delivery of the batch, its grant planned (`recipient`: the user its buyer names)."""

    payment: PaymentEvent
    plan: GrantPlan | None


@dataclass(frozen=True)
class Sightings:
    """The purchases the batch inserts if absent: one per payment (deliveries naming a common
    id are one payment), and for each delivery, the index of its payment's."""

    new: tuple[NewPurchase, ...]
    payment_of: tuple[int, ...]
    named: tuple[str, ...]  # every Checkout Session and PaymentIntent id the batch names


@dataclass(frozen=True)
class Decided:
    """One delivery's outcome: its purchase's change (with its settlement) and its grant."""

    outcome: DeliveryStatus
    purchase_id: int
    change: PurchaseChange = NO_CHANGE
    posting: Posting | None = None


@dataclass(frozen=True)
class OwnPath:
    """The delivery at `index` is not the common case after all: run it as alone."""

    index: int
    why: str


def sightings(batch: Sequence[BatchPayment], now: datetime) -> Sightings:
    """What each payment's first delivery in the batch would insert, as it would alone."""
    new: list[NewPurchase] = []
    ids: list[set[str]] = []
    payment_of: list[int] = []
    for item in batch:
        named = _ids(item.payment)
        index = next((i for i, known in enumerate(ids) if known & named), None)
        if index is None:
            index = len(new)
            new.append(purchase.first_sighting(item.payment, item.plan, now))
            ids.append(set())
        ids[index] |= named
        payment_of.append(index)
    return Sightings(tuple(new), tuple(payment_of), tuple(sorted(set().union(*ids))))


def decide_all(
    batch: Sequence[BatchPayment],
    seen: Sightings,
    locked: Sequence[Purchase],
    inserted: Sequence[bool],
    now: datetime,
    policy: RefundPolicy,
) -> list[Decided] | OwnPath:
    """Each delivery decided in arrival order on the purchases `locked` (every row naming a
    payment of the batch), as the ones before it left them; `inserted[i]`: `seen.new[i]` was
    inserted by the batch (so its first delivery stands on it as created)."""
    purchases = {row.id: row for row in locked}
    firsts: set[int] = set()
    decided: list[Decided] = []
    for index, item in enumerate(batch):
        payment = seen.payment_of[index]
        loaded = _naming(purchases.values(), item.payment)
        if loaded is None:
            return OwnPath(index, "no purchase names the payment")
        created = inserted[payment] and payment not in firsts
        firsts.add(payment)
        try:
            decision = purchase.on_payment(loaded, item.payment, item.plan, now, created)
        except Exception as exc:  # NeedsAttention, or a bug: alone it is recorded as such
            return OwnPath(index, f"{type(exc).__name__}: {exc}")
        if decision.outcome is DeliveryStatus.DUPLICATE:
            decided.append(Decided(decision.outcome, loaded.id))
            continue
        if decision.parked is not None:
            return OwnPath(index, "its credits wait as a pending grant")
        after = decision.change.applied_to(loaded)
        if money_back.balance_needed(after, policy) is not None:
            return OwnPath(index, "its refunds or dispute move credits")
        settlement = money_back.settle(after, item.payment.event_id, policy)
        if settlement.postings or settlement.pending_credits is not None:
            return OwnPath(index, "its refunds or dispute move credits")
        change = decision.change.then(settlement.change)
        purchases[loaded.id] = change.applied_to(loaded)
        decided.append(Decided(decision.outcome, loaded.id, change, decision.posting))
    return decided


def changes_by_purchase(decided: Sequence[Decided]) -> dict[int, PurchaseChange]:
    """What the batch writes to each purchase it changed, its changes folded in order."""
    folded: dict[int, PurchaseChange] = {}
    for item in decided:
        if not item.change.is_empty:
            folded[item.purchase_id] = folded.get(item.purchase_id, NO_CHANGE).then(item.change)
    return {purchase_id: folded[purchase_id] for purchase_id in sorted(folded)}


def _ids(payment: PaymentEvent) -> set[str]:
    return {i for i in (payment.checkout_session_id, payment.payment_intent_id) if i is not None}


def _naming(purchases: Iterable[Purchase], payment: PaymentEvent) -> Purchase | None:
    """The purchase a lock by the payment's ids finds: the oldest naming either."""
    session, intent = payment.checkout_session_id, payment.payment_intent_id
    rows = [
        row
        for row in purchases
        if (session is not None and row.checkout_session_id == session)
        or (intent is not None and row.payment_intent_id == intent)
    ]
    return min(rows, key=lambda row: row.id) if rows else None
