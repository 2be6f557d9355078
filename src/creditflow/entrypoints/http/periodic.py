"""Run a job every few seconds in a background thread while the server runs (credit expiry).

Every server process runs it; the job itself is safe to run concurrently (see services/expiry).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicTask:
    def __init__(self, job: Callable[[], object], interval_seconds: float) -> None:
        self._job = job
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._interval <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="creditflow-periodic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._job()
            except Exception:
                # A failed run (database briefly down) is retried at the next tick.
                log.exception("periodic job failed")
