"""A real server process per run: uvicorn serving an app factory with N workers, configured
through its environment like a deployment; the port is found and the readiness wait done with
the tests' helpers (tests/servers.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.servers import free_port, stop_process, wait_until_healthy

REPO = Path(__file__).resolve().parents[2]
CREDITFLOW_APP = "bench.webhook.app:create_app"
BARE_APP = "bench.bare_asgi:create_app"


@contextmanager
def serving(app: str, env: Mapping[str, str], workers: int, log: Path) -> Iterator[Server]:
    server = Server(app, env, workers, log)
    try:
        server.start()
        yield server
    except BaseException:
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        server.stop()


class Server:
    def __init__(self, app: str, env: Mapping[str, str], workers: int, log: Path) -> None:
        self.app = app
        self.port = free_port()
        self.workers = workers
        self.log = log
        self._env = {**os.environ, "PYTHONPATH": str(REPO), **env}
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
                [
                    *(sys.executable, "-m", "uvicorn", "--factory", self.app),
                    *("--host", "127.0.0.1", "--port", str(self.port)),
                    *("--workers", str(self.workers), "--log-level", "warning"),
                    "--no-access-log",
                ],
                env=self._env,
                cwd=REPO,
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
