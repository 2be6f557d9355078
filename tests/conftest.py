"""Shared fixtures: every integration test runs on SQLite and on PostgreSQL, with real parts.

PostgreSQL: one database per pytest-xdist worker (created, migrated, dropped), emptied between
tests. `CREDITFLOW_TEST_POSTGRES_URL` points at the server (default: the local one, trust auth).

Property tests (hypothesis) run the `ci` profile by default: few examples, derandomized, so CI is
quick and a failure reproduces by running the test again. `--hypothesis-profile=long` explores far
more, randomly, keeping failing examples in .hypothesis/ and printing how to reproduce them.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from fastapi.testclient import TestClient
from hypothesis.database import DirectoryBasedExampleDatabase
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from creditflow.adapters.db import migrate
from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.tables import metadata
from creditflow.entrypoints.http import create_app
from creditflow.services.clock import Clock, utc_now
from creditflow.settings import Settings
from tests.fakes.stripe_api import FakeStripeApi
from tests.servers import free_port, serve_in_thread, stop_process, wait_until_healthy
from tests.support import assert_audit_clean, assert_ledger_matches_balances, make_settings

POSTGRES_SERVER_URL = os.environ.get(
    "CREDITFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CONFIG_PREFIXES = ("CREDITFLOW_", "STRIPE_")
LOCALSTRIPE_LAUNCHER = Path(__file__).parent / "localstripe_server.py"

# Each example of a property test drives a real app over a real database: slow next to pure
# functions, so no per-example deadline, and the "too slow" check would only fire at random.
hypothesis.settings.register_profile(
    "ci",
    max_examples=30,
    stateful_step_count=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.register_profile(
    "long",
    max_examples=1000,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
    print_blob=True,
    # Absolute: the tests run inside their own temporary directories.
    database=DirectoryBasedExampleDatabase(
        Path(__file__).parent.parent / ".hypothesis" / "examples"
    ),
)
hypothesis.settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    faults = parser.getgroup("faults", "the fault tests (tests/faults)")
    faults.addoption(
        "--long", action="store_true", help="run them at their long scale: more load, more faults"
    )
    faults.addoption(
        "--fault-seed",
        type=int,
        default=20240605,
        help="seed of their workloads and fault schedules (each test prints the one it used)",
    )


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A developer's own STRIPE_* / CREDITFLOW_* variables or .env must not leak into tests."""
    for name in list(os.environ):
        if name.startswith(CONFIG_PREFIXES) and name != "CREDITFLOW_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@contextmanager
def scratch_postgres_database(name: str) -> Iterator[str]:
    """A new, empty (unmigrated) PostgreSQL database, dropped afterwards."""
    name = f"{name}_{os.getpid()}"  # concurrent runs never collide
    server = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(scope="session")
def postgres_database(worker_id: str) -> Iterator[str]:
    with scratch_postgres_database(f"creditflow_test_{worker_id}") as url:
        engine = build_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def sqlite_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty SQLite file in `tmp_path`: a copy of the session's template."""
    path = tmp_path / "creditflow.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


EmptyDatabase = Callable[[], str]


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> EmptyDatabase:
    """Makes a migrated, empty database of each engine on every call: one per property example.

    On PostgreSQL every call empties the worker's database again; on SQLite it is a new file.
    """
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        made = itertools.count()

        def new_sqlite() -> str:
            path = tmp_path / f"creditflow-{next(made)}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"

        return new_sqlite
    url: str = request.getfixturevalue("postgres_database")

    def emptied_postgres() -> str:
        _empty_postgres(url)
        return url

    return emptied_postgres


@pytest.fixture
def database_url(empty_database: EmptyDatabase) -> str:
    """A migrated, empty database of each engine."""
    return empty_database()


EmptyAgain = Callable[[], None]


@pytest.fixture
def empty_again(database_url: str, request: pytest.FixtureRequest) -> EmptyAgain:
    """Empties `database_url` again, in place, on every call: one per property example.

    For an app built once and kept across examples (a schemathesis state machine is bound to one
    app): its engine stays on the same database, where `empty_database` would make a new SQLite
    file that app never sees. PostgreSQL: TRUNCATE, as between tests; SQLite: the template copied
    into the file through SQLite's backup API, which locks like any writer, so the app's open
    connections read the copy (copying over the file would leave them on stale pages and WAL).
    """
    if make_url(database_url).get_backend_name() == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = make_url(database_url).database
        assert path is not None
        return lambda: _copy_sqlite(template, Path(path))
    return lambda: _empty_postgres(database_url)


