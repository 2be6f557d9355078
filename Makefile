# The two set-up commands of the README: `make serve` and `make test`. Both create the
# virtualenv (.venv) on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: serve test lint bench bench-spend bench-scale clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("creditflow needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

serve: $(BIN)/.installed
	$(BIN)/creditflow serve

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# Spends/s over real HTTP on PostgreSQL (wrk), random wallets and one hot wallet: see
# docs/performance-scale.md. BENCH_SPEND_ARGS="--seconds 3" for a short check.
bench-spend: $(BIN)/.installed
	PYTHONPATH=. $(BIN)/python -m bench.spend.run $(BENCH_SPEND_ARGS)

# Latency and plans of the hot paths at 10^3, 10^5 and 10^6 ledger entries on PostgreSQL.
# BENCH_SCALE_ARGS="--scales 1000,100000 --ops 50" for a short check.
bench-scale: $(BIN)/.installed
	PYTHONPATH=. $(BIN)/python -m bench.scale.run $(BENCH_SCALE_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
