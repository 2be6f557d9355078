"""Check every money invariant over the whole database (the `creditflow audit` command)."""

from __future__ import annotations

from dataclasses import dataclass

from creditflow.adapters.db.audit import INVARIANTS, breaches
from creditflow.adapters.db.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class Finding:
    invariant: str
    description: str
    breaches: list[str]

    @property
    def holds(self) -> bool:
        return not self.breaches


class AuditService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def run(self) -> list[Finding]:
        """One finding per invariant, read in one transaction so they describe one moment."""
        with self._uow() as uow:
            return [
                Finding(invariant.name, invariant.description, breaches(uow.connection, invariant))
                for invariant in INVARIANTS
            ]
