# The two commands of the README: `make run` and `make test`.
# Both create .venv inside the checkout (reused later), install lucid and
# lucid-models-pvt into it in editable mode, then do their job.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SERVE  ?=

.PHONY: run test lint docs clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "lucid needs Python 3.11 or newer; run: make PYTHON=python3.11 ..."'
	$(PYTHON) -m venv $(VENV)

# One stamp per extra set: re-installs only when a pyproject.toml changes.
$(VENV)/.run-deps: $(BIN)/python pyproject.toml lucid_models_pvt/pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[docs]' -e ./lucid_models_pvt
	touch $@

$(VENV)/.test-deps: $(VENV)/.run-deps
	$(BIN)/python -m pip install --quiet -e '.[docs,test]' -e ./lucid_models_pvt
	touch $@

run: $(VENV)/.run-deps
	$(BIN)/python scripts/main_job.py $(if $(SERVE),--serve)

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy lucid

test: lint
	$(BIN)/python -m pytest

docs: $(VENV)/.run-deps
	$(BIN)/python -m sphinx -W -n --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build build dist
