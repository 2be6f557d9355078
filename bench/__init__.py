"""Benchmarks of creditflow: `make bench-webhook`, `make bench-profile` (docs/performance.md)."""
