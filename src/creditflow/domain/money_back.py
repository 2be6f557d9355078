"""Money coming back: how refunds and disputes change a purchase and take back its credits.

Events only update the facts (amount refunded so far, dispute status): `money_back_facts`.
`settle` then turns the facts into how many credits should be taken back (`targets`) and posts
the difference from what the purchase records as taken. Whatever order events arrive in, however
often, the result converges on the same numbers; a replayed event finds its targets met and posts
nothing, whatever key its first posting had (docs/design.md). A closed dispute and a canceled or
failed refund are final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from creditflow.domain import keys
from creditflow.domain.kinds import EntryKind
from creditflow.domain.payments import ChargeRefunded, DisputeChanged, MoneyBack, RefundChanged
from creditflow.domain.purchase import display_status
from creditflow.domain.purchase_record import NO_CHANGE, Purchase, PurchaseChange
from creditflow.domain.statuses import DisputeStatus, PaymentState, RefundStatus
from creditflow.domain.wallet import Posting


def dispute_after(current: DisputeStatus | None, reported: DisputeStatus) -> DisputeStatus:
    """A closed dispute (won or lost) is final: Stripe never reopens one, so a late or
    redelivered `created`/`updated` must not hold the credits again."""
    if current is DisputeStatus.WON or current is DisputeStatus.LOST:
        return current
    return reported


def refunded_after_charge_report(current: int, charge_total: int, canceled: int) -> int:
    """A charge's running total of refunds may still count refunds since canceled or failed
    (a report sent before they were); those are taken out. Otherwise totals only grow, so a
    late, smaller report takes nothing back."""
    return max(current, charge_total - canceled)


def refunded_after_cancel(current: int, refund: int, still_counted: int) -> int:
    """A refund canceled or failed no longer counts, but what the refunds still counted add up
    to always does."""
    return max(still_counted, current - refund)


@dataclass(frozen=True)
class RecordedRefund:
    """A refund object as the refunds table remembers it; `canceled_at` is when Stripe created
    the event that canceled it (None while counted, or when unknown)."""

    id: str
    purchase_id: int
    amount: int
    status: RefundStatus
    canceled_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    """What a refund or dispute event changes on its purchase, and the refund to remember."""

    change: PurchaseChange
    refund: RecordedRefund | None = None


def money_back_facts(
    purchase: Purchase, event: MoneyBack, refunds: Sequence[RecordedRefund]
) -> Facts:
    """`refunds`: those recorded for the purchase, and the event's own refund if recorded.

    Sources report running totals (the charge) or single refunds; the largest figure seen is the
    truth so far, so a late report never gives credits back. Only a refund that is canceled or
    fails lowers it, once: that state is final, whatever arrives after it. A charge's total
    leaves out the refunds canceled before it was reported, and may count those canceled since.
    """
    if isinstance(event, DisputeChanged):
        status = dispute_after(purchase.dispute_status, event.status)
        return Facts(NO_CHANGE if status is purchase.dispute_status else _dispute(status))
    refunded, record = _refunded(purchase, event, refunds)
    change = NO_CHANGE
    if refunded != purchase.amount_refunded:
        change = PurchaseChange(amount_refunded=refunded)
    if isinstance(event, ChargeRefunded) and purchase.amount is None:
        change = change.then(PurchaseChange(amount=event.amount))
    return Facts(change, record)


def _dispute(status: DisputeStatus) -> PurchaseChange:
    return PurchaseChange(dispute_status=status)


def _refunded(
    purchase: Purchase, event: ChargeRefunded | RefundChanged, refunds: Sequence[RecordedRefund]
) -> tuple[int, RecordedRefund | None]:
    mine = [refund for refund in refunds if refund.purchase_id == purchase.id]
    if isinstance(event, ChargeRefunded):
        # Stripe's times are whole seconds: a refund canceled in the second of the report, or
        # at an unknown time, may still be in its total.
        since = event.reported_at
        canceled = sum(
            refund.amount
            for refund in mine
            if refund.status is RefundStatus.CANCELED
            and (since is None or refund.canceled_at is None or refund.canceled_at >= since)
        )
        return refunded_after_charge_report(
            purchase.amount_refunded, event.amount_refunded, canceled
        ), None
    recorded = next((refund for refund in refunds if refund.id == event.refund_id), None)
    if recorded is not None and recorded.status is RefundStatus.CANCELED:
        return purchase.amount_refunded, None
    record = RecordedRefund(
        id=event.refund_id,
        purchase_id=purchase.id,
        amount=event.amount,
        status=RefundStatus.COUNTED if event.counts else RefundStatus.CANCELED,
        canceled_at=None if event.counts else event.reported_at,
    )
    others = [refund for refund in mine if refund.id != event.refund_id]
    counted = sum(r.amount for r in [*others, record] if r.status is RefundStatus.COUNTED)
    if event.counts:
        return max(purchase.amount_refunded, counted), record
    return refunded_after_cancel(purchase.amount_refunded, event.amount, counted), record


class RefundPolicy(StrEnum):
    """When credits being taken back were already spent: go negative, or stop at zero."""

    DEBT = "debt"
    CLAMP = "clamp"


@dataclass(frozen=True)
class Targets:
    refunded: int
    held: int


def targets(
    credits: int, amount: int | None, amount_refunded: int, dispute: DisputeStatus | None
) -> Targets:
    """Refunds take back credits in proportion (rounded down, so the buyer keeps a fraction);
    an open or lost dispute holds what the refunds left."""
    refunded = 0
    if amount and amount > 0 and amount_refunded > 0:
        refunded = credits * min(amount_refunded, amount) // amount
    held = credits - refunded if dispute in (DisputeStatus.OPEN, DisputeStatus.LOST) else 0
    return Targets(refunded=refunded, held=held)


@dataclass(frozen=True)
class Take:
    """What to post for one movement, and what stays written off after it."""

    post: int
    written_off: int


def apply_policy(delta: int, balance: int, written_off: int, policy: RefundPolicy) -> Take:
    """Credits given back first cancel what was written off (never taken, so never returned);
    under `clamp`, credits taken back stop at a zero balance and the rest is written off."""
    if delta >= 0:
        forgiven = min(delta, written_off)
        return Take(post=delta - forgiven, written_off=written_off - forgiven)
    wanted = -delta
    if policy is RefundPolicy.DEBT:
        return Take(post=delta, written_off=written_off)
    taken = min(wanted, max(balance, 0))
    return Take(post=-taken, written_off=written_off + wanted - taken)


def movements(old: Targets, new: Targets) -> list[tuple[EntryKind, int]]:
    """The balance changes that move a purchase from `old` to `new` targets, by kind.

    Credits given back come first: when a refund replaces a hold (or a hold a canceled refund),
    the balance never dips below where it ends, so the clamp policy takes all it should.
    """
    moves = []
    if new.refunded != old.refunded:
        kind = EntryKind.REFUND if new.refunded > old.refunded else EntryKind.REFUND_REVERSAL
        moves.append((kind, old.refunded - new.refunded))
    if new.held != old.held:
        kind = EntryKind.DISPUTE_HOLD if new.held > old.held else EntryKind.DISPUTE_RETURN
        moves.append((kind, old.held - new.held))
    return sorted(moves, key=lambda move: move[1] < 0)


@dataclass(frozen=True)
class Settlement:
    """What brings a purchase's credits and status in line with its facts."""

    change: PurchaseChange
    postings: tuple[Posting, ...] = ()
    pending_credits: int | None = None  # what its unclaimed pending grant is now worth


