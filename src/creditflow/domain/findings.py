"""What an audit found for one invariant of docs/design.md: the rows that break it, if any."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    invariant: str
    description: str
    breaches: list[str]

    @property
    def holds(self) -> bool:
        return not self.breaches
