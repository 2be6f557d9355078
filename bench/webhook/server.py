"""A real server process per run, configured through its environment like a deployment.

creditflow runs as operators run it, `creditflow serve --workers N` (uvicorn's multiprocess
supervisor, each worker building the app from the same settings); the bare endpoint under
`uvicorn --factory ... --workers N`. The port is found and readiness awaited with the tests'
helpers (tests/servers.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.servers import free_port, stop_process, wait_until_healthy

REPO = Path(__file__).resolve().parents[2]


def creditflow_command(port: int, workers: int) -> list[str]:
    return [*creditflow_as_started(port, workers), "--workers", str(workers)]


def creditflow_as_started(port: int, _workers: int) -> list[str]:
    """`creditflow serve` with no more than its address: as many workers as its default."""
    return [
        *(str(Path(sys.executable).with_name("creditflow")), "serve"),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]


def factory_command(factory: str, *options: str) -> Callable[[int, int], list[str]]:
    """uvicorn serving the ASGI app `factory` ("module:function") builds, as bench apps run, with
    uvicorn's `options` besides."""

    def command(port: int, workers: int) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "--factory", factory),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--log-level", "warning", "--no-access-log", *options),
        ]

    return command


# What a benchmark may serve, by name: creditflow itself, or an app of bench/ beside it.
COMMANDS: dict[str, Callable[[int, int], list[str]]] = {
    "creditflow": creditflow_command,
    "creditflow-as-started": creditflow_as_started,
    # The one-function peer on the HTTP stack creditflow has (uvicorn[standard]: uvloop and
    # httptools), or on plain uvicorn's (asyncio and h11), as the peers' own scripts install it.
    "peer": factory_command("bench.peer.app:create_app"),
    "peer-plain-uvicorn": factory_command(
        "bench.peer.app:create_app", "--loop", "asyncio", "--http", "h11"
    ),
    "bare": factory_command("bench.bare_asgi:create_app"),
    "one-statement": factory_command("bench.ceiling.apps:one_statement_app"),
    "creditflow-one-statement": factory_command("bench.ceiling.apps:creditflow_one_statement_app"),
}


@contextmanager
def serving(command: str, env: Mapping[str, str], workers: int, workdir: Path) -> Iterator[Server]:
    """`command` (a name in COMMANDS) serving until the block ends; its log is printed if the
    block fails."""
    server = Server(command, env, workers, workdir)
    try:
        server.start()
        yield server
    except BaseException:
        print(server.log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        server.stop()


class Server:
    def __init__(self, command: str, env: Mapping[str, str], workers: int, workdir: Path) -> None:
        self.port = free_port()
        self.command: Sequence[str] = COMMANDS[command](self.port, workers)
        self.log = workdir / f"server-{command}-{self.port}.log"
        # cwd: a directory without a developer's ./.env; PYTHONPATH: the bench package.
        self._env = {**os.environ, "PYTHONPATH": str(REPO), **env}
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                self.command,
                env=self._env,
                cwd=self._workdir,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_healthy(self.url, self._process)

    def stop(self) -> None:
        if self._process is None:
            return
        stop_process(self._process)
        with suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
