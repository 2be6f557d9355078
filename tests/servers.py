"""Real HTTP servers for the tests: an app under uvicorn in a thread, or in its own process.

The in-thread server listens on a socket bound before it starts (port 0: the kernel picks a free
one), so parallel test workers never race for a port. Server processes get a port found the same
way; if another process takes it first, the start is retried on a fresh one. The fault tests kill
them with SIGKILL and start them again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

T = TypeVar("T")

STARTUP_DEADLINE_SECONDS = 60  # a guard against hanging forever, not a performance claim
APP_FACTORY = "creditflow.entrypoints.http:create_app"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), f"uvicorn on port {port}")
        if not server.started:
            raise RuntimeError(f"uvicorn on port {port} stopped before it started")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def wait_until_healthy(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until GET /healthz answers 200; fails early if the server process died."""

    def healthy() -> bool:
        if process is not None and process.poll() is not None:
            raise ServerDied(f"server process for {url} exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, f"{url}/healthz")


class ServerDied(RuntimeError):
    pass


class ServerProcess:
    """One `uvicorn --factory creditflow...:create_app` process, which a test may kill and start
    again as a supervisor would.

    It reads its configuration from `env` (on top of the current environment) like a deployment
    would. It leads its own process group, so a kill reaches its uvicorn workers too. `url` may
    change between starts if another process took the port meanwhile.
    """

    def __init__(self, env: Mapping[str, str], workdir: Path, *, workers: int = 1) -> None:
        self._env = {**os.environ, **env}
        self._workdir = workdir
        self._workers = workers
        self._port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def pid(self) -> int:
        return self._running().pid

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def spawn(self) -> None:
        """Start the process without waiting for it (servers side by side start faster)."""
        log = self._workdir / f"server-{self._port}-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as output:
            self._process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "uvicorn", "--factory", APP_FACTORY),
                    *("--host", "127.0.0.1", "--port", str(self._port)),
                    *("--workers", str(self._workers), "--log-level", "warning"),
                ],
                env=self._env,
                cwd=self._workdir,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_started(self, attempts: int = 3) -> None:
        """Until healthy; a start that died (most likely the port was taken between
        free_port() and the bind) is retried on a fresh port."""
        for attempt in range(1, attempts + 1):
            try:
                wait_until_healthy(self.url, self._process)
                return
            except ServerDied:
                if attempt == attempts:
                    raise
                self._port = free_port()
                self.spawn()

    def start(self) -> None:
        self.spawn()
        self.wait_started()

    def kill(self) -> None:
        """`kill -9` of the server and its workers: no shutdown, requests cut off mid-way."""
        process = self._running()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        """Terminate gracefully (uvicorn stops its workers), then kill whatever is left of the
        process group."""
        if self._process is None:
            return
        stop_process(self._process)
        with suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def print_logs(self) -> None:
        for log in self.logs:  # pytest shows it under "Captured stdout" of the failed test
            print(f"--- {log.name}\n{log.read_text(errors='replace')}")

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("server process never started")
        return self._process


@contextmanager
def running_servers(
    count: int, env: Mapping[str, str], workdir: Path, *, workers: int = 1
) -> Iterator[list[ServerProcess]]:
    """`count` server processes (each with `workers` uvicorn workers), started side by side.

    Every process is stopped on the way out, whatever happened; their logs are printed when
    something failed.
    """
    servers = [ServerProcess(env, workdir, workers=workers) for _ in range(count)]
    try:
        for server in servers:
            server.spawn()
        for server in servers:
            server.wait_started()
        yield servers
    except BaseException:
        for server in servers:
            server.print_logs()
        raise
    finally:
        for server in servers:
            server.stop()


@contextmanager
def server_processes(count: int, env: Mapping[str, str], workdir: Path) -> Iterator[list[str]]:
    """`count` separate server processes on one configuration; their base URLs."""
    with running_servers(count, env, workdir) as servers:
        yield [server.url for server in servers]


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def all_at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run every call in its own thread, released together by a barrier; results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=STARTUP_DEADLINE_SECONDS)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result() for future in futures]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until `condition` holds; a deadline, not a timing assertion."""
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {STARTUP_DEADLINE_SECONDS} s")
        time.sleep(0.05)
