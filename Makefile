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
# `make test` runs the fast tests in this many processes (pytest-xdist; 1 = in this process)
TEST_WORKERS ?= 2

.PHONY: install test test-slow test-all demo bench clean help

help:
	@echo "make demo     install, then run the main job end to end on a small embedded default (CPU)"
	@echo "make test     install, then run the tests (core and plugins, TEST_WORKERS=2 processes; those marked slow: make test-slow)"
	@echo "make test-all install, then run every test, slow ones included (what CI runs)"
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
	$(BIN)/python -m pytest -m "not slow" $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS)) $(PYTEST_ARGS)

test-slow: install
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

test-all: test test-slow

# The demo (CPU, ~3-4 minutes on 2 cores): synthesize a DeepSTARR-layout dataset with planted motifs (once per N), train
# Conv `tiny` (with the default label dropout), train the DeepSTARR oracle beside the data (or load it when it is
# there), sample at a high and a low requested dev activity, evaluate, sample the same requests with classifier-free
# guidance G = DEMO_GUIDANCE, and state the measured effect of conditioning at G = 1 and at that G; then train a judge
# oracle (another seed, half of the training rows), design for the specific objective dev - hk with SVDD
# (DEMO_CANDIDATES candidates per step) guided by the first oracle, and state the gain over plain conditional sampling of
# the same request and seed under the judge, which did not guide.
DEMO_DIR ?= demo
DEMO_N ?= 8000
DEMO_ARCH ?= Conv
DEMO_STEPS ?= 3000
DEMO_ORACLE_EPOCHS ?= 4
DEMO_HIGH ?= 4
DEMO_LOW ?= 0
DEMO_NUM ?= 64
DEMO_GUIDANCE ?= 3
DEMO_CANDIDATES ?= 4
DEMO_DESIGNS ?= 16
DEMO_DATA := $(DEMO_DIR)/deepstarr_synth_n$(DEMO_N).h5
DEMO_ORACLE := $(DEMO_DATA:.h5=.oracle.ckpt)
DEMO_JUDGE := $(DEMO_DATA:.h5=.judge.oracle.ckpt)
demo: install
	$(BIN)/d3 plugins list
	@if [ -f $(DEMO_DATA) ]; then echo "demo: using $(DEMO_DATA)"; else \
		$(BIN)/d3 data synth deepstarr --n $(DEMO_N) --seed 0 --out $(DEMO_DATA); fi
	$(BIN)/d3 data info $(DEMO_DATA)
	rm -rf $(DEMO_DIR)/run $(DEMO_DIR)/eval
	$(BIN)/d3 train --dataset deepstarr --arch $(DEMO_ARCH) --preset tiny --data $(DEMO_DATA) \
		--work_dir $(DEMO_DIR)/run --max_steps $(DEMO_STEPS) --batch_size 32 --val_check_interval 500 \
		--accelerator cpu --logger csv --logger tensorboard optim.warmup=50 optim.lr=2e-3
	@if [ -f $(DEMO_ORACLE) ]; then echo "demo: loading the oracle $(DEMO_ORACLE)"; else \
		$(BIN)/d3 oracle train --dataset deepstarr --data $(DEMO_DATA) --max-epochs $(DEMO_ORACLE_EPOCHS) \
			--patience 2 --accelerator cpu; fi
	$(BIN)/d3 sample $(DEMO_DIR)/run/checkpoints/last.ckpt --labels dev=$(DEMO_HIGH),hk=0 \
		--labels dev=$(DEMO_LOW),hk=0 --num $(DEMO_NUM) --steps 32 --seed 0 -o $(DEMO_DIR)/samples.npz --force
	$(BIN)/d3 evaluate $(DEMO_DIR)/samples.npz --out $(DEMO_DIR)/eval > $(DEMO_DIR)/eval.log; \
		status=$$?; cat $(DEMO_DIR)/eval.log; exit $$status
	$(BIN)/d3 sample $(DEMO_DIR)/run/checkpoints/last.ckpt --labels dev=$(DEMO_HIGH),hk=0 \
		--labels dev=$(DEMO_LOW),hk=0 --num $(DEMO_NUM) --steps 32 --seed 0 --guidance $(DEMO_GUIDANCE) \
		-o $(DEMO_DIR)/samples_guided.npz --force
	$(BIN)/d3 evaluate $(DEMO_DIR)/samples_guided.npz --no-discriminator --out $(DEMO_DIR)/eval_guided \
		> $(DEMO_DIR)/eval_guided.log; status=$$?; cat $(DEMO_DIR)/eval_guided.log; exit $$status
	@if [ -f $(DEMO_JUDGE) ]; then echo "demo: loading the judge oracle $(DEMO_JUDGE)"; else \
		$(BIN)/d3 oracle train --dataset deepstarr --data $(DEMO_DATA) --max-epochs $(DEMO_ORACLE_EPOCHS) \
			--patience 2 --accelerator cpu --seed 7 --train-fraction 0.5 -o $(DEMO_JUDGE); fi
	$(BIN)/d3 design $(DEMO_DIR)/run/checkpoints/last.ckpt --oracle $(DEMO_ORACLE) --judge $(DEMO_JUDGE) \
		--objective "dev - hk" --labels dev=$(DEMO_HIGH),hk=0 --num $(DEMO_DESIGNS) --candidates $(DEMO_CANDIDATES) \
		--steps 32 --seed 0 --report $(DEMO_DIR)/design -o $(DEMO_DIR)/designs.fasta --force --no-progress \
		> $(DEMO_DIR)/design.log; status=$$?; cat $(DEMO_DIR)/design.log; exit $$status
	@echo "demo: checkpoint   $(DEMO_DIR)/run/checkpoints/last.ckpt"
	@echo "demo: metrics      $(DEMO_DIR)/run/csv/metrics.csv (TensorBoard: $(BIN)/tensorboard --logdir $(DEMO_DIR)/run)"
	@echo "demo: config       $(DEMO_DIR)/run/config.yaml"
	@echo "demo: reports      $(DEMO_DIR)/eval/report.md (guidance 1), $(DEMO_DIR)/eval_guided/report.md (guidance $(DEMO_GUIDANCE))"
	@echo "demo: guidance 1 (plain conditional sampling):$$(sed -n 's/^d3: measured effect of conditioning[^:]*://p' $(DEMO_DIR)/eval.log)"
	@echo "demo: guidance $(DEMO_GUIDANCE) (classifier-free, --guidance $(DEMO_GUIDANCE)):$$(sed -n 's/^d3: measured effect of conditioning[^:]*://p' $(DEMO_DIR)/eval_guided.log)"
	@echo "demo: designs      $(DEMO_DIR)/designs.fasta, report $(DEMO_DIR)/design/report.md"
	@echo "demo: guided design (d3 design, svdd, $(DEMO_CANDIDATES) candidates per step), gain$$(sed -n 's/^d3: measured gain//p' $(DEMO_DIR)/design.log)"

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info
