"""Expired credits leave the balance through a ledger entry, never by silent arithmetic.

Each expiring lot is one small transaction (lock the wallet, take exactly what the lot still
holds); its key makes running it from several servers at once harmless.

Credits that live holds need do not expire yet (docs/design.md, holds): a lot expires only as
far as the wallet's `available` allows, and the rest once the holds are closed, so a live
hold's capture never lacks credits. Holds past their expiry are marked expired first: they
stopped counting at their expiry already, and marking them moves nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from creditflow.domain.keys import lot_expiry_key, lot_part_expiry_key, lot_reference
from creditflow.domain.kinds import EntryKind
from creditflow.domain.wallet import Posting
from creditflow.services.clock import Clock
from creditflow.services.posting import post
from creditflow.services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)
BATCH = 500


@dataclass(frozen=True)
class ExpiredLot:
    """What one lot's expiry took from its wallet: the run's account for operators."""

    user_id: str
    lot_id: int
    credits: int


class ExpiryService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    def expire_due(self) -> list[ExpiredLot]:
        """Expire every hold and lot past its date; the lots whose credits this run took.

        A batch of lots none of which could expire (live holds need their credits) ends the
        run: the next run tries them again."""
        self.expire_holds()
        expired: list[ExpiredLot] = []
        while True:
            with self._uow() as uow:
                due = uow.wallets.expired_lots(self._clock(), BATCH)
            took = [
                ExpiredLot(user_id, lot.id, credits)
                for user_id, lot in due
                if (credits := self._expire(user_id, lot.id))
            ]
            if not took:
                return expired
            expired += took

    def expire_holds(self) -> int:
        """Mark the holds past their expiry expired; how many. No ledger entry: no credits."""
        count = 0
        while True:
            with self._uow() as uow:
                marked = uow.holds.expire_due(self._clock(), BATCH)
                uow.commit()
            count += len(marked)
            if len(marked) < BATCH:
                if count:
                    log.info("marked %d holds expired", count)
                return count

    def _expire(self, user_id: str, lot_id: int) -> int:
        with self._uow() as uow:
            # Re-read under the wallet lock: a spend may have emptied the lot meanwhile.
            now = self._clock()
            wallet = uow.wallets.load(user_id, lot_expiry_key(lot_id), now=now)
            lot = next((lot for lot in wallet.lots if lot.id == lot_id), None)
            if lot is None:
                return 0
            credits = min(lot.remaining, max(0, wallet.available))
            if credits == 0:
                return 0
            whole = credits == lot.remaining
            key = lot_expiry_key(lot.id) if whole else lot_part_expiry_key(lot.id, lot.remaining)
            post(
                uow,
                Posting(
                    user_id=user_id,
                    delta=-credits,
                    kind=EntryKind.EXPIRY,
                    reference=lot_reference(lot.id),
                    key=key,
                    reason=f"{credits} credits expired (lot {lot.id}, "
                    f"expired {lot.expires_at:%Y-%m-%d %H:%M} UTC"
                    + ("" if whole else f"; {lot.remaining - credits} wait for live holds")
                    + ")",
                    from_lot=lot.id,
                ),
                now,
                wallet,
            )
            uow.commit()
        log.info("expired %d credits of %s (lot %d)", credits, user_id, lot.id)
        return credits
