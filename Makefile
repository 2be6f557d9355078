# The two set-up commands of the README: `make serve` and `make test`. Both create the
# virtualenv (.venv) on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: serve test lint bench-webhook bench-profile bench-ceiling bench-spend bench-holds bench-scale \
	bench-round-trips bench-peer bench-console console-screenshots clean

# Serving needs only the runtime dependencies; the dev tools (pytest, mypy, schemathesis,
# localstripe) are added by the first `make test` or `make lint`.
$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("creditflow needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(BIN)/.dev-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

serve: $(BIN)/.installed
	$(BIN)/creditflow serve

lint: $(BIN)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The benchmarks (docs/performance.md), one command each; they need matplotlib and py-spy too,
# installed on first use. Options go through BENCH_ARGS (`python -m bench.<name> --help`), e.g.
# make bench-webhook BENCH_ARGS="--seconds 3 --engines postgres"
BENCH_ARGS ?=

$(BIN)/.bench-installed: $(BIN)/.dev-installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

# Signed deliveries over HTTP (wrk) on PostgreSQL and SQLite, against pgbench and a bare endpoint.
bench-webhook: $(BIN)/.bench-installed
	$(BIN)/python -m bench.webhook $(BENCH_ARGS)

bench-profile: $(BIN)/.bench-installed
	$(BIN)/python -m bench.webhook.profile $(BENCH_ARGS)

# What the webhook target would take: the fulfilment as one statement, in creditflow's stack and
# in a bare async app, beside creditflow itself (PostgreSQL).
bench-ceiling: $(BIN)/.bench-installed
	$(BIN)/python -m bench.ceiling $(BENCH_ARGS)

# Spends/s over HTTP on PostgreSQL (wrk), random wallets and one hot wallet.
bench-spend: $(BIN)/.bench-installed
	$(BIN)/python -m bench.spend.run $(BENCH_ARGS)

# A 1-credit hold and its capture beside a plain 1-credit spend, over HTTP on PostgreSQL (issue 14).
bench-holds: $(BIN)/.bench-installed
	$(BIN)/python -m bench.spend.holds $(BENCH_ARGS)

# Round trips to PostgreSQL per operation, counted on the wire, and the service's CPU per new paid
# delivery (issue 12). Exits 1 above the round-trip targets; BENCH_ARGS=--check-cpu fails on CPU.
bench-round-trips: $(BIN)/.bench-installed
	$(BIN)/python -m bench.roundtrips $(BENCH_ARGS)

# creditflow side by side with the one-function peer (bench/peer), same wrk load, one run:
# webhook and spends at 16 connections (BENCH_ARGS="--connections 1,4,16,64" for the plot).
bench-peer: $(BIN)/.bench-installed
	$(BIN)/python -m bench.peer $(BENCH_ARGS)

# Latency and plans of the hot paths at 10^3, 10^5 and 10^6 ledger entries on PostgreSQL.
bench-scale: $(BIN)/.bench-installed
	$(BIN)/python -m bench.scale.run $(BENCH_ARGS)

# The console's pictures in docs/console/, taken by its browser tests (SQLite runs only).
console-screenshots: $(BIN)/.installed
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(BIN)/pytest -n 0 -q \
		tests/console/test_browser.py -k sqlite

# Server time of every console page with 10^4 events and 10^5 ledger entries (docs/console.md).
bench-console: $(BIN)/.installed
	$(BIN)/python -m bench.console $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
