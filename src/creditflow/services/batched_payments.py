"""The common case of a batch of deliveries, set-based: paid payments for registered users.

In a batch (services/batched_deliveries.py), consecutive deliveries of paid Checkout Sessions or
PaymentIntents whose buyer is a registered user (and their duplicates) are settled together,
load / decide / store (docs/design.md, group commit):

1. every payment's purchase inserted or locked, in one statement each (`insert_or_lock_purchases`);
2. each delivery decided in arrival order on the purchases in memory (domain/payment_batch.py),
   so a duplicate sees its original;
3. every wallet the grants go to locked and loaded at once (`wallets.load_many`), each grant
   decided in turn on it (domain/wallet.py: two payments to one wallet see each other);
4. the purchases' changes, the entries, lots and balances (`wallets.store_many`), then the
   inbox outcomes, in set-based statements; the caller commits.

A fixed number of round trips however many deliveries (tests/bench/test_round_trips.py).
A delivery that turns out not to be the common case (parked, refunds to settle, needs attention,
no wallet) is answered by its index: nothing is stored, and the batch is retried around it, that
one running alone, exactly as unbatched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from creditflow.domain import payment_batch, purchase
from creditflow.domain.money_back import RefundPolicy
from creditflow.domain.payment_batch import BatchPayment, Decided, OwnPath
from creditflow.domain.payments import PaymentEvent
from creditflow.domain.statuses import DeliveryStatus
from creditflow.domain.wallet import Posted, Refused, decide
from creditflow.services.purchases import BuyerFound
from creditflow.services.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class PaidDelivery:
    """A delivery of the common case: its event id, its payment, its buyer's user."""

    event_id: str
    payment: PaymentEvent
    user_id: str


def paid_delivery(
    event_id: str, interpretation: object, found: BuyerFound | None
) -> PaidDelivery | None:
    """The delivery as the common case, if it is one: a payment that grants credits (so its
    buyer was looked up with its arrival), to a user who is registered."""
    if not isinstance(interpretation, PaymentEvent) or found is None or found.user_id is None:
        return None
    if not purchase.needs_recipient(interpretation):
        return None
    return PaidDelivery(event_id, interpretation, found.user_id)


def settle_paid(
    uow: UnitOfWork,
    batch: Sequence[PaidDelivery],
    now: datetime,
    policy: RefundPolicy,
    *,
    last: bool,
) -> list[DeliveryStatus] | OwnPath:
    """Each delivery's outcome, its writes made in `uow` (the caller commits; `last`: it
    commits next, so the store may go with the COMMIT); or the first one that must run
    alone, with nothing stored."""
    items = [BatchPayment(d.payment, purchase.plan_grant(d.payment, d.user_id)) for d in batch]
    seen = payment_batch.sightings(items, now)
    locked, inserted = uow.insert_or_lock_purchases(seen.new, seen.named, now)
    decided = payment_batch.decide_all(items, seen, locked, inserted, now, policy)
    if isinstance(decided, OwnPath):
        return decided
    posted = _granted(uow, decided, now)
    if isinstance(posted, OwnPath):
        return posted
    changes = payment_batch.changes_by_purchase(decided)
    uow.store_paid(changes, posted, now, with_commit=last)
    outcomes = [d.outcome for d in decided]
    uow.inbox.record_outcomes(
        [(d.event_id, outcome, None) for d, outcome in zip(batch, outcomes, strict=True)], now
    )
    return outcomes


def _granted(uow: UnitOfWork, decided: Sequence[Decided], now: datetime) -> list[Posted] | OwnPath:
    """The grants decided in turn on their wallets, loaded together: as `post` decides alone
    (a key posted already posts nothing; a refusal or a missing wallet fails the delivery)."""
    postings = [d.posting for d in decided if d.posting is not None]
    if not postings:
        return []
    states = uow.wallets.load_many(postings, now)
    posted: list[Posted] = []
    for index, item in enumerate(decided):
        if item.posting is None:
            continue
        state = states.get(item.posting.user_id)
        if state is None:
            return OwnPath(index, f"no wallet for {item.posting.user_id}")
        decision = decide(state, item.posting, now)
        if isinstance(decision, Refused):
            return OwnPath(index, "the grant was refused")
        if isinstance(decision, Posted):
            states[state.user_id] = decision.state  # the next grant to it sees this one
            posted.append(decision)
    return posted
