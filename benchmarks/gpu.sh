#!/usr/bin/env bash
# GPU benchmark in one short run: Tran `paper` training steps/s in bf16-mixed with SDPA flash attention, with and
# without torch.compile, and sampling throughput (128 steps). Needs a CUDA GPU and `make install` done
# (on the GPU machine: `make install` installs the CPU torch pin; pass TORCH=... for a CUDA build if needed).
# Output: benchmarks/results/gpu.json
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print(torch.cuda.get_device_name(0))"
"$PY" benchmarks/gpu_bench.py --device cuda --preset paper --precision bf16-mixed --batch 64 --steps 30 "$@"
