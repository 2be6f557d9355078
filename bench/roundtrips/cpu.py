"""The service's CPU per new paid delivery, in-process, on PostgreSQL (issue 12: <= 0.8 ms).

What the webhook handler does for a delivery once its body is read: verify the signature and
parse the event (`verify_and_parse`), then `DeliveryService.receive` (the unit of work, the pool,
psycopg, libpq), for `deliveries` new payments of registered users, one after the other, straight
to PostgreSQL (no proxy). `time.process_time()` is this process's CPU, all threads: the database
server's CPU is another process's and is not in it; the waits for its answers are not CPU. The
bodies are made and signed before the clock starts (that is Stripe's work). The HTTP layer is not
in it: the bare endpoint of `make bench-webhook` measures that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

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

    @property
    def over_target(self) -> bool:
        return self.cpu_ms > TARGET_MS


def measure_cpu(deliveries: int) -> CpuPerDelivery:
    with postgres_database("service_cpu") as url:
        migrate(url)
        settings = bench_settings(url)
        container = build_container(settings)
        try:
            for user in range(USERS):
                container.users.register(payments.user_id(user), payments.user_email(user))
            signed = []
            for number in range(WARMUP + deliveries):
                payment = payments.new_payment(number % USERS)
                signed.append((payment.body, payments.signed(payment.body)))
            for body, signature in signed[:WARMUP]:
                container.deliveries.receive(delivery_of(body, signature, settings))
            measured = signed[WARMUP:]
            wall, cpu = time.perf_counter(), time.process_time()
            for body, signature in measured:
                result = container.deliveries.receive(delivery_of(body, signature, settings))
                if result.status.value != "processed":
                    raise RuntimeError(f"a new payment was {result.status.value}")
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            container.close()
    return CpuPerDelivery(deliveries, cpu * 1000 / deliveries, wall * 1000 / deliveries)
