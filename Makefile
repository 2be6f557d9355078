# The two set-up commands of the README: `make serve` and `make test`. Both create the
# virtualenv (.venv) on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: serve test lint bench bench-webhook bench-profile clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("creditflow needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

serve: $(BIN)/.installed
	$(BIN)/creditflow serve

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The benchmarks (docs/performance.md) need matplotlib and py-spy too, installed on first use.
# Options go through BENCH_ARGS, e.g. make bench-webhook BENCH_ARGS="--seconds 3 --engines postgres"
BENCH_ARGS ?=

$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

bench-webhook: $(BIN)/.bench-installed
	$(BIN)/python -m bench.webhook $(BENCH_ARGS)

bench-profile: $(BIN)/.bench-installed
	$(BIN)/python -m bench.webhook.profile $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
