"""`make bench-spend`: spends per second over real HTTP on PostgreSQL, driven by wrk."""
