"""``d3 score``: precision of the likelihood estimate against the exact answer, and its cost, on the CPU.

Precision: sequences of 249 bp whose positions are i.i.d. (A, C, G, T with probabilities 0.35, 0.15, 0.15, 0.35)
under the exact score of that distribution, whose bound is the exact ``-sum log p(x_i)`` (up to the 0.1 % of the
t range); for K = 4, 16, 64 draws, with and without the control variate: the root-mean-square error over 200
sequences, the mean reported standard error (calibration: it should match the RMS error) and the bias.

Cost: seconds per (sequence, draw) network row for Conv and Tran (``tiny`` and ``paper`` presets, random weights:
speed only), batch 256, fp32, this machine's CPU threads. Scoring N sequences with K draws costs N x K rows; a
mutation scan of a 249 bp sequence (3L + 1) x K.

Usage: python benchmarks/scoring.py [--out benchmarks/results/scoring.json] [--skip-paper]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PROBS = np.array([0.35, 0.15, 0.15, 0.35])
LENGTH = 249


class ExactIid(torch.nn.Module):
    """Exact log-ratios of i.i.d. positions with distribution ``probs`` (uniform graph)."""

    def __init__(self, probs):
        super().__init__()
        self.register_buffer("probs", torch.as_tensor(probs, dtype=torch.float64))

    def forward(self, tokens, labels, sigma):
        decay = torch.exp(-sigma.double())[:, None]
        log_marginal = (decay * self.probs + (1 - decay) / 4).log()[:, None, :].expand(*tokens.shape, -1)
        return (log_marginal - torch.gather(log_marginal, -1, tokens[..., None])).float()


def precision() -> list[dict]:
    from d3core.diffusion import GeometricNoise, UniformGraph
    from d3core.scoring.estimator import bound_draws
    from d3core.scoring.stats import stratified_mean_stderr

    tokens = np.random.default_rng(0).choice(4, size=(200, LENGTH), p=PROBS)
    exact = -np.log(PROBS)[tokens].sum(axis=1)
    graph, noise, network = UniformGraph(4), GeometricNoise(1e-4, 20.0), ExactIid(PROBS)
    rows = []
    for samples in (4, 16, 64):
        for control_variate in (False, True):
            draws, _ = bound_draws(network, graph, noise, torch.from_numpy(tokens), None, samples=samples, seed=0,
                                   control_variate=control_variate)
            mean, stderr = stratified_mean_stderr(draws)
            rows.append({"samples": samples, "control_variate": control_variate,
                         "exact_nats_mean": round(float(exact.mean()), 3),
                         "rms_error_nats": round(float(np.sqrt(((mean - exact) ** 2).mean())), 3),
                         "mean_reported_stderr_nats": round(float(stderr.mean()), 3),
                         "bias_nats": round(float((mean - exact).mean()), 3)})
            print(rows[-1], flush=True)
    return rows


def speed(skip_paper: bool) -> list[dict]:
    from d3core.diffusion import GeometricNoise, UniformGraph
    from d3core.plugins import make_plugin_manager
    from d3core.scoring.estimator import bound_draws

    manager = make_plugin_manager(env={"D3_STRICT_PLUGINS": "1"})
    rows = []
    for arch in ("Conv", "Tran"):
        for preset in ("tiny", "paper"):
            if preset == "paper" and skip_paper:
                continue
            torch.manual_seed(0)
            network = manager.architecture(arch).build({"num_labels": 2, "length": LENGTH, "label_mode": "global",
                                                        "tokens": 4}, preset=preset).eval()
            n, samples = (64, 16) if preset == "tiny" else (8, 16)
            tokens = torch.randint(0, 4, (n, LENGTH))
            labels = torch.zeros(n, 2)
            bound_draws(network, UniformGraph(4), GeometricNoise(1e-4, 20.0), tokens[:2], labels[:2], samples=2)
            started = time.perf_counter()
            bound_draws(network, UniformGraph(4), GeometricNoise(1e-4, 20.0), tokens, labels, samples=samples)
            seconds = time.perf_counter() - started
            rows.append({"arch": arch, "preset": preset, "length": LENGTH, "rows": n * samples,
                         "seconds": round(seconds, 3), "ms_per_row": round(1000 * seconds / (n * samples), 3),
                         "mutation_scan_seconds_k16": round(seconds / (n * samples) * (3 * LENGTH + 1) * 16, 1)})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scoring.json")
    parser.add_argument("--skip-paper", action="store_true")
    args = parser.parse_args()
    result = {"benchmark": "scoring", "machine": platform.processor() or platform.machine(),
              "torch_threads": torch.get_num_threads(), "precision": precision(), "speed": speed(args.skip_paper)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
