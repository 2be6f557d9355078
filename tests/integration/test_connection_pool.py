"""`CREDITFLOW_DB_POOL_SIZE` reaches the PostgreSQL pool of the server and of the CLI.

Real engines on the real server: the pool is checked out to its limit and one more is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager

import pytest
from sqlalchemy.pool import QueuePool

from creditflow.bootstrap import Container
from creditflow.entrypoints.cli.config import load_settings, open_services
from creditflow.entrypoints.http import create_app

POOL_SIZE = 3
SECONDS_THE_NEXT_ONE_WAITS = 0.5


@contextmanager
def served_app() -> Iterator[Container]:
    """What each `creditflow serve` worker builds: the app from the configured settings."""
    container: Container = create_app(load_settings()).state.container
    try:
        yield container
    finally:
        container.close()


ENTRYPOINTS: dict[str, Callable[[], AbstractContextManager[Container]]] = {
    "server": served_app,
    "cli": open_services,
}


@pytest.mark.parametrize("entrypoint", ENTRYPOINTS.values(), ids=ENTRYPOINTS.keys())
def test_a_process_opens_the_pool_size_and_twice_as_many_more_then_waits(
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    entrypoint: Callable[[], AbstractContextManager[Container]],
) -> None:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", postgres_url)
    monkeypatch.setenv("CREDITFLOW_DB_POOL_SIZE", str(POOL_SIZE))

    with entrypoint() as container, ThreadPoolExecutor(max_workers=1) as executor:
        engine, pool = container.engine, container.engine.pool
        assert isinstance(pool, QueuePool)
        held = [engine.connect() for _ in range(3 * POOL_SIZE)]
        try:
            checked_out = (pool.size(), pool.checkedout(), pool.overflow())
            one_more = executor.submit(engine.connect)
            waiting = wait([one_more], timeout=SECONDS_THE_NEXT_ONE_WAITS).not_done
            held.pop().close()
            one_more.result(timeout=5).close()
        finally:
            for connection in held:
                connection.close()

    assert checked_out == (POOL_SIZE, 3 * POOL_SIZE, 2 * POOL_SIZE)
    assert waiting == {one_more}
