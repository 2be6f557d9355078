"""Grant and spend totals of the whole ledger, for the metrics counters, at a cost that stays flat.

The ledger is the one record of every credit that moved, whichever process moved it (a server,
another server, the CLI), so counters read from it are global: every process reports the same
totals. Summing the whole ledger at every scrape would grow with history, so each process keeps
the totals of the entries older than a horizon and, at each read, sums only the entries created
since the horizon it cached (one range of the created_at index), then moves the horizon up.
A process's first read sums the whole history once, from that index alone.

The horizon trails this process's clock by `SETTLE_LAG`, because an entry is not visible in
created_at order: its created_at is its writer's clock when the operation began, it appears only
when that transaction commits (ids and timestamps do not commit in order on PostgreSQL), and
processes' clocks differ slightly. An entry committed more than the lag after its created_at
(by this process's clock) falls below a horizon already cached and is missed until the process
restarts; no transaction of creditflow's runs for minutes.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from creditflow.domain.ledger_totals import LedgerTotals, totals_of
from creditflow.services.clock import Clock
from creditflow.services.unit_of_work import ReportingUnitOfWorkFactory

SETTLE_LAG = timedelta(minutes=5)


class LedgerTotalsReader:
    def __init__(
        self, uow_factory: ReportingUnitOfWorkFactory, clock: Clock, lag: timedelta = SETTLE_LAG
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._lag = lag
        self._settled = LedgerTotals()  # of every entry created before `_horizon`
        self._horizon: datetime | None = None  # None: nothing read yet
        # Scrapes may overlap (each runs in a worker thread): one reads, the next waits for it.
        self._lock = threading.Lock()

    def read(self) -> LedgerTotals:
        """The totals of every entry committed so far (raises `DatabaseUnavailable`)."""
        with self._lock:
            since = self._horizon
            horizon = self._clock() - self._lag
            if since is not None and horizon < since:  # the clock went back: keep what is cached
                horizon = since
            with self._uow() as uow:
                groups = uow.ledger_totals.groups_since(since, horizon)
            self._settled += totals_of(groups.before)
            self._horizon = horizon
            return self._settled + totals_of(groups.after)
