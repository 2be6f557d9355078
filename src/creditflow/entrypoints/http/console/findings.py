"""`creditflow doctor`'s findings for the overview, asked for at most once a minute.

The checks call Stripe (the key, the webhook endpoints, every catalog id): too slow and too
costly for every page view, and set-up does not change by the second. "Check again" asks anew.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from creditflow.bootstrap import Container
from creditflow.services.doctor import Finding

FRESH_FOR = timedelta(minutes=1)


@dataclass(frozen=True)
class Checked:
    findings: list[Finding]
    at: datetime


class FindingsCache:
    def __init__(self, container: Container) -> None:
        self._doctor = container.doctor
        self._checked: Checked | None = None
        self._lock = threading.Lock()

    def get(self, *, fresh: bool = False) -> Checked:
        with self._lock:
            checked, now = self._checked, datetime.now(UTC)
            if fresh or checked is None or now - checked.at > FRESH_FOR:
                checked = self._checked = Checked(self._doctor.examine(), now)
        return checked
