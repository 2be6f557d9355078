"""A PostgreSQL cluster of the test's own, in a temporary directory, to stop and start at will.

The shared server on 127.0.0.1:5432 carries other suites' databases, so a fault test never stops
it. This one is initialised with trust authentication, listens on a free loopback port with its
socket in its own directory, and is removed afterwards. PostgreSQL refuses to run as root, so
under root every command runs as the `postgres` OS user, in a directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port

POSTGRES_OS_USER = "postgres"
BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # newest first


def find_postgres_bin() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        return Path(on_path).parent
    return next((path for path in BIN_DIRS if (path / "initdb").exists()), None)


def why_unavailable() -> str | None:
    """Why this machine cannot run a throwaway cluster, or None when it can."""
    if find_postgres_bin() is None:
        return "initdb not found (install the PostgreSQL server, e.g. postgresql-15)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root and runuser is missing"
    return why_root_has_no_postgres_user("PostgreSQL")


def why_root_has_no_postgres_user(program: str) -> str | None:
    """Under root, `program` (which refuses root) runs as the `postgres` OS user: the reason it
    cannot, or None."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        return f"running as root and there is no {POSTGRES_OS_USER!r} user to run {program}"
    return None


class ThrowawayPostgres:
    def __init__(self, bin_dir: Path, root: Path) -> None:
        self._bin = bin_dir
        self._root = root
        self._data = root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "-A", "trust", "--no-sync")
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self._root}'",
            "fsync": "off",  # the machine does not crash, only PostgreSQL stops
            "max_connections": "200",
        }
        with (self._data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self._data), "-l", str(self._root / "log"), "-w", "start")

    def stop_immediately(self) -> None:
        """`pg_ctl stop -m immediate`: every backend dies at once, no shutdown checkpoint, open
        transactions lost; the next start runs crash recovery, as after a failover."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")

    def is_running(self) -> bool:
        status = subprocess.run(
            self._command("pg_ctl", "-D", str(self._data), "status"),
            capture_output=True,
            check=False,
        )
        return status.returncode == 0

    def log(self) -> str:
        path = self._root / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            self._command(program, *args), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stderr}{result.stdout}\n{self.log()}")

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self._bin / program), *args]
        if os.geteuid() == 0:
            return ["runuser", "-u", POSTGRES_OS_USER, "--", *command]
        return command


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A running cluster of our own; stopped and deleted on the way out, whatever happened."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError(why_unavailable())
    root = Path(tempfile.mkdtemp(prefix="creditflow-faults-pg-"))
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam(POSTGRES_OS_USER)
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster = ThrowawayPostgres(bin_dir, root)
        cluster.init()
        cluster.start()
        try:
            yield cluster
        finally:
            if cluster.is_running():
                cluster.stop_immediately()
    finally:
        shutil.rmtree(root, ignore_errors=True)
