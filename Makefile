# Two commands for a newcomer: `make serve` runs the product locally, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/dev.txt

.PHONY: serve test unit lint typecheck lock site bench clean browser-deps

# Exactly the locked versions, each file checked against its hash; then the project itself, without resolving.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Re-resolve requirements/function.txt and requirements/dev.txt to the newest versions pyproject allows.
lock: $(STAMP)
	$(BIN)/python -m bdpilot.ops.deploy.lock

site: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet

## Build the site and run it with the API on an embedded AWS stand-in (http://127.0.0.1:8000).
serve: site
	$(BIN)/bdpilot serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint  # templates and regions (China included) from .cfnlintrc

typecheck: $(STAMP)
	$(BIN)/mypy

## The fast loop: lint and the tests that need no AWS stand-in, no server and no browser.
unit: lint
	$(BIN)/pytest -q tests/unit

## Lint, type-check, build the site strictly, then run unit, integration, infra and browser tests.
test: lint typecheck site browser-deps
	$(BIN)/pytest

# Browser tests drive Debian's chromium (never a downloaded browser); as root we install it, else they skip.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium fonts-noto-cjk >/dev/null; \
	  else \
	    echo "Browser tests need Debian's chromium and fonts-noto-cjk: sudo apt-get install chromium fonts-noto-cjk"; \
	  fi; \
	fi

bench: site
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.cold_start
	$(BIN)/python -m bench.hostile
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.export
	$(BIN)/python -m bench.local_restart
	$(BIN)/python bench/lighthouse
	$(BIN)/python -m bench.apply_page
	$(BIN)/python -m bench.console_list
	$(BIN)/python -m bench.console_lighthouse

clean:
	rm -rf site .local artifacts
