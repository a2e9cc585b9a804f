"""Sampling: speed per step (beside the original D3 code), share of a step outside the network, and what the number of
steps and the guidance strength do to the designs.

Usage:
    python benchmarks/sampling.py speed [--original PATH] [--rounds 7] [--threads N]
    python benchmarks/sampling.py quality [--work DIR]
    python benchmarks/sampling.py            # both (speed without the original unless --original is given)

Results go to ``benchmarks/results/sampling.json`` (each part replaces its own section); ``quality`` also writes the
plot ``docs/images/guidance.png``.

speed -- Tran ``tiny`` (64/2/4, batch 32) and ``paper`` (768/12/12, batch 8) at L = 249, two DeepSTARR labels, the
    analytic predictor, fp32 on the CPU, random weights. ``d3`` is the code path of ``d3 sample``
    (:func:`d3core.generation.generate`: counter-based noise, chunking); a step is (S predictor steps + the final
    denoising step) / (S + 1), i.e. per network call. ``network_share`` is the share of that time inside the
    network's forward (forward hooks). With ``--original PATH`` (a checkout of anirbansarkar-cs/D3-DNA-Discrete-
    Diffusion; its ``einops`` and ``omegaconf`` importable), the original ``sampling.get_pc_sampler`` runs the same
    configuration on the same weights, with flash-attn replaced by softmax attention (``F.scaled_dot_product_attention``,
    the kernel d3 uses; ``--attention matmul`` for an explicit ``softmax(q k^T / sqrt(d)) v``). The two are
    interleaved, in alternating order, ``--rounds`` times; the ratio is the median of the per-round ratios.

quality -- (1) a planted-motif DeepSTARR-layout dataset (``d3 data synth deepstarr``), Conv ``tiny`` trained with the
    default label dropout (the ``make demo`` model; reused from ``demo/`` when it is there, else trained into
    ``--work``), and the DeepSTARR oracle trained beside the data. For steps in 16, 32, 64, 128 and L (= 249): the
    4-mer Jensen-Shannon distance of the designs to the test split, and the true (planted-motif) ``dev`` activity of
    designs requested at dev = 4 minus that of dev = 0 (hk = 0 for both), the "motif difference". For guidance
    G in 0, 1, 2, 4 at L steps: the mean oracle-predicted and true activities of both requests, and the 4-mer distance.
    (2) the ``two-motifs`` data of the conditioning test (a strong signal): AP-1 sites per design against G.
    ``--reuse-quality`` redraws the plot and adds (2) to an earlier run's (1).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "sampling.json"
PLOT = ROOT / "docs" / "images" / "guidance.png"
LENGTH, NUM_LABELS = 249, 2
SIZES = {"tiny": {"batch": 32, "steps": 8}, "paper": {"batch": 8, "steps": 2}}

_FLASH_STUB = '''"""flash-attn's varlen packed attention for equal lengths, as softmax attention (d3 benchmarks/sampling.py)."""
import math, os
import torch
import torch.nn.functional as F

def flash_attn_varlen_qkvpacked_func(qkv, cu_seqlens, max_seqlen, dropout_p=0.0, causal=False):
    n, _, h, d = qkv.shape
    q, k, v = (t.transpose(1, 2) for t in qkv.view(n // max_seqlen, max_seqlen, 3, h, d).unbind(dim=2))
    if os.environ.get("D3_BENCH_ATTENTION") == "matmul":
        out = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1) @ v
    else:
        out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(n, h, d)
'''


# ----------------------------------------------------------------------------------------------------------- speed
def _d3_model(preset: str):
    from d3_arch_tran.model import TranArchitecture

    model = TranArchitecture.build({"num_labels": NUM_LABELS, "length": LENGTH}, preset=preset).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.02 * torch.randn(parameter.shape, generator=generator))
    return model


def _original(checkout: Path, preset: str, d3_model):
    """The original SEDD (transformer path) with d3's weights, its graph, noise and sampling module."""
    stub = Path(tempfile.mkdtemp(prefix="d3-flash-stub-"))
    (stub / "flash_attn").mkdir()
    (stub / "flash_attn" / "__init__.py").write_text("")
    (stub / "flash_attn" / "flash_attn_interface.py").write_text(_FLASH_STUB)
    sys.path[:0] = [str(stub), str(checkout / "train_n_sample")]
    import graph_lib
    import noise_lib
    import sampling as original_sampling
    from model import SEDD
    from omegaconf import OmegaConf

    from d3_arch_tran.model import TranArchitecture

    sizes = TranArchitecture.preset(preset)
    config = OmegaConf.create({"tokens": 4, "graph": {"type": "uniform"},
                               "model": {**{k: sizes[k] for k in ("hidden_size", "n_blocks", "n_heads", "cond_dim",
                                                                  "dropout")}, "length": LENGTH,
                                         "scale_by_sigma": False}})
    with contextlib.redirect_stderr(open(os.devnull, "w")):
        model = SEDD(config).eval()
    missing, unexpected = model.load_state_dict(d3_model.state_dict(), strict=False)
    assert not unexpected, unexpected
    dead = ("scale", "label_embed.", "embed.", "linear.", "conv_blocks.", "denses.", "norms.", "final.", "label_emb.")
    assert all(key.startswith(dead) for key in missing), missing
    return model, graph_lib.Uniform(4), noise_lib.GeometricNoise(1e-4, 20.0), original_sampling


class NetworkClock:
    """Wall time spent inside ``module``'s forward (forward pre/post hooks)."""

    def __init__(self, module):
        self.seconds = 0.0
        self._start = 0.0
        module.register_forward_pre_hook(lambda *_: setattr(self, "_start", time.perf_counter()))
        module.register_forward_hook(lambda *_: setattr(self, "seconds", self.seconds + time.perf_counter()
                                                        - self._start))


def _timed(run, clock: NetworkClock, timer=time.perf_counter) -> tuple[float, float]:
    """``(seconds by timer, share of the wall time inside the network)`` of one ``run()``."""
    clock.seconds = 0.0
    start, wall = timer(), time.perf_counter()
    run()
    total, wall = timer() - start, time.perf_counter() - wall
    return total, clock.seconds / wall


def _runs(args, preset: str, codes: list[str]) -> tuple[dict, dict, float | None]:
    """``(runs, network clocks, max output difference)`` of the requested codes on one preset, same weights."""
    from d3core.diffusion import GeometricNoise, UniformGraph
    from d3core.generation import generate

    batch, steps = SIZES[preset]["batch"], SIZES[preset]["steps"]
    graph, noise = UniformGraph(4), GeometricNoise(1e-4, 20.0)
    model = _d3_model(preset)
    labels = torch.randn(batch, NUM_LABELS, generator=torch.Generator().manual_seed(1))
    runs, clocks, difference = {}, {}, None
    if "d3" in codes:
        runs["d3"] = lambda: generate(model, graph, noise, length=LENGTH, num=batch, labels=labels, steps=steps,
                                      batch_size=batch, seed=0)
        clocks["d3"] = NetworkClock(model)
    if "original" in codes:
        original, o_graph, o_noise, o_sampling = _original(Path(args.original), preset, model)
        sampler = o_sampling.get_pc_sampler(o_graph, o_noise, (batch, LENGTH), "analytic", steps,
                                            device=torch.device("cpu"))
        runs["original"] = lambda: sampler(original, labels)
        clocks["original"] = NetworkClock(original)
        with torch.no_grad():  # same weights, same function (up to float rounding)
            x, sigma = torch.randint(0, 4, (2, LENGTH)), torch.tensor([0.5, 3.0])
            difference = float((original(x, labels[:2], False, sigma).float() - model(x, labels[:2], sigma))
                               .abs().max())
    return runs, clocks, difference


def _setup(args) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ["D3_BENCH_ATTENTION"] = args.attention


def worker(args) -> None:
    """One code in its own process (as users run it): warm up, time ``--repeat`` runs, print JSON."""
    _setup(args)
    if args.code == "d3" and not args.no_malloc_tuning:
        from d3core.generation.allocator import keep_freed_memory

        keep_freed_memory()  # what d3 sample does first
    runs, clocks, difference = _runs(args, args.preset, [args.code])
    run, clock = runs[args.code], clocks[args.code]
    run()
    timer = time.process_time if args.clock == "cpu" else time.perf_counter
    steps = SIZES[args.preset]["steps"]
    measured = [_timed(run, clock, timer) for _ in range(args.repeat)]
    print(json.dumps({"step_s": [t / (steps + 1) for t, _ in measured], "share": [s for _, s in measured],
                      "difference": difference}))


def _in_worker(args, name: str, preset: str) -> dict:
    command = [sys.executable, __file__, "_worker", "--code", name, "--preset", preset, "--repeat", "1",
               "--attention", args.attention, "--clock", args.clock]
    command += ["--original", args.original] if args.original else []
    command += ["--threads", str(args.threads)] if args.threads else []
    command += ["--no-malloc-tuning"] if args.no_malloc_tuning else []
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed(args) -> dict:
    """Per-step times of d3 and (with ``--original``) the original, interleaved; each run in its own process, as
    users run them (``--same-process``: both in this process, without d3's allocator setting: the code alone)."""
    _setup(args)
    codes = ["d3", "original"] if args.original else ["d3"]
    timer = time.process_time if args.clock == "cpu" else time.perf_counter
    records = []
    for preset in args.sizes:
        batch, steps = SIZES[preset]["batch"], SIZES[preset]["steps"]
        rounds = args.rounds if preset == "tiny" else max(2, args.rounds // 3)
        per_step = {name: [] for name in codes}
        share = {name: [] for name in codes}
        difference = None
        if args.same_process:
            runs, clocks, difference = _runs(args, preset, codes)
            for run in runs.values():  # warm-up
                run()
        for r in range(rounds):
            for name in (codes if r % 2 == 0 else codes[::-1]):
                if args.same_process:
                    total, inside = _timed(runs[name], clocks[name], timer)
                    result = {"step_s": [total / (steps + 1)], "share": [inside], "difference": None}
                else:
                    result = _in_worker(args, name, preset)
                    difference = result["difference"] if result["difference"] is not None else difference
                per_step[name] += result["step_s"]
                share[name] += result["share"]
        record = {"preset": preset, "batch": batch, "steps_timed": steps, "rounds": rounds,
                  "parameters": sum(p.numel() for p in _d3_model(preset).parameters())}
        for name in codes:
            median, inside = statistics.median(per_step[name]), statistics.median(share[name])
            record[name] = {"step_s": [round(v, 5) for v in per_step[name]], "step_s_median": round(median, 5),
                            "network_share_median": round(inside, 4),
                            "outside_network_ms_median": round(1000 * median * (1 - inside), 3),
                            "sequences_per_s_at_L_steps": round(batch / (median * (LENGTH + 1)), 3)}
        if args.original:
            ratios = [d / o for d, o in zip(per_step["d3"], per_step["original"])]
            record["ratio_d3_over_original"] = {"median": round(statistics.median(ratios), 3),
                                                "min": round(min(ratios), 3), "max": round(max(ratios), 3),
                                                "of_minimum_times": round(min(per_step["d3"]) /
                                                                          min(per_step["original"]), 3)}
            record["max_abs_output_difference"] = difference
        print(json.dumps(record), flush=True)
        records.append(record)
    return {"setting": {"length": LENGTH, "num_labels": NUM_LABELS, "predictor": "analytic", "dtype": "float32",
                        "device": "cpu", "torch_threads": args.threads or torch.get_num_threads(),
                        "clock": args.clock, "processes": "same" if args.same_process else "one per run",
                        "d3_malloc_tuning": not (args.same_process or args.no_malloc_tuning),
                        "original_attention": args.attention if args.original else None,
                        "original_checkout": _checkout_commit(args.original)},
            "definitions": {
                "step_s": "time of (steps_timed predictor steps + the final denoising step) / (steps_timed + 1), "
                          "one network call each, one value per round",
                "network_share_median": "share of the step's wall time inside the network's forward",
                "outside_network_ms_median": "the rest of a step: time grid, noise schedule, predictor weights, "
                                             "random numbers, draw",
                "sequences_per_s_at_L_steps": "batch / (249 + 1) steps at the median step time",
                "ratio_d3_over_original": "per-round ratio of the step times; rounds interleaved in alternating "
                                          "order",
            },
            "machine": _machine(), "results": records}


def _checkout_commit(path) -> str | None:
    if not path:
        return None
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _machine() -> dict:
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version(), "load_average_1min": round(os.getloadavg()[0], 2)}


# --------------------------------------------------------------------------------------------------------- quality
def _d3(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).with_name("d3")), *map(str, args)], check=True)


def _prepared(work: Path) -> tuple[Path, Path, Path]:
    """(checkpoint, data, oracle): the demo's when ``make demo`` ran, else trained into ``work`` the demo's way."""
    demo = ROOT / "demo"
    data = demo / "deepstarr_synth_n8000.h5"
    if (demo / "run" / "checkpoints" / "last.ckpt").is_file() and data.with_suffix(".oracle.ckpt").is_file():
        return demo / "run" / "checkpoints" / "last.ckpt", data, data.with_suffix(".oracle.ckpt")
    work.mkdir(parents=True, exist_ok=True)
    data = work / "deepstarr_synth_n8000.h5"
    if not data.is_file():
        _d3("data", "synth", "deepstarr", "--n", "8000", "--seed", "0", "--out", data)
    checkpoint = work / "run" / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        _d3("train", "--dataset", "deepstarr", "--arch", "Conv", "--preset", "tiny", "--data", data, "--work_dir",
            work / "run", "--max_steps", "3000", "--batch_size", "32", "--val_check_interval", "500",
            "--accelerator", "cpu", "--logger", "csv", "optim.warmup=50", "optim.lr=2e-3")
    oracle = data.with_suffix(".oracle.ckpt")
    if not oracle.is_file():
        _d3("oracle", "train", "--dataset", "deepstarr", "--data", data, "--max-epochs", "4", "--patience", "2",
            "--accelerator", "cpu")
    return checkpoint, data, oracle


def quality(args, previous: dict | None = None) -> dict:
    if args.reuse_quality and previous:  # keep part (1), redo (2) and the plot
        two_motifs = two_motif_guidance(Path(args.work), args.num // 2)
        real = previous["real_test_split"]
        _plot(previous["by_guidance"], real["oracle_dev_mean"], real["true_dev_mean"], two_motifs)
        return {**previous, "two_motif_guidance": two_motifs}
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.data.synth import effect_matrix
    from d3core.evaluation.metrics import js_distance_base2, kmer_spectrum, motif_counts
    from d3core.evaluation.oracle import load_oracle
    from d3core.generation import SamplingModel

    checkpoint, data, oracle_path = _prepared(Path(args.work))
    dataset = DeepSTARR()
    reference = dataset.open_split(data, "test")
    real = reference.read_batch(list(range(len(reference))))[0].numpy()
    real_spectrum = kmer_spectrum(real, 4)
    effects = effect_matrix(dataset.motifs, dataset.label_names)
    baseline = np.array([dataset.synth_baseline.get(name, 0.0) for name in dataset.label_names])

    def true_activity(tokens):
        counts = np.stack([motif_counts(tokens, m.consensus) for m in dataset.motifs], axis=1)
        return baseline + counts @ effects                                       # [N, C]

    sm = SamplingModel.load(checkpoint, "cpu")
    oracle = load_oracle(oracle_path)
    rows = sm.parse_labels(["dev=4,hk=0", "dev=0,hk=0"])
    num = args.num

    def measure(**options) -> dict:
        start = time.perf_counter()
        tokens = sm.sample(rows, num=num, seed=0, **options).tokens
        seconds = time.perf_counter() - start
        high, low = tokens[:num], tokens[num:]
        predicted = oracle.predict(tokens)
        true = true_activity(tokens)
        return {"kmer4_js_distance_to_test": round(js_distance_base2(kmer_spectrum(tokens, 4), real_spectrum), 4),
                "true_dev_difference": round(float(true[:num, 0].mean() - true[num:, 0].mean()), 3),
                "predicted_dev_difference": round(float(predicted[:num, 0].mean() - predicted[num:, 0].mean()), 3),
                "ap1_count_difference": round(float(motif_counts(high, "TGASTCA").mean()
                                                    - motif_counts(low, "TGASTCA").mean()), 3),
                "requested": {label: {"predicted_mean": [round(float(v), 3) for v in predicted[part].mean(axis=0)],
                                      "true_mean": [round(float(v), 3) for v in true[part].mean(axis=0)]}
                              for label, part in (("dev=4,hk=0", slice(0, num)), ("dev=0,hk=0", slice(num, None)))},
                "seconds": round(seconds, 1)}

    by_steps = []
    for steps in (16, 32, 64, 128, LENGTH):
        record = {"steps": steps, **measure(steps=steps)}
        print(json.dumps(record), flush=True)
        by_steps.append(record)
    by_guidance = []
    for guidance in (0.0, 1.0, 2.0, 4.0):
        record = {"guidance": guidance, **measure(guidance=guidance)}
        print(json.dumps(record), flush=True)
        by_guidance.append(record)
    real_true = true_activity(real)
    two_motifs = two_motif_guidance(Path(args.work), num // 2)
    _plot(by_guidance, float(oracle.predict(real)[:, 0].mean()), float(real_true[:, 0].mean()), two_motifs)
    return {"setting": {"checkpoint": str(checkpoint.relative_to(ROOT) if checkpoint.is_relative_to(ROOT)
                                          else checkpoint), "data": "d3 data synth deepstarr --n 8000 --seed 0",
                        "model": "Conv tiny, 3000 steps, batch 32, label dropout 0.1 (make demo)",
                        "oracle": "d3 oracle train (DeepSTARR oracle, 4 epochs)", "requests": ["dev=4,hk=0",
                                                                                               "dev=0,hk=0"],
                        "sequences_per_request": num, "seed": 0, "predictor": "analytic"},
            "definitions": {
                "kmer4_js_distance_to_test": "Jensen-Shannon distance of the pooled 4-mer spectrum of all designs to "
                                             "the test split's (0 = identical)",
                "true_dev_difference": "mean planted-motif dev activity (synth formula without noise, from motif "
                                       "counts) of the dev=4 designs minus the dev=0 designs",
                "predicted_dev_difference": "the same with the oracle's predictions",
                "ap1_count_difference": "AP-1 sites per sequence, dev=4 minus dev=0 designs",
            },
            "real_test_split": {"oracle_dev_mean": round(float(oracle.predict(real)[:, 0].mean()), 3),
                                "true_dev_mean": round(float(real_true[:, 0].mean()), 3),
                                "true_dev_p90": round(float(np.percentile(real_true[:, 0], 90)), 3)},
            "by_steps": by_steps, "by_guidance": by_guidance, "two_motif_guidance": two_motifs,
            "plot": str(PLOT.relative_to(ROOT)),
            "machine": _machine()}


def two_motif_guidance(work: Path, num: int) -> dict:
    """Guidance where the signal is strong and the truth is a count: ``two-motifs`` (100 bp; AP-1 -> dev, Dref -> hk),
    Conv tiny trained 400 steps with label dropout 0.1 (the conditioning test's model); AP-1 sites per design."""
    from click.testing import CliRunner

    from d3core.api import hookimpl
    from d3core.cli import make_cli
    from d3core.evaluation.metrics import motif_counts
    from d3core.generation import SamplingModel
    from d3core.plugins import make_plugin_manager

    class TwoMotifs:
        @staticmethod
        @hookimpl
        def register_datasets(register):
            register("two-motifs", "d3core.testing.components:TwoMotifDataset", length=100)

    manager = make_plugin_manager()
    manager.register(TwoMotifs, "benchmark-two-motifs", version="0")

    def d3(*args):
        result = CliRunner().invoke(make_cli(manager), [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    work = work / "two-motifs"
    work.mkdir(parents=True, exist_ok=True)
    data, checkpoint = work / "motifs.h5", work / "run" / "checkpoints" / "last.ckpt"
    if not data.is_file():
        d3("data", "synth", "two-motifs", "--n", "2000", "--seed", "0", "-o", data)
    if not checkpoint.is_file():
        d3("train", "--dataset", "two-motifs", "--arch", "Conv", "--preset", "tiny", "--data", data, "--work_dir",
           work / "run", "--max_steps", "400", "--batch_size", "32", "--val_check_interval", "400", "--accelerator",
           "cpu", "--logger", "csv", "optim.lr=2e-3", "optim.warmup=20", "eval.batch_size=200")
    sm = SamplingModel.load(checkpoint, "cpu", manager=manager)
    rows = sm.parse_labels(["dev=2,hk=0", "dev=0,hk=0"])
    records = []
    for guidance in (0.0, 1.0, 2.0, 4.0):
        tokens = sm.sample(rows, num=num, seed=0, steps=32, guidance=guidance).tokens
        ap1 = [float(motif_counts(part, "TGASTCA").mean()) for part in (tokens[:num], tokens[num:])]
        records.append({"guidance": guidance, "ap1_per_design": {"dev=2,hk=0": round(ap1[0], 3),
                                                                 "dev=0,hk=0": round(ap1[1], 3)}})
        print(json.dumps(records[-1]), flush=True)
    return {"setting": "two-motifs (d3core.testing.components.TwoMotifDataset), d3 data synth --n 2000; Conv tiny, "
                       "400 steps, batch 32, label dropout 0.1; 32 steps, seed 0", "designs_per_request": num,
            "training_data_ap1_per_sequence": "about 0.9 (rate 1, capped by the slots)", "by_guidance": records}


def _plot(by_guidance: list[dict], real_predicted: float, real_true: float, two_motifs: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = [r["guidance"] for r in by_guidance]
    fig, (ax, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    for label, colour in (("dev=2,hk=0", "tab:red"), ("dev=0,hk=0", "tab:blue")):
        right.plot([r["guidance"] for r in two_motifs["by_guidance"]],
                   [r["ap1_per_design"][label] for r in two_motifs["by_guidance"]], "o-", color=colour,
                   label=f"requested {label}")
    right.set_xlabel("guidance strength G (--guidance)")
    right.set_ylabel("AP-1 sites per design (the dev motif)")
    right.set_xticks(g)
    right.legend(fontsize=7)
    right.set_title("two-motif data (strong signal, truth = motif count)", fontsize=9)
    for label, colour in (("dev=4,hk=0", "tab:red"), ("dev=0,hk=0", "tab:blue")):
        ax.plot(g, [r["requested"][label]["predicted_mean"][0] for r in by_guidance], "o-", color=colour,
                label=f"requested {label}: oracle")
        ax.plot(g, [r["requested"][label]["true_mean"][0] for r in by_guidance], "s--", color=colour, alpha=0.6,
                label=f"requested {label}: true (motifs)")
    ax.axhline(real_predicted, color="grey", lw=0.8, ls=":", label="real test sequences (oracle)")
    ax.set_xlabel("guidance strength G (--guidance)")
    ax.set_ylabel("mean dev activity of the designs")
    ax.set_xticks(g)
    ax.legend(fontsize=7)
    ax.set_title("planted-motif DeepSTARR data (the make demo model)", fontsize=9)
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["speed", "quality", "all", "_worker"], default="all")
    parser.add_argument("--code", choices=["d3", "original"], help=argparse.SUPPRESS)
    parser.add_argument("--preset", choices=list(SIZES), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--same-process", action="store_true",
                        help="speed: time both codes in this process (the code alone: no allocator setting)")
    parser.add_argument("--no-malloc-tuning", action="store_true",
                        help="speed: d3 without the allocator setting of d3 sample (D3_MALLOC_TUNING=0)")
    parser.add_argument("--original", default=os.environ.get("D3_ORIGINAL_CHECKOUT"),
                        help="a checkout of the original D3 code to time side by side")
    parser.add_argument("--attention", choices=["sdpa", "matmul"], default="sdpa",
                        help="the original's flash-attn replacement (default: SDPA, the kernel d3 uses)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time (default), or process CPU time (with --threads 1: robust to other load)")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--num", type=int, default=128, help="quality: designs per request")
    parser.add_argument("--reuse-quality", action="store_true",
                        help="quality: keep the DeepSTARR part of the results file, redo the two-motif part and plot")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "d3-bench-sampling"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.part == "_worker":
        worker(args)
        return
    result = json.loads(args.out.read_text()) if args.out.is_file() else {"benchmark": "sampling"}
    if args.part in ("speed", "all"):
        key = "speed_vs_original" if args.original else "speed"
        key += "_same_process" if args.same_process else ""
        key += "_no_malloc_tuning" if args.no_malloc_tuning else ""
        if args.threads:
            key += f"_{args.threads}_thread{'s' if args.threads > 1 else ''}"
        if args.clock == "cpu":
            key += "_cpu_time"
        result[key] = speed(args)
    if args.part in ("quality", "all"):
        result["quality"] = quality(args, result.get("quality"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
