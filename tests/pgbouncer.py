"""PgBouncer in transaction pooling mode, of the test's own, in front of the shared PostgreSQL.

Debian's `pgbouncer` (`apt-get install pgbouncer`; .ci/run installs it) runs in the foreground as
a child of the test, from a pgbouncer.ini written into a temporary directory: it listens on a
free loopback port, lets any client in as the server's users without a password (the server
itself trusts loopback), and hands each transaction whichever of its few server connections is
free, so one client's transactions land on different backends. PgBouncer refuses to run as
root: under root it is started with `-u postgres` and switches to that user itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.faults.postgres_cluster import POSTGRES_OS_USER, why_root_has_no_postgres_user
from tests.servers import free_port, stop_process, wait_for

PREPARES_ITSELF = (
    1,
    21,
)  # from 1.21, max_prepared_statements tracks them across server connections


def find_pgbouncer() -> str | None:
    """On PATH, else where Debian puts it (/usr/sbin is not on every user's PATH)."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


def pgbouncer_version() -> tuple[int, ...]:
    """`pgbouncer --version`'s first line, e.g. "PgBouncer 1.18.0" -> (1, 18, 0)."""
    binary = find_pgbouncer()
    assert binary is not None, why_unavailable()
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"PgBouncer (\d+(?:\.\d+)*)", output.stdout)
    assert found is not None, output.stdout
    return tuple(int(part) for part in found.group(1).split("."))


def why_unavailable() -> str | None:
    """Why this machine cannot run one, or None when it can."""
    if find_pgbouncer() is None:
        return "pgbouncer not found (apt-get install pgbouncer)"
    return why_root_has_no_postgres_user("PgBouncer")


class PgBouncer:
    def __init__(self, root: Path, server_url: str, server_connections: int) -> None:
        self._root = root
        self._server = make_url(server_url)
        self._server_connections = server_connections
        self.port = free_port()

    def url_for(self, database_url: str) -> str:
        """`database_url` (a database on the server behind) reached through this PgBouncer."""
        url = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    def write_config(self) -> Path:
        users = self._root / "userlist.txt"
        users.write_text(f'"{self._server.username or "postgres"}" ""\n')
        ini = self._root / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={self._server.host or '127.0.0.1'} port={self._server.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {users}\n"
            "pool_mode = transaction\n"
            # Fewer server connections than clients: transactions queue for them and move
            # between backends, which is what transaction pooling is.
            f"default_pool_size = {self._server_connections}\nmax_client_conn = 500\n"
        )
        return ini

    def ready(self) -> bool:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres"
            ) as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False


@contextmanager
def running_pgbouncer(server_url: str, *, server_connections: int = 4) -> Iterator[PgBouncer]:
    """A PgBouncer in front of the server of `server_url`; stopped and its directory removed on
    the way out, whatever happened (its log is printed if it failed to start)."""
    binary = find_pgbouncer()
    if binary is None:
        raise RuntimeError(why_unavailable())
    root = Path(tempfile.mkdtemp(prefix="creditflow-pgbouncer-"))
    root.chmod(0o755)  # readable by the user PgBouncer switches to
    bouncer = PgBouncer(root, server_url, server_connections)
    command = [
        binary,
        *(["-u", POSTGRES_OS_USER] if os.geteuid() == 0 else []),
        str(bouncer.write_config()),
    ]
    log = root / "pgbouncer.log"
    try:
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            try:
                wait_for(lambda: process.poll() is not None or bouncer.ready(), "PgBouncer up")
            except RuntimeError:
                print(log.read_text(errors="replace"))
                raise
            if process.poll() is not None:
                raise RuntimeError(f"PgBouncer exited: {log.read_text(errors='replace')}")
            yield bouncer
        finally:
            with suppress(ProcessLookupError):
                stop_process(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)
