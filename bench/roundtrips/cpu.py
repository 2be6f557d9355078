"""The service's CPU per new paid delivery, in-process, on PostgreSQL (issue 12: <= 0.8 ms).

What the webhook handler does for a delivery once its body is read: verify the signature and
parse the event (`verify_and_parse`), then `DeliveryService.receive` (the unit of work, the pool,
psycopg, libpq), for `deliveries` new payments of registered users, one after the other, straight
to PostgreSQL (no proxy). `time.process_time()` is this process's CPU, all threads: the database
server's CPU is another process's and is not in it; the waits for its answers are not CPU. The
bodies are made and signed before the clock starts (that is Stripe's work). The HTTP layer is not
in it: the bare endpoint of `make bench-webhook` measures that.

With `profile`, as many deliveries again run under cProfile on the CPU clock after the timed ones
(the profiler slows them, so they are not timed), and the functions costing the most CPU are
written there, for reading: where the CPU goes.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from dataclasses import dataclass
from pathlib import Path

from bench.pgbench_sql import delivery_of
from bench.webhook import payments
from bench.webhook.databases import bench_settings, migrate, postgres_database
from creditflow.bootstrap import build_container

TARGET_MS = 0.8
USERS = 100
WARMUP = 50  # the pool's connection, psycopg's prepared statements, Python's caches


@dataclass(frozen=True)
class CpuPerDelivery:
    deliveries: int
    cpu_ms: float  # per delivery
    wall_ms: float  # per delivery, for reading beside it: the rest is waiting for PostgreSQL
    # of cpu_ms, the signature check and parse alone (the same bodies again): a yardstick of the
    # machine's speed, since it does no I/O
    verify_ms: float

    @property
    def over_target(self) -> bool:
        return self.cpu_ms > TARGET_MS


def measure_cpu(deliveries: int, profile: Path | None = None) -> CpuPerDelivery:
    with postgres_database("service_cpu") as url:
        migrate(url)
        settings = bench_settings(url)
        container = build_container(settings)
        try:
            for user in range(USERS):
                container.users.register(payments.user_id(user), payments.user_email(user))
            signed = []
            for number in range(WARMUP + deliveries * (2 if profile else 1)):
                payment = payments.new_payment(number % USERS)
                signed.append((payment.body, payments.signed(payment.body)))
            for body, signature in signed[:WARMUP]:
                container.deliveries.receive(delivery_of(body, signature, settings))
            measured, profiled = signed[WARMUP : WARMUP + deliveries], signed[WARMUP + deliveries :]
            wall, cpu = time.perf_counter(), time.process_time()
            for body, signature in measured:
                result = container.deliveries.receive(delivery_of(body, signature, settings))
                if result.status.value != "processed":
                    raise RuntimeError(f"a new payment was {result.status.value}")
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            verify = time.process_time()
            for body, signature in measured:
                delivery_of(body, signature, settings)
            verify = time.process_time() - verify
            if profile is not None:
                profiler = cProfile.Profile(time.process_time)
                with profiler:
                    for body, signature in profiled:
                        container.deliveries.receive(delivery_of(body, signature, settings))
                _write_profile(profiler, profile, len(profiled))
        finally:
            container.close()
    per_delivery = [seconds * 1000 / deliveries for seconds in (cpu, wall, verify)]
    return CpuPerDelivery(deliveries, *per_delivery)


def _write_profile(profiler: cProfile.Profile, path: Path, deliveries: int) -> None:
    text = io.StringIO()
    text.write(f"cProfile on the CPU clock over {deliveries} new paid deliveries\n")
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)
    path.write_text(text.getvalue())