def balance_needed(purchase: Purchase, policy: RefundPolicy) -> str | None:
    """The wallet whose balance `settle` needs (locked by the caller first): only the clamp
    policy looks at it, and only to move a credited purchase's credits."""
    if policy is not RefundPolicy.CLAMP or not purchase.is_credited:
        return None
    return purchase.user_id if _targets_of(purchase) is not None else None


def settle(
    purchase: Purchase, event_id: str, policy: RefundPolicy, balance: int | None = None
) -> Settlement:
    """For `purchase` as its facts now stand; `event_id` is the event that changed them, which
    keys the movements; `balance` the wallet's, when `balance_needed` named it."""
    status = display_status(
        purchase.payment_state, purchase.amount, purchase.amount_refunded, purchase.dispute_status
    )
    change = NO_CHANGE if status is purchase.status else PurchaseChange(status=status)
    moved = _targets_of(purchase)
    if moved is None:
        return Settlement(change)
    old, new = moved
    assert purchase.credits is not None
    change = change.then(PurchaseChange(credits_refunded=new.refunded, credits_held=new.held))
    if not purchase.is_credited:
        # Still a pending grant: the buyer will claim only what is left.
        return Settlement(change, pending_credits=purchase.credits - new.refunded - new.held)
    assert purchase.user_id is not None
    written_off, postings = purchase.credits_written_off, []
    for kind, delta in movements(old, new):
        take = apply_policy(delta, 0 if balance is None else balance, written_off, policy)
        # Posted even when the policy leaves nothing to move: the ledger tells the story.
        postings.append(
            Posting(
                user_id=purchase.user_id,
                delta=take.post,
                kind=kind,
                reference=purchase.reference,
                key=keys.purchase_adjustment_key(purchase.id, kind.value, event_id),
                reason=reason(kind, purchase, delta=delta, posted=take.post),
                purchase_id=purchase.id,
                allow_debt=True,
            )
        )
        written_off = take.written_off
        balance = None if balance is None else balance + take.post
    return Settlement(change.then(PurchaseChange(credits_written_off=written_off)), tuple(postings))


def _targets_of(purchase: Purchase) -> tuple[Targets, Targets] | None:
    """The recorded and the wanted targets of a paid purchase, when they differ."""
    if purchase.credits is None or purchase.payment_state is not PaymentState.PAID:
        return None
    old = Targets(purchase.credits_refunded, purchase.credits_held)
    new = targets(
        purchase.credits, purchase.amount, purchase.amount_refunded, purchase.dispute_status
    )
    return None if new == old else (old, new)


def reason(kind: EntryKind, purchase: Purchase, *, delta: int, posted: int) -> str:
    """What happened to the purchase, and what was not moved when the policy stepped in."""
    moved, short = abs(posted), abs(delta - posted)
    money = f"{purchase.amount_refunded} of {purchase.amount} {purchase.currency or ''}".strip()
    if kind is EntryKind.REFUND:
        what, verb = f"refund of {money}: {moved} credits taken back", "taken back"
    elif kind is EntryKind.REFUND_REVERSAL:
        what = f"refund canceled or failed (now {money} refunded): {moved} credits given back"
        verb = "given back"
    elif kind is EntryKind.DISPUTE_HOLD and purchase.dispute_status is DisputeStatus.LOST:
        what, verb = f"dispute lost: {moved} credits taken back", "taken back"
    elif kind is EntryKind.DISPUTE_HOLD:
        what, verb = f"dispute open: {moved} credits held until it closes", "held"
    elif purchase.dispute_status is DisputeStatus.WON:
        what = f"dispute closed in the seller's favour: {moved} held credits returned"
        verb = "returned"
    else:
        what = f"{moved} held credits released: refunds take them back instead"
        verb = "released"
    if short == 0:
        return what
    if delta < 0:
        return f"{what}, {short} not {verb} (already spent; the clamp refund policy stops at zero)"
    return f"{what}, {short} not {verb}: they were never taken (the balance was clamped at zero)"
