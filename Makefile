# Two commands for a newcomer: `make serve` runs the product locally, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint site bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

site: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet

## Build the site and run it with the API on an embedded AWS stand-in (http://127.0.0.1:8000).
serve: site
	$(BIN)/bdpilot serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint infra/template.yaml

## Lint, build the site strictly, then run unit, integration, infra and browser tests.
test: lint site
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf site .local artifacts
