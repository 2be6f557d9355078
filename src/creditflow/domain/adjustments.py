"""Money coming back: how many of a purchase's credits refunds and disputes take back.

Events only update the facts (amount refunded so far, dispute status); `targets` turns the facts
into how many credits should be taken back, and the difference from what was already taken is
posted. Whatever order events arrive in, however often, the result converges on the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from creditflow.domain.statuses import DisputeStatus


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


def movements(old: Targets, new: Targets) -> list[tuple[str, int]]:
    """The balance changes that move a purchase from `old` to `new` targets, by kind.

    Credits given back come first: when a refund replaces a hold (or a hold a canceled refund),
    the balance never dips below where it ends, so the clamp policy takes all it should.
    """
    moves = []
    if new.refunded != old.refunded:
        kind = "refund" if new.refunded > old.refunded else "refund_reversal"
        moves.append((kind, old.refunded - new.refunded))
    if new.held != old.held:
        kind = "dispute_hold" if new.held > old.held else "dispute_return"
        moves.append((kind, old.held - new.held))
    return sorted(moves, key=lambda move: move[1] < 0)
