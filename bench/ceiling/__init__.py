"""`python -m bench.ceiling` (`make bench-ceiling`): what the webhook target would take.

An experiment, not a second implementation: the fulfilment's writes for the benchmark's one kind
of delivery (a new paid Checkout Session of a registered user) as one SQL statement, served two
ways under the same load and checks as `bench.webhook`:
- inside creditflow's own HTTP stack (FastAPI, its middleware, the thread pool, SQLAlchemy's
  pool, one transaction), in place of the delivery service;
- in a bare async ASGI app holding psycopg connections of its own (autocommit: one round trip).
Beside creditflow itself, the three say how much of the gap to the target is round trips and
how much is the synchronous stack (docs/performance.md, "What the target would take").
"""
