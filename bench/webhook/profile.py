"""`python -m bench.webhook.profile` (`make bench-profile`): where a server's time goes under the
benchmark's load.

The same server, database and wrk load as one point of `bench.webhook` (PostgreSQL, 16
connections by default), with py-spy sampling the server and all its uvicorn workers
(`--subprocesses`; `--nonblocking` so the sampled processes never pause: the numbers stay those
of a free-running server). Needs ptrace rights over the server: root, or CAP_SYS_PTRACE.
Writes bench/results/profile-webhook.svg (a flame graph) or, with `--format speedscope`,
profile-webhook.speedscope.json for https://www.speedscope.app, or with `--format raw`
profile-webhook.collapsed.txt (one line per stack with its sample count, to grep and sort).
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.webhook.checks import Answers, check
from bench.webhook.config import RESULTS, Config, server_environment
from bench.webhook.databases import database, register_users
from bench.webhook.load import make_load
from bench.webhook.server import serving
from bench.webhook.wrk import run_wrk

PY_SPY = Path(sys.executable).with_name("py-spy")
# raw: collapsed stacks, one line per stack and its sample count, for grep and sort.
SUFFIXES = {"flamegraph": "svg", "speedscope": "speedscope.json", "raw": "collapsed.txt"}
ATTACH_SECONDS = 2.0  # py-spy finds the workers before the load starts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook.profile", description=__doc__)
    parser.add_argument("--engine", default="postgres", choices=["postgres", "sqlite"])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=None, help="default: as bench.webhook")
    parser.add_argument("--format", default="flamegraph", choices=list(SUFFIXES))
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    args = parser.parse_args(argv)
    config = Config(engines=(args.engine,), connections=(args.connections,))
    workers = args.workers or config.workers(args.engine)
    output = RESULTS / f"profile-webhook.{SUFFIXES[args.format]}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bw_profile_") as tmp:
        workdir = Path(tmp)
        with database(args.engine, "profile", workdir) as url:
            register_users(url, config.users)
            env = server_environment(url)
            with serving("creditflow", env, workers, workdir) as server:
                threads = min(args.connections, config.wrk_threads)
                per_thread = math.ceil(config.max_rate * args.seconds / threads)
                load = make_load(
                    threads, per_thread, config.users, args.connections, random.Random()
                )
                prefix = workdir / "profile"
                load.write(prefix)
                recorder = subprocess.Popen(
                    [
                        *(str(PY_SPY), "record", "--pid", str(server.pid), "--subprocesses"),
                        *("--nonblocking", "--rate", str(args.rate), "--format", args.format),
                        *("--duration", str(math.ceil(args.seconds + ATTACH_SECONDS))),
                        *("--output", str(output)),
                    ]
                )
                time.sleep(ATTACH_SECONDS)
                result = run_wrk(
                    server.url,
                    prefix,
                    connections=args.connections,
                    threads=threads,
                    seconds=args.seconds,
                    summary=workdir / "profile.json",
                )
                if recorder.wait() != 0:
                    print(f"py-spy failed ({recorder.returncode})", file=sys.stderr)
                    return 1
                answers = Answers()
                answers.add(result, args.connections)
                check(url, load.sent(result["issued"]), answers)
    print(
        f"{result['rps']:.1f} events/s, p99 {result['latency_ms']['p99']:.1f} ms while profiled; "
        f"wrote {output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
