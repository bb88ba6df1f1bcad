# Two commands do everything on a fresh machine:
#   make run   - virtualenv, install, migrate, demo data, server on http://127.0.0.1:5000
#   make test  - virtualenv, install, Chromium for the browser tests, the whole test suite
# Set TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test to run the suite on PostgreSQL too.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := shop

.PHONY: run test lint audit fmt install translations chromium wrk bench bench-orders bench-load bench-retention drill-worker-kill drill-postgres-restart clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	$(BIN)/pybabel -q compile --use-fuzzy -d shop/translations

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load --if-empty
	$(BIN)/flask run --host 127.0.0.1 --port 5000

chromium:
	@bash scripts/ensure-chromium

test: install chromium
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shop
	$(BIN)/python scripts/check-translations

# Security: bandit over the shop's code (settings in pyproject.toml), pip-audit over the
# installed packages (needs PyPI; findings fail unless explained in pip-audit-ignore.txt).
audit: install
	$(BIN)/bandit -q -c pyproject.toml -r shop wsgi.py
	bash scripts/pip-audit

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

wrk:
	@bash scripts/ensure-wrk

bench: install wrk
	$(BIN)/python bench/run.py

bench-orders: install wrk
	$(BIN)/python bench/orders.py

# Two minutes of browsing, search, carts and sandbox checkouts (bench/load.py);
# e.g. `make bench-load LOAD_ARGS="--duration 20"` for a short proof run.
LOAD_ARGS ?=
bench-load: install
	$(BIN)/python bench/load.py $(LOAD_ARGS)

# Fault drills with real gunicorn workers and PostgreSQL servers (docs/operations-drills.md).
drill-worker-kill: install
	$(BIN)/python bench/drills.py worker-kill

drill-postgres-restart: install
	$(BIN)/python bench/drills.py postgres-restart
bench-retention: install
	$(BIN)/python bench/retention.py

clean:
	rm -rf $(VENV) instance/shop.sqlite3 .pytest_cache .mypy_cache .ruff_cache
