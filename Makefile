# The referral hub's commands (contract: README.md). Everything installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv

.PHONY: help install run up down status test lint typecheck unit bench bench-directory bench-scaling soak schemas clean browser-deps k8s-tools

help:
	@echo "make run    install, start Kafka, PostgreSQL and the three services, load demo link workers (Ctrl-C stops the services)"
	@echo "make up     the same, detached;  make down  stops everything;  make status"
	@echo "make test   lint, type checks and the full test suite on real Kafka and PostgreSQL (TEST_WORKERS=2 in parallel)"
	@echo "make bench  the end-to-end benchmark"
	@echo "make bench-scaling  router throughput with 1, 2 and 3 replicas; one outbox relay's ceiling"
	@echo "make bench-directory  directory import time and search latency at 5,000 services"
	@echo "make soak   ten minutes at 300 referrals/s: lag, memory and errors judged (SOAK_ARGS=...)"

# uv comes from PyPI like everything else; the lock file makes the install reproducible.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --quiet
	@touch $@

run: install
	@DEMO="$(DEMO)" bash deploy/local/hub.sh run

up: install
	@DEMO="$(DEMO)" bash deploy/local/hub.sh up

down:
	@bash deploy/local/hub.sh down

status:
	@bash deploy/local/hub.sh status

lint: install
	$(VENV)/bin/ruff check services tests benchmarks
	$(VENV)/bin/ruff format --check services tests benchmarks

typecheck: install
	$(VENV)/bin/mypy

# axe-core for the browser tests' accessibility checks, from npm, pinned by its lock file.
BROWSER_DEPS := tests/browser/node_modules/.package-lock.json
browser-deps: $(BROWSER_DEPS)

$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund
	@touch $@

# helm and kubeconform for the Helm chart's test, built from the Go module proxy, and the
# Kubernetes and KEDA schemas (pinned in the script; cached in .local/k8s: a checksum once there).
k8s-tools: install
	@bash tools/k8s/install.sh >/dev/null

# The test fixtures start Kafka and PostgreSQL themselves when the environment names none.
# Most of an end-to-end test's time is waiting on Kafka, PostgreSQL and service processes, so
# TEST_WORKERS pytest-xdist workers each take whole files (so each module's stack is made once);
# the tests marked `exclusive` stop or restart Kafka or PostgreSQL and run afterwards, alone.
# Both parts always run, and each lists its slowest tests.
TEST_WORKERS ?= 2
PYTEST_REPORT := --durations=25
test: lint typecheck $(BROWSER_DEPS) k8s-tools
	@status=0; \
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile -m "not exclusive" $(PYTEST_REPORT) || status=$$?; \
	$(VENV)/bin/pytest -m exclusive $(PYTEST_REPORT) || status=$$?; \
	exit $$status

unit: install
	$(VENV)/bin/pytest tests/unit

schemas: install
	$(VENV)/bin/python -m hub_cli.main schemas write

# The chart needs matplotlib, in the `bench` dependency group; flags: make bench BENCH_ARGS="--referrals 5000"
bench: install
	$(UV) run --frozen --quiet --group bench python -m benchmarks.run $(BENCH_ARGS)

# Router throughput with 1, 2 and 3 replicas, and one outbox relay's ceiling (issue 16);
# make bench-scaling BENCH_ARGS="--referrals 3000"
bench-scaling: install
	$(UV) run --frozen --quiet --group bench python -m benchmarks.scaling $(BENCH_ARGS)

# The services directory at size (issue 14): import time and search p95; make bench-directory BENCH_ARGS="--services 5000"
bench-directory: install
	$(UV) run --frozen --quiet --group bench python -m benchmarks.directory $(BENCH_ARGS)

# Long, so not part of `make test` (a 45-second version is): flags: make soak SOAK_ARGS="--rate 200 --minutes 30"
soak: install
	$(UV) run --frozen --quiet --group bench python -m benchmarks.soak $(SOAK_ARGS)

clean: down
	rm -rf .local $(VENV)
