"""Check every money invariant over the whole database (the `creditflow audit` command)."""

from __future__ import annotations

from creditflow.domain.findings import Finding
from creditflow.services.unit_of_work import ReportingUnitOfWorkFactory

__all__ = ["AuditService", "Finding"]


class AuditService:
    def __init__(self, uow_factory: ReportingUnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def run(self) -> list[Finding]:
        """One finding per invariant, read in one transaction so they describe one moment."""
        with self._uow() as uow:
            return uow.invariants.findings()
