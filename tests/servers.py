"""Real HTTP servers for the tests: an app under uvicorn in a thread, or in its own process.

The in-thread server listens on a socket bound before it starts (port 0: the kernel picks a free
one), so parallel test workers never race for a port. Server processes get a port found the same
way; if another process takes it first, the start is retried on a fresh one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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


@contextmanager
def server_processes(
    count: int, env: Mapping[str, str], workdir: Path, attempts: int = 3
) -> Iterator[list[str]]:
    """`count` separate `uvicorn --factory creditflow...:create_app` processes; their base URLs.

    They read their configuration from `env` (on top of the current environment) like a
    deployment would, and start side by side. Every process is terminated on the way out,
    whatever happened; their logs are printed when something failed.
    """
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        pending = [_spawn(env, workdir, started) for _ in range(count)]
        urls = []
        for url, process in pending:
            for attempt in range(1, attempts + 1):
                try:
                    wait_until_healthy(url, process)
                    break
                except ServerDied:
                    if attempt == attempts:
                        raise
                    # Most likely the port was taken between free_port() and the bind.
                    url, process = _spawn(env, workdir, started)
            urls.append(url)
        yield urls
    except BaseException:
        for _, log in started:  # pytest shows it under "Captured stdout" of the failed test
            print(f"--- {log.name}\n{log.read_text(errors='replace')}")
        raise
    finally:
        for process, _ in started:
            stop_process(process)


def _spawn(
    env: Mapping[str, str], workdir: Path, started: list[tuple[subprocess.Popen[bytes], Path]]
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    log = workdir / f"server-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "--factory", APP_FACTORY),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            env={**os.environ, **env},
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    started.append((process, log))
    return f"http://127.0.0.1:{port}", process


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
