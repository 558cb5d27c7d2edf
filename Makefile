# Development entry points. `make run` serves the demo; `make test` is what CI runs.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EMBEDDED_PGDATA := $(CURDIR)/.loyalty/pgdata
LOYALTY_ENV ?= development
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test e2e reliability check fmt schema bench bench-large bench-profile bench-page bench-rules bench-nudges clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## Create .venv and install the locked dependencies

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

run: install ## Start the embedded database, load the demo and serve on :8000
	LOYALTY_ENV=$(LOYALTY_ENV) $(PY) -m loyalty run

test: install ## Run the test suite (extra flags in PYTEST_ARGS)
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian's Chromium; as root the package is installed when it is missing (CI runs as root).
e2e: install ## The admin page in headless Chromium; screenshots go to build/screenshots
	command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)
	@command -v chromium >/dev/null || { echo "e2e needs Chromium: apt-get install chromium" >&2; exit 1; }
	$(PY) -m pytest -m browser tests/e2e $(PYTEST_ARGS)

reliability: install ## Crash, database restart, retries, races, fuzz and abuse at full scale; prints a table
	LOYALTY_RELIABILITY=full $(PY) -m pytest tests/reliability $(PYTEST_ARGS)

check: install ## Formatting, lint and types
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy loyalty tests

fmt: install ## Format and apply lint fixes
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

schema: install ## Export the GraphQL schema to schema/schema.graphql
	$(PY) -m loyalty export-schema

bench: install ## The load suite, each operation against pgbench running its SQL (bench/README.md)
	command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
	$(PY) bench/suite.py

bench-large: install ## The load suite on a million customers with twenty million ledger entries
	command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
	$(PY) bench/suite.py --scale both

bench-profile: install ## Where the server's CPU goes under load, by layer (py-spy): bench/results/profile.md
	command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
	$(PY) bench/suite.py --profile --only recordPurchase me nudges --clients 16 --seconds 15

bench-page: install ## How fast the admin page opens on a slow phone (headless Chromium): bench/results/admin_page.md
	$(PY) bench/admin_page.py

bench-rules: install ## Time the rule engine: 200 rules, a 20-line cart (bench/README.md)
	mkdir -p bench/results
	$(PY) bench/rules_eval.py --json bench/results/rules_eval.json

bench-nudges: install ## Load nudges(cart) through the API with wrk (bench/README.md)
	command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
	$(PY) bench/nudges.py

# The embedded server belongs to the account that owns its data directory: as root that is an
# unprivileged user, since PostgreSQL refuses to run as root.
clean: ## Stop the embedded database, then remove .loyalty and .venv
	@if [ -f $(EMBEDDED_PGDATA)/postmaster.pid ]; then \
		pg_ctl=$$(command -v pg_ctl || ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1); \
		as=""; [ "$$(id -u)" != 0 ] || as="runuser -u $$(stat -c %U $(EMBEDDED_PGDATA)) --"; \
		[ -z "$$pg_ctl" ] || $$as $$pg_ctl -D $(EMBEDDED_PGDATA) -m fast -w stop || true; \
	fi
	rm -rf .loyalty $(VENV) *.egg-info build
