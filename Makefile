# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The tested versions: requirements/dev.txt for the local stack and the tests,
# requirements/base.txt for the production image. `make lock` refreshes both.
LOCK := requirements/dev.txt
COMPILE := $(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links

# Test workers (pytest-xdist), each with its own services, given whole test files: most
# integration tests wait on real services, so two workers on two cores halve the wall time.
TEST_WORKERS ?= 2

# The dashboard's browser tests drive Debian's Chromium (tests/integration/browser_support.py).
CHROMIUM ?= /usr/bin/chromium
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: run test lint lock install clean chromium

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The click path's modules compiled by Cython (setup.py): rebuilt when one of them changes.
COMPILED := $(shell sed -n '/^compiled = \[/,/^\]/p' pyproject.toml | grep -o '"[^"]*\.py"' | tr -d '"')

$(STAMP): pyproject.toml setup.py splitter/_decide.c edge/sink/_murmur2.c $(COMPILED) $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install -q -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/turnout dev

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=25

# Installed by apt-get when missing and run as root (CI); otherwise the one command to run.
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES); \
	  else \
	    echo "the browser tests need Debian's Chromium at $(CHROMIUM); run: sudo apt-get install -y $(BROWSER_PACKAGES)"; \
	    exit 1; \
	  fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-resolve the locks from pyproject.toml (after changing a dependency), then `make test`.
lock: | $(BIN)/python
	$(BIN)/python -m pip install -q "pip-tools>=7.4"
	$(COMPILE) --upgrade --extra local --extra dev -o requirements/dev.txt pyproject.toml
	$(COMPILE) -c requirements/dev.txt -o requirements/base.txt pyproject.toml

clean:
	rm -rf $(VENV) .turnout .pytest_cache .ruff_cache
