"""Running `creditflow` as a user would: in-process through Typer's runner, or as a real server.

The runner is enough for commands that end (their output and exit status are what users rely
on). `serve` runs in its own process, started the way the README says, so what it prints, the
`.env` it writes and the port it listens on are real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from creditflow.entrypoints.cli import app
from tests.servers import ServerDied, free_port, stop_process, wait_until_healthy

CONFIG_PREFIXES = ("CREDITFLOW_", "STRIPE_")
# Wide enough that Rich never folds an id across lines in the tables the tests read.
TABLE_COLUMNS = "250"


def cli(*args: str) -> Result:
    """`creditflow ARGS` in this process, with its environment and working directory."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": TABLE_COLUMNS})


def cli_json(*args: str, exit_code: int = 0) -> Any:
    """`creditflow ARGS --json`: asserts the exit status and that stdout is only JSON."""
    result = cli(*args, "--json")
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def one_line_error(result: Result) -> str:
    """The error of a failed command, checked to be the one line on stderr the CLI promises."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without anyone's creditflow or Stripe configuration."""
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(CONFIG_PREFIXES) or name == "CREDITFLOW_TEST_POSTGRES_URL"
    }
    return {**keep, "PYTHONUNBUFFERED": "1", **overrides}


@dataclass(frozen=True)
class RunningServer:
    url: str
    workdir: Path
    log: Path  # stderr: what `serve` tells people (notes, warnings)
    stdout: Path  # stdout: the log lines, and nothing else
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def log_lines(self) -> list[str]:
        return self.stdout.read_text(errors="replace").splitlines()


@contextmanager
def serve(
    workdir: Path,
    env: Mapping[str, str] | None = None,
    attempts: int = 3,
    args: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """`python -m creditflow.entrypoints.cli serve --port P ARGS` in `workdir`, until healthy.

    Configured only by `env` (on a clean environment) and whatever it finds in `workdir`; its
    stderr (notes for people) and stdout (log lines) are kept apart, as a deployment sees them.
    A start that dies, most likely because another process took the port first, is retried on a
    fresh one. The process is always terminated on the way out; its output is printed on failure.
    """
    started: list[RunningServer] = []
    try:
        for attempt in range(1, attempts + 1):
            server = _spawn(workdir, clean_environment(**(env or {})), len(started), args)
            started.append(server)
            try:
                wait_until_healthy(server.url, server.process)
                break
            except ServerDied:
                if attempt == attempts:
                    raise
        yield started[-1]
    except BaseException:
        for server in started:  # pytest shows it under "Captured stdout" of the failed test
            print(f"--- {server.log}\n{server.output()}")
            print(f"--- {server.stdout}\n{server.stdout.read_text(errors='replace')}")
        raise
    finally:
        for server in started:
            stop_process(server.process)


def _spawn(workdir: Path, env: dict[str, str], attempt: int, args: Sequence[str]) -> RunningServer:
    port = free_port()
    log = workdir / f"serve-{port}-{attempt}.log"
    stdout = workdir / f"serve-{port}-{attempt}.stdout"
    with log.open("wb") as errors, stdout.open("wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "creditflow.entrypoints.cli", "serve"),
                *("--port", str(port), *args),
            ],
            env=env,
            cwd=workdir,
            stdout=output,
            stderr=errors,
        )
    return RunningServer(f"http://127.0.0.1:{port}", workdir, log, stdout, process)
