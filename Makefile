# Two commands matter: `make run` and `make test`. Each bootstraps .venv by itself.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo $$p; break; fi; done)

.PHONY: run run-gcp-local test lint typecheck unit integration e2e openapi clean system-deps bench bundle gateway-spec

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11 or newer on PATH)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/auditlog serve

# The GCP shape on this machine: emulators, four function processes, a local gateway on PORT.
run-gcp-local: $(STAMP) system-deps
	$(PY) -m devtools.gcp_local

# `make bench -- --events 10000000`: the words after `bench` are the benchmark's arguments.
ifeq (bench,$(firstword $(MAKECMDGOALS)))
BENCH_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
$(eval $(BENCH_ARGS):;@:)
endif

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

test: $(STAMP) system-deps lint typecheck
	$(PY) -m pytest -q

system-deps:
	@bash devtools/system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check shared functions tests devtools bench monitoring sdk/python

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit integration e2e: $(STAMP)
	$(PY) -m pytest -q -m $@

openapi: $(STAMP)
	$(VENV)/bin/auditlog openapi > openapi/openapi.json
	$(PY) -m devtools.gateway_spec

# build/functions/<name>/: each Cloud Function's deployable source (Terraform zips them).
bundle: $(STAMP)
	$(PY) -m devtools.bundle

gateway-spec: $(STAMP)
	$(PY) -m devtools.gateway_spec

clean:
	rm -rf $(VENV) .auditlog .pytest_cache .mypy_cache .ruff_cache build

# The plugins in a freshly scaffolded Backstage app: its tsc, Prettier, tests, builds, and the
# page in Chromium (Node 22 and yarn from npm; ~2.5 GB, 13-20 min, so not part of `make test`).
.PHONY: test-backstage-app
test-backstage-app: $(STAMP)
	bash plugins/scripts/backstage-app-check.sh
