# spatialsvc: `make demo` sets everything up and serves the demo district; `make test` sets
# everything up and runs the checks and tests.  Both print what they do while they do it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SEED   ?= 20261122
SCALE  ?= 1

.PHONY: system vendor setup db demo test check lint typecheck bench clean

$(BIN)/spatialsvc: pyproject.toml
	@echo "==> creating $(VENV) and installing spatialsvc with pinned dependencies"
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

system:
	@echo "==> checking system packages (scripts/install_system_packages.sh)"
	@bash scripts/install_system_packages.sh

setup: system $(BIN)/spatialsvc vendor

# Scripts and styles for the HTML pages, from the npm registry at build time (never a CDN at run
# time): `npm ci` installs the versions locked in package-lock.json, then only the files the
# pages load are copied into spatialsvc/web/static/vendor/.  Nothing to do when that is current.
VENDOR_STAMP := spatialsvc/web/static/vendor/versions.json

vendor: $(VENDOR_STAMP)

$(VENDOR_STAMP): package.json package-lock.json scripts/vendor_assets.py
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "==> npm is missing: installing Debian's nodejs and npm with apt-get"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq --no-install-recommends nodejs npm; \
	fi
	@echo "==> installing the pinned web assets (npm ci --ignore-scripts)"
	npm ci --ignore-scripts --no-audit --no-fund
	@echo "==> copying the files the pages load into spatialsvc/web/static/vendor"
	$(PYTHON) scripts/vendor_assets.py
	@touch $@

db: setup
	@echo "==> making sure PostgreSQL 15+ with PostGIS 3 is up (spatialsvc db up)"
	$(BIN)/spatialsvc db up
	$(BIN)/spatialsvc db migrate

demo: db
	@echo "==> generating and loading the Haishu demo district (seed $(SEED), scale $(SCALE))"
	$(BIN)/spatialsvc demo generate --seed $(SEED) --scale $(SCALE)
	@echo "==> geocoding both registers onto the standard addresses (match reports below)"
	$(BIN)/spatialsvc geocode registry person
	$(BIN)/spatialsvc geocode registry legal_entity
	@echo "==> the geocoder on the development set kept in data/eval (strict and level-aware)"
	$(BIN)/spatialsvc address eval
	@echo "==> the resource catalogue, and the departments that own layers"
	$(BIN)/spatialsvc catalogue sync
	@echo "==> API keys to try the service with (access control is on; a key is shown only once)"
	$(BIN)/spatialsvc auth create-department dsj-hs --name 海曙区大数据发展管理局 --exist-ok
	@echo "    a department's key (zfw-hs, the grid centre, consumer):"
	@$(BIN)/spatialsvc auth create-key --department zfw-hs --role consumer --label "make demo"
	@echo "    the platform administrator's key (dsj-hs, admin):"
	@$(BIN)/spatialsvc auth create-key --department dsj-hs --role admin --label "make demo"
	@echo '    use one as: curl -H "Authorization: Bearer KEY" http://127.0.0.1:5000/collections'
	@echo "==> serving the demo district on http://127.0.0.1:5000/ (Ctrl-C stops)"
	$(BIN)/spatialsvc serve

lint: setup
	@echo "==> ruff"
	$(BIN)/ruff check spatialsvc addressing tests bench
	$(BIN)/ruff format --check spatialsvc addressing tests bench

typecheck: setup
	@echo "==> mypy"
	$(BIN)/mypy

check: lint typecheck

test: db check
	@echo "==> pytest against the real PostGIS"
	$(BIN)/pytest

.venv-bench/bin/uvicorn: bench/requirements-tipg.txt
	@echo "==> creating .venv-bench with tipg, the anchor of bench/publishing.py"
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -r bench/requirements-tipg.txt
	@touch $@

$(VENV)/.bench-extra: pyproject.toml $(BIN)/spatialsvc
	@echo "==> installing the bench extra (cpca, the geocoder's anchor)"
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@touch $@

bench: db .venv-bench/bin/uvicorn $(VENV)/.bench-extra
	@echo "==> demo generation and load rates (scratch database)"
	$(BIN)/python bench/demo_generation.py --seed $(SEED) --scale $(SCALE)
	@echo "==> publishing: items vs tipg, reprojection, tiles vs raw SQL, start-up (needs make demo's data)"
	$(BIN)/python bench/publishing.py
	@echo "==> geocoding: batch vs cpca, /geocode under 50 clients, parsing, real-world set"
	$(BIN)/python bench/geocoding.py
	$(BIN)/python bench/address_parsing.py
	$(BIN)/python bench/realworld_parsing.py
	$(BIN)/python bench/zonal_stats.py
	@echo "==> access control and audit on against off (items, tiles)"
	$(BIN)/python bench/access.py
	@echo "==> scaling: 2 service workers against 1 (items, /geocode)"
	$(BIN)/python bench/scaling.py
	@echo "==> backup and restore of the database in use, checked table by table"
	$(BIN)/python bench/backup.py
	@echo "==> load: 100 clients mixing items, tiles, geocode and catalogue search for 60 s"
	$(BIN)/python bench/load.py

clean:
	-$(BIN)/spatialsvc db down
	rm -rf $(VENV) .spatialsvc
