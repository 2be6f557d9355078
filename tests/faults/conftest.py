"""Fixtures of the fault tests: their scale, their seeded randomness."""

from __future__ import annotations

import random

import pytest

LONG_SCALE = 10


@pytest.fixture
def fault_scale(request: pytest.FixtureRequest) -> int:
    """1 in `make test` (seconds per test); LONG_SCALE times the load and faults with --long."""
    return LONG_SCALE if request.config.getoption("--long") else 1


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """The test's random choices (workload, fault moments) from a fixed seed, printed so that a
    failure can be replayed with `--fault-seed`."""
    seed = request.config.getoption("--fault-seed")
    print(f"{request.node.name}: --fault-seed={seed}")
    return random.Random(f"{seed}:{request.node.name}")