def _copy_sqlite(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as reading, closing(sqlite3.connect(target)) as writing:
        reading.backup(writing)


@pytest.fixture
def unreachable_database_url(database_url: str, tmp_path: Path) -> str:
    """A database of the same engine that cannot be opened: no directory, or no server."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-directory' / 'creditflow.db'}"
    return make_url(database_url).set(port=free_port()).render_as_string(hide_password=False)


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """For tests that only make sense on PostgreSQL (several servers on one database)."""
    _empty_postgres(postgres_database)
    return postgres_database


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The real ASGI app over HTTP semantics (httpx), on the parametrised database.

    After every test using it, every invariant of docs/design.md is checked over the whole database.
    """
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
        assert_audit_clean(app.state.container.audit.run())
    assert_ledger_matches_balances(settings.database_url)


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def client_for(database_url: str) -> Iterator[ClientFactory]:
    """`client_for(**settings)`: like `client`, for a configuration the test chooses.

    `clock` replaces the app's time source (expiry, timestamps) so tests move time by hand.
    `raise_server_exceptions=False` answers an unhandled error with a 500, as a real server does,
    instead of raising it into the test. Every invariant is checked at teardown, as for `client`.
    """
    with ExitStack() as stack:
        apps = []

        def make(
            *, raise_server_exceptions: bool = True, clock: Clock = utc_now, **overrides: Any
        ) -> TestClient:
            app = create_app(make_settings(database_url, **overrides), clock=clock)
            apps.append(app)
            return stack.enter_context(
                TestClient(app, raise_server_exceptions=raise_server_exceptions)
            )

        yield make
        for app in apps:
            assert_audit_clean(app.state.container.audit.run())
    assert_ledger_matches_balances(database_url)


@contextmanager
def _live(settings: Settings) -> Iterator[str]:
    app = create_app(settings)
    with serve_in_thread(app) as url:
        wait_until_healthy(url)
        yield url
        assert_audit_clean(app.state.container.audit.run())
    assert_ledger_matches_balances(settings.database_url)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The real app under uvicorn on a real port (in a thread), on the parametrised database.

    For what the in-process TestClient cannot show: truly concurrent requests, chunked bodies.
    """
    with _live(settings) as url:
        yield url


@pytest.fixture
def live_server_for(database_url: str) -> Iterator[Callable[..., str]]:
    """`live_server_for(**settings)`: like `live_server`, for a configuration the test chooses."""
    with ExitStack() as stack:
        yield lambda **overrides: stack.enter_context(
            _live(make_settings(database_url, **overrides))
        )


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripeApi]:
    """A fake Stripe API on a real port; point `stripe_api_base` at `fake_stripe.base_url`."""
    fake = FakeStripeApi(api_key="sk_test_fake_0123456789")
    with serve_in_thread(fake.app()) as url:
        fake.base_url = url
        yield fake


@contextmanager
def running_localstripe(log: Path) -> Iterator[str]:
    """localstripe in its own process on 127.0.0.1 (tests/localstripe_server.py); its base URL."""
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, str(LOCALSTRIPE_LAUNCHER)], stdout=subprocess.PIPE, stderr=errors
        )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"localstripe did not start: {log.read_text(errors='replace')}")
        yield f"http://127.0.0.1:{int(port)}"
    finally:
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One localstripe per test worker, started when a test first needs it. Its objects and
    webhook endpoints live in that process's memory only; tests tell theirs apart by id."""
    with running_localstripe(tmp_path_factory.mktemp("localstripe") / "localstripe.log") as url:
        yield url


@pytest.fixture
def fresh_localstripe(tmp_path: Path) -> Iterator[str]:
    """A localstripe of the test's own, for tests that count every event the account holds."""
    with running_localstripe(tmp_path / "localstripe.log") as url:
        yield url


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """The configured catalog file; it exists but prices nothing until a test writes it."""
    path = tmp_path / "catalog.toml"
    path.write_text("# credits per Stripe price / payment link id, and packs\n")
    return path


@pytest.fixture
def stripe_app(client_for: ClientFactory, fake_stripe: FakeStripeApi, catalog: Path) -> TestClient:
    """The app with the catalog and a Stripe key, its API base pointed at the fake Stripe."""
    return client_for(
        catalog_path=catalog,
        stripe_secret_key=SecretStr(fake_stripe.api_key),
        stripe_api_base=fake_stripe.base_url,
    )
