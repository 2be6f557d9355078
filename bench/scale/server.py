"""A real creditflow server process for the benchmarks, and the app factory it runs.

The factory is creditflow's own `create_app` with one change: each worker runs at most
`BENCH_THREADS` requests at a time (the thread pool sync routes run in; Starlette's default is 40).
Every running request may hold a database connection, and the PostgreSQL server is shared (100
connections for several engineers), so this bounds what a benchmark can take to about
workers x BENCH_THREADS. Until `creditflow serve --workers N` lands, uvicorn is started directly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from fastapi import FastAPI

from creditflow.entrypoints.http import create_app as creditflow_app

REPO = Path(__file__).resolve().parents[2]
API_KEY = "cf_bench_api_key_0123456789"
WEBHOOK_SECRET = "whsec_bench_c2VjcmV0LWZvci1iZW5jaA"
DEFAULT_THREADS = 8
STARTUP_SECONDS = 60


def create_app() -> FastAPI:
    app = creditflow_app()
    threads = int(os.environ.get("BENCH_THREADS", DEFAULT_THREADS))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        async with inner(app):
            yield

    app.router.lifespan_context = lifespan
    return app


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The configuration a server (or the CLI) needs to serve `database_url` to a benchmark."""
    return {
        "CREDITFLOW_DATABASE_URL": database_url,
        "CREDITFLOW_API_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CREDITFLOW_EXPIRY_INTERVAL": "0",  # no background work between measurements
        "CREDITFLOW_LOG_LEVEL": "WARNING",
        **extra,
    }


def cli(env: Mapping[str, str], *args: str) -> tuple[float, dict[str, Any], int]:
    """Seconds, JSON output and exit status of one `creditflow ... --json` command."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("creditflow")), *args, "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),  # no stray .env
    )
    seconds = time.perf_counter() - started
    try:
        out = json.loads(done.stdout)
    except json.JSONDecodeError:
        out = {"stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}
    return round(seconds, 3), out, done.returncode


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    env: Mapping[str, str], *, workers: int = 2, threads: int = DEFAULT_THREADS
) -> Iterator[str]:
    """uvicorn with `workers` processes on a free port; its base URL. Stopped (the whole process
    group) on the way out. Runs in an empty directory so no stray `.env` is read."""
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="bs_server_"))
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "--factory", "bench.scale.server:create_app"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--log-level", "warning"),
        ],
        env={
            **os.environ,
            **env,
            "BENCH_THREADS": str(threads),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        },
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy within {STARTUP_SECONDS} s")
