"""Expired credits leave the balance through a ledger entry, never by silent arithmetic.

Each expiring lot is one small transaction (lock the wallet, take exactly what the lot still
holds); its key makes running it from several servers at once harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from creditflow.domain.keys import lot_expiry_key, lot_reference
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
        """Expire every lot past its date; the lots whose credits this run took."""
        expired: list[ExpiredLot] = []
        while True:
            with self._uow() as uow:
                due = uow.wallets.expired_lots(self._clock(), BATCH)
            if not due:
                return expired
            for user_id, lot in due:
                credits = self._expire(user_id, lot.id)
                if credits:
                    expired.append(ExpiredLot(user_id, lot.id, credits))

    def _expire(self, user_id: str, lot_id: int) -> int:
        with self._uow() as uow:
            # Re-read under the wallet lock: a spend may have emptied the lot meanwhile.
            wallet = uow.wallets.load(user_id, lot_expiry_key(lot_id))
            lot = next((lot for lot in wallet.lots if lot.id == lot_id), None)
            if lot is None or lot.remaining == 0:
                return 0
            post(
                uow,
                Posting(
                    user_id=user_id,
                    delta=-lot.remaining,
                    kind=EntryKind.EXPIRY,
                    reference=lot_reference(lot.id),
                    key=lot_expiry_key(lot.id),
                    reason=f"{lot.remaining} credits expired (lot {lot.id}, "
                    f"expired {lot.expires_at:%Y-%m-%d %H:%M} UTC)",
                    from_lot=lot.id,
                ),
                self._clock(),
                wallet,
            )
            uow.commit()
        log.info("expired %d credits of %s (lot %d)", lot.remaining, user_id, lot.id)
        return lot.remaining
