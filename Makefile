# `make demo` and `make test` are the README's two Quick start commands.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup dev chromium demo test lint types check migrate docs

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip uv

EMULATOR := packages/workspace-emulator

setup: $(BIN)/python
	$(BIN)/uv pip install -q --python $(BIN)/python -e $(EMULATOR) -e '.[emulator]'

dev: $(BIN)/python chromium
	$(BIN)/uv pip install -q --python $(BIN)/python -e $(EMULATOR) -e '.[dev]'

# The browser tests drive Debian's chromium with Playwright (never `playwright install`).
# CI runs as root on a fresh machine: install it there; elsewhere say how.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; \
	  fi; \
	fi

demo: setup
	$(BIN)/secretary demo

# The README's second command and exactly what CI runs: lint, types, then the tests.
test: lint types
	$(BIN)/pytest -n 2 --dist loadgroup

lint: dev
	$(BIN)/ruff check src tests bench packages
	$(BIN)/ruff format --check src tests bench packages

types: dev
	$(BIN)/mypy

check: test

migrate: setup
	$(BIN)/secretary db upgrade
