# The two commands of the README: `make demo` (set up and run offline) and `make test` (set up and test).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test lint demo demo-ui dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

# `dg check defs`: Dagster loads defs/ as the code location does ([tool.dg] in pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check adelie_assets
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

test: lint
	$(BIN)/pytest

demo: setup
	$(BIN)/python -m adelie_fakes.demo

# The live offline playground on the demo instance (adelie_fakes/playground.py): the fakes run
# next to `dagster dev` until Ctrl-C. Refuses a taken PORT at once; runs the demo first when there
# is no demo instance yet.
PORT ?= 3000
demo-ui: setup
	$(BIN)/python -m adelie_fakes.playground --port $(PORT) --state-dir .adelie/demo

# DAGSTER_HOME keeps runs across sessions; the root dagster.yaml is copied in, since Dagster reads
# $DAGSTER_HOME/dagster.yaml once DAGSTER_HOME is set.
dev: setup
	mkdir -p .adelie/dagster_home && cp dagster.yaml .adelie/dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.adelie/dagster_home $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(VENV) .adelie .pytest_cache .ruff_cache
