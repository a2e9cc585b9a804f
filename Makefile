# Set-up and checks for d3. `make test` and `make demo` work on a fresh machine (they install first).
PYTHON ?= python3
VENV ?= .venv
# torch is installed first and pinned, so pip does not pull a multi-GB CUDA build: `make install TORCH=2.15.0`
# (or TORCH=torch==2.15.0) picks another release.
TORCH ?= 2.13.0
TORCH_REQ := $(if $(findstring torch,$(TORCH)),$(TORCH),torch==$(TORCH))
PLUGINS := $(sort $(wildcard plugins/d3_*))
BIN := $(VENV)/bin
STAMP := $(VENV)/.d3-installed
PYTEST_ARGS ?=

.PHONY: install test test-fast demo bench clean help

help:
	@echo "make demo     install, then run the main job end to end on a small embedded default (CPU)"
	@echo "make test     install, then run every test (core and plugins)"
	@echo "make install  create $(VENV) with torch ($(TORCH_REQ)), d3core[dev] and every plugin (editable)"
	@echo "make bench    run the benchmarks (JSON in benchmarks/results/)"

install: $(STAMP)

$(STAMP): pyproject.toml $(PLUGINS:%=%/pyproject.toml) Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet "$(TORCH_REQ)"
	$(BIN)/python -m pip install --quiet -e ".[dev]" $(foreach p,$(PLUGINS),-e $(p))
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

demo: install
	$(BIN)/d3 plugins list
	@echo "(the end-to-end training demo arrives with the training runner; see README)"

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info
