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

# The demo: synthesize a small DeepSTARR-layout dataset (planted motifs), train Tran `tiny` on the CPU (~1-2 min).
DEMO_DIR ?= demo
DEMO_STEPS ?= 300
demo: install
	$(BIN)/d3 plugins list
	$(BIN)/d3 data synth deepstarr --n 2000 --seed 0 --out $(DEMO_DIR)/deepstarr_synth.h5 --force
	$(BIN)/d3 data info $(DEMO_DIR)/deepstarr_synth.h5
	rm -rf $(DEMO_DIR)/run
	$(BIN)/d3 train --dataset deepstarr --arch Tran --preset tiny --data $(DEMO_DIR)/deepstarr_synth.h5 \
		--work_dir $(DEMO_DIR)/run --max_steps $(DEMO_STEPS) --batch_size 32 --val_check_interval 100 \
		--accelerator cpu --logger csv --logger tensorboard optim.warmup=50 optim.lr=1e-3
	@echo "demo: checkpoint   $(DEMO_DIR)/run/checkpoints/last.ckpt"
	@echo "demo: metrics      $(DEMO_DIR)/run/csv/metrics.csv (TensorBoard: $(BIN)/tensorboard --logdir $(DEMO_DIR)/run)"
	@echo "demo: config       $(DEMO_DIR)/run/config.yaml"

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info
