# Two commands do all set-up on a fresh machine:
#   make run    - set up, then start the web app (http://127.0.0.1:8000)
#   make test   - set up (incl. Chromium + PostgreSQL from Debian where missing), then run every test tier
# `make lint` runs ruff format --check, ruff check and mypy; CI (.ci/run) runs setup, lint, then test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast setup web-deps system-deps model fixtures bench eval lint clean-venv

run: setup
	$(VENV)/bin/formcheck serve --host $(HOST) --port $(PORT) --single-user

test: setup system-deps
	$(PY) -m pytest -m "" -p no:cacheprovider

# The default tier only (no MediaPipe runs over videos, no browser): a few minutes.
test-fast: setup
	$(PY) -m pytest -p no:cacheprovider

setup: $(STAMP) model web-deps

# Front-end packages (package.json, served by the app from node_modules/, never from a CDN): MediaPipe
# tasks-vision (pose in the browser), charts, accessibility checks. Only where npm exists; the app still runs
# without them: the live coach then runs pose on the server and says so, the progress page shows tables.
NPM_STAMP := node_modules/.installed-$(shell cat package.json | sha256sum | cut -c1-16)
web-deps: $(NPM_STAMP)

$(NPM_STAMP): package.json
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "npm not found: pose in the browser, charts and the browser-tier accessibility check need it (apt-get install npm); the live coach runs pose on the server"; \
	elif npm install --no-package-lock --no-audit --no-fund --loglevel=error; then \
	  rm -f node_modules/.installed-* && touch $@; \
	else echo "npm install failed: pose in the browser is off until it succeeds (the live coach runs pose on the server)"; fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "formcheck needs Python >= 3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -U pip
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

# Builds (once) and verifies the pose model bundle from registry files; see formcheck/media/models.toml.
model: $(STAMP)
	$(VENV)/bin/formcheck models

system-deps:
	bash scripts/system-deps.sh

fixtures: $(STAMP)
	$(PY) -m tools.synth

bench: setup
	$(PY) benchmarks/bench_pose.py
	$(PY) benchmarks/bench_analysis.py

eval: setup
	$(VENV)/bin/formcheck eval ../shared/videos/manifest.json

# The tooling CI holds the line with (all from the test extras, inside .venv): the formatter, the linter
# (pyproject's rule set) and mypy (pyproject: strict on formcheck.core, checked elsewhere).
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean-venv:
	rm -rf $(VENV)
