# spatialsvc: `make demo` sets everything up and serves the demo district; `make test` sets
# everything up and runs the checks and tests.  Both print what they do while they do it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SEED   ?= 20261122
SCALE  ?= 1

.PHONY: setup db demo test check lint typecheck bench clean

$(BIN)/spatialsvc: pyproject.toml
	@echo "==> creating $(VENV) and installing spatialsvc with pinned dependencies"
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/spatialsvc

db: setup
	@echo "==> making sure PostgreSQL 15+ with PostGIS 3 is up (spatialsvc db up)"
	$(BIN)/spatialsvc db up
	$(BIN)/spatialsvc db migrate

demo: db
	@echo "==> generating and loading the Haishu demo district (seed $(SEED), scale $(SCALE))"
	$(BIN)/spatialsvc demo generate --seed $(SEED) --scale $(SCALE)

lint: setup
	@echo "==> ruff"
	$(BIN)/ruff check spatialsvc tests bench
	$(BIN)/ruff format --check spatialsvc tests bench

typecheck: setup
	@echo "==> mypy"
	$(BIN)/mypy

check: lint typecheck

test: db check
	@echo "==> pytest against the real PostGIS"
	$(BIN)/pytest

bench: db
	$(BIN)/python bench/demo_generation.py --seed $(SEED) --scale $(SCALE)

clean:
	-$(BIN)/spatialsvc db down
	rm -rf $(VENV) .spatialsvc
