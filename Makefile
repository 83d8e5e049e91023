# Everything runs from a local virtual environment; the only prerequisites are Python >= 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# SAM CLI pins its own boto3/pydantic ranges, so it lives in a venv of its own.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

.PHONY: install run demo test unit bench bench-check capacity lint lint-template build clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli>=1.120'

$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov>=3.2'

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/python -m failover_local

demo: $(INSTALLED)
	$(BIN)/python -m failover_local.demo

test: lint
	$(BIN)/pytest

# Cost, reaction time, cold start, throughput → bench/results.md and bench/results.json (under 10 minutes).
bench: $(INSTALLED)
	$(BIN)/python -m bench

# docs/capacity.md from bench/results.json, bench/quotas.json, bench/prices.json and template.yaml (seconds; no AWS).
capacity: $(INSTALLED)
	$(BIN)/python -m bench.capacity

# The deterministic part of the benchmark (transitions and invocations per path); `make test` runs it too.
bench-check: $(INSTALLED)
	$(BIN)/pytest -q tests/bench

unit: $(INSTALLED)
	$(BIN)/pytest tests/unit

lint: $(INSTALLED) lint-template
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint-template: $(INSTALLED) $(SAM) $(CHECKOV)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m failover_local.transformed template.yaml  # as CloudFormation sees it: after the SAM transform
	AWS_DEFAULT_REGION=eu-west-1 SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --template-file template.yaml
	$(CHECKOV) --file template.yaml --framework cloudformation --compact --quiet --skip-download

# The deployable artifacts (.aws-sam/build), for `sam deploy`: see docs/deploy.md. The functions run on
# Python 3.13, so sam build needs python3.13 on PATH (with pyenv: PYENV_VERSION=3.13.0:3.11.7 make build).
# No Docker: every layer requirement has a manylinux aarch64 wheel (tests/deploy/test_build.py checks it).
build: $(SAM)
	@python3.13 --version >/dev/null 2>&1 || { echo "make build: needs python3.13 on PATH (pyenv: PYENV_VERSION=3.13.0:3.11.7 make build)"; exit 1; }
	SAM_CLI_TELEMETRY=0 $(SAM) build --template-file template.yaml

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache
