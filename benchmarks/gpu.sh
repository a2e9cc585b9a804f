#!/usr/bin/env bash
# GPU benchmarks in one short run (a few minutes): (1) benchmarks/training_speed.py on CUDA -- d3 train's step
# time, FLOP/s and model FLOP utilisation (MFU) against the GPU's dense bf16 peak, Tran tiny and paper (--archs Tran,Conv adds Conv),
# eager and torch.compile'd, bf16-mixed, SDPA flash attention -> benchmarks/results/training_speed_gpu.json;
# (2) benchmarks/gpu_bench.py: Tran paper bare-loop training steps/s and sampling throughput -> results/gpu.json.
# Needs a CUDA GPU and `make install` done (on the GPU machine: `make install` installs the CPU torch pin; pass
# TORCH=... for a CUDA build if needed). Extra arguments go to training_speed.py (e.g. --cases paper --rounds 1).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print(torch.cuda.get_device_name(0))"
"$PY" benchmarks/training_speed.py --device cuda --precision bf16-mixed --rounds 1 --timed 10 --archs Tran \
    --out benchmarks/results/training_speed_gpu.json "$@"
"$PY" benchmarks/gpu_bench.py --device cuda --preset paper --precision bf16-mixed --batch 64 --steps 30
