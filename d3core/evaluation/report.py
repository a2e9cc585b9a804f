"""``evaluate_samples``: every metric of ``docs/evaluation.md`` for one sample set, ``metrics.json``, ``report.md``
and PNG plots in one output folder.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import d3core
from d3core.errors import D3UserError
from d3core.evaluation import metrics as M

METRICS_VERSION = 1
DEFAULT_KMER_KS = (3, 4, 5, 6)
#: which direction is better, for the report table: exact names, then name prefixes
DIRECTIONS = {
    "sp_mse": "lower", "requested_mse": "lower", "ks_mean": "lower", "js_kmer_mean": "lower",
    "auroc": "closer to 0.5", "nn_identity_mean": "lower (compare with the reference's)",
    "nn_identity_max": "lower (compare with the reference's)", "gc_abs_diff": "lower", "gc_ks": "lower",
}
PREFIX_DIRECTIONS = {"requested_pearson_": "higher", "ks_": "lower", "js_kmer_k": "lower"}
MAX_GROUPS = 12


def direction_of(name: str) -> str:
    if name in DIRECTIONS:
        return DIRECTIONS[name]
    return next((d for prefix, d in PREFIX_DIRECTIONS.items() if name.startswith(prefix)), "")


def _finite(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def conditioning_groups(requested: np.ndarray, predicted: np.ndarray, names: Sequence[str]) -> list[dict]:
    """Per distinct requested label row (at most :data:`MAX_GROUPS`): n, requested values, mean/s.d. predicted."""
    rows, inverse = np.unique(requested, axis=0, return_inverse=True)
    if len(rows) > MAX_GROUPS:
        return []
    groups = []
    for g, row in enumerate(rows):
        mask = inverse.ravel() == g
        groups.append({"n": int(mask.sum()),
                       "requested": {n: float(v) for n, v in zip(names, row)},
                       "predicted_mean": {n: float(v) for n, v in zip(names, predicted[mask].mean(axis=0))},
                       "predicted_sd": {n: float(v) for n, v in zip(names, predicted[mask].std(axis=0))}})
    return groups


def evaluate_samples(samples, dataset, data_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                     reference: str = "test", oracle=None, kmer_ks: Sequence[int] = DEFAULT_KMER_KS,
                     discriminator: bool = True, identity_rows: int | None = 20000, seed: int = 0,
                     device: str = "cpu", samples_path: str | None = None, plots: bool = True,
                     echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate a :class:`~d3core.generation.io.SampleSet` against ``reference`` split of the dataset file.

    Returns the ``metrics.json`` content (``metrics`` flat name -> value, ``groups``, ``inputs``, ``plots``).
    """
    from d3core.evaluation.discriminator import discriminability_auroc
    from d3core.evaluation.oracle import check_label_names

    say = echo or (lambda text: None)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data_path = dataset.require(data_path)
    ref_split = dataset.open_split(data_path, reference)
    ref_tokens, ref_labels = (t.numpy() for t in ref_split.read_batch(np.arange(len(ref_split))))
    ref_tokens = ref_tokens.astype(np.uint8)
    gen = samples.tokens
    if gen.shape[1] != ref_tokens.shape[1]:
        raise D3UserError(f"the samples are {gen.shape[1]} bp but {dataset.name} sequences in {data_path} are "
                          f"{ref_tokens.shape[1]} bp")
    metrics: dict[str, Any] = {"n_generated": len(gen), "n_reference": len(ref_tokens)}
    result: dict[str, Any] = {"metrics_version": METRICS_VERSION, "metrics": metrics, "groups": [], "plots": {},
                              "notes": []}
    rng = np.random.default_rng(seed)

    # -- composition -----------------------------------------------------------------------------------------------
    gc_gen, gc_ref = M.gc_content(gen), M.gc_content(ref_tokens)
    metrics.update(gc_generated=float(gc_gen.mean()), gc_reference=float(gc_ref.mean()),
                   gc_abs_diff=float(abs(gc_gen.mean() - gc_ref.mean())), gc_ks=M.ks_statistic(gc_gen, gc_ref))
    spectra, js = {}, {}
    for k in kmer_ks:
        spectra[k] = (M.kmer_spectrum(ref_tokens, k), M.kmer_spectrum(gen, k))
        js[k] = M.js_distance(*spectra[k])
        metrics[f"js_kmer_k{k}"] = js[k]
    if js:
        metrics["js_kmer_mean"] = float(np.mean(list(js.values())))
    say(f"composition: GC {metrics['gc_generated']:.3f} (real {metrics['gc_reference']:.3f}); k-mer JS "
        + ", ".join(f"k{k} {v:.3f}" for k, v in js.items()))

    # -- memorisation ----------------------------------------------------------------------------------------------
    train = dataset.open_split(data_path, "train")
    train_rows = np.arange(len(train))
    if identity_rows is not None and len(train_rows) > identity_rows:
        train_rows = np.sort(rng.choice(train_rows, size=identity_rows, replace=False))
        result["notes"].append(f"nearest-training identity against {identity_rows} random training rows of "
                               f"{len(train)}")
    train_tokens = np.concatenate([train.read_batch(train_rows[s:s + 65536])[0].numpy()
                                   for s in range(0, len(train_rows), 65536)]).astype(np.uint8)
    nn_gen = M.nearest_identity(gen, train_tokens, device=device)
    nn_ref = M.nearest_identity(ref_tokens, train_tokens, device=device) if reference != "train" else None
    metrics.update(nn_identity_mean=float(nn_gen.mean()), nn_identity_max=float(nn_gen.max()))
    if nn_ref is not None:
        metrics.update(nn_identity_reference_mean=float(nn_ref.mean()),
                       nn_identity_reference_max=float(nn_ref.max()))
    say(f"memorisation: nearest-training identity mean {nn_gen.mean():.3f}, max {nn_gen.max():.3f}"
        + (f" (real {reference}: mean {nn_ref.mean():.3f})" if nn_ref is not None else ""))

    # -- discriminability ------------------------------------------------------------------------------------------
    if discriminator:
        disc = discriminability_auroc(ref_tokens, gen, seed=seed, device=device)
        metrics.update(auroc=disc["auroc"], auroc_n_per_class=disc["n_per_class"])
        say(f"discriminability: AUROC {disc['auroc']:.3f} on {disc['n_per_class']} sequences per class "
            "(0.5 = indistinguishable)")

    # -- oracle ----------------------------------------------------------------------------------------------------
    predicted = requested = None
    if oracle is None:
        result["notes"].append("no oracle: SP-MSE, KS, requested-activity metrics and activity plots skipped (train "
                               f"one with 'd3 oracle train --dataset {dataset.name} --data {data_path}')")
    else:
        check_label_names(oracle, samples.label_names)
        predicted = oracle.predict(gen)
        ref_predicted = oracle.predict(ref_tokens)
        for c, name in enumerate(oracle.label_names):
            metrics[f"ks_{name}"] = M.ks_statistic(predicted[:, c], ref_predicted[:, c])
        metrics["ks_mean"] = float(np.mean([metrics[f"ks_{n}"] for n in oracle.label_names]))
        rows = samples.rows
        paired = rows is not None and (rows >= 0).all() and samples.reference_split == reference \
            and rows.max() < len(ref_tokens)
        if paired:
            metrics["sp_mse"] = float(np.mean((predicted - ref_predicted[rows]) ** 2))
        elif rows is not None and (rows >= 0).any():
            result["notes"].append(f"SP-MSE skipped: the samples were drawn for {samples.reference_split} rows, "
                                   f"the reference is {reference}")
        else:
            result["notes"].append("SP-MSE skipped: the samples were not drawn for reference rows (sample with "
                                   f"--labels-from {reference} for the paired metric)")
        if samples.labels is not None:
            requested = samples.labels
            metrics["requested_mse"] = float(np.mean((predicted - requested) ** 2))
            r = M.pearson(requested, predicted)
            for c, name in enumerate(oracle.label_names):
                metrics[f"requested_pearson_{name}"] = float(r[c])
            result["groups"] = conditioning_groups(requested, predicted, oracle.label_names)
        metrics.update({f"predicted_mean_{n}": float(predicted[:, c].mean())
                        for c, n in enumerate(oracle.label_names)})
        metrics.update({f"reference_predicted_mean_{n}": float(ref_predicted[:, c].mean())
                        for c, n in enumerate(oracle.label_names)})
        say("oracle: " + ", ".join(f"{k} {metrics[k]:.4g}" for k in ("sp_mse", "requested_mse", "ks_mean")
                                   if k in metrics and metrics[k] is not None))

    # -- plots -----------------------------------------------------------------------------------------------------
    if plots:
        result["plots"] = _plots(out_dir, spectra, js, gc_gen, gc_ref, nn_gen, nn_ref, reference, predicted,
                                 requested, None if oracle is None else ref_predicted,
                                 None if oracle is None else oracle.label_names, result["notes"])
    result["inputs"] = {
        "samples": samples_path, "samples_metadata": samples.metadata, "dataset": dataset.name,
        "data": str(data_path), "reference": reference, "kmer_ks": list(kmer_ks), "seed": seed,
        "oracle": None if oracle is None else str(oracle.path),
        "oracle_test_pearson": None if oracle is None else (oracle.info.get("metrics") or {}).get("test_pearson"),
        "d3core_version": d3core.__version__, "seconds": round(time.perf_counter() - started, 2),
    }
    write_outputs(out_dir, result)
    return result


def _plots(out_dir, spectra, js, gc_gen, gc_ref, nn_gen, nn_ref, reference, predicted, requested, ref_predicted,
           names, notes) -> dict[str, str]:
    from d3core.evaluation import plots as P

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        notes.append("plots skipped: matplotlib is not installed (pip install matplotlib)")
        return {}
    made = {}
    if spectra:
        made["kmer_spectrum"] = P.kmer_spectra(out_dir / "kmer_spectrum.png", spectra, js).name
    made["gc_content"] = P.histograms(out_dir / "gc_content.png", {f"{reference} (real)": gc_ref, "generated": gc_gen},
                                      "GC fraction", "GC content per sequence").name
    series = {"generated": nn_gen}
    if nn_ref is not None:
        series[f"{reference} (real)"] = nn_ref
    made["nn_identity"] = P.histograms(out_dir / "nn_identity.png", series, "identity to nearest training sequence",
                                       "Memorisation check").name
    if predicted is not None:
        made["activity_distribution"] = P.activity_distributions(out_dir / "activity_distribution.png", predicted,
                                                                 ref_predicted, names, reference).name
        if requested is not None:
            made["predicted_vs_requested"] = P.predicted_vs_requested(out_dir / "predicted_vs_requested.png",
                                                                      requested, predicted, names).name
    return made


def write_outputs(out_dir: Path, result: dict[str, Any]) -> None:
    from d3core.atomic import atomic_write_text

    atomic_write_text(out_dir / "metrics.json", json.dumps(_finite(result), indent=2, default=str) + "\n")
    atomic_write_text(out_dir / "report.md", render_report(result))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def render_report(result: dict[str, Any]) -> str:
    inputs, metrics = result.get("inputs", {}), result["metrics"]
    meta = inputs.get("samples_metadata") or {}
    lines = ["# d3 evaluation report", ""]
    lines.append(f"- samples: `{inputs.get('samples')}` ({metrics['n_generated']} sequences)")
    if meta.get("checkpoint"):
        lines.append(f"- generated from `{meta['checkpoint']}` (step {meta.get('checkpoint_step')}), "
                     f"{meta.get('steps')} steps, predictor {meta.get('predictor')}, seed {meta.get('seed')}, "
                     f"precision {meta.get('precision')}")
    lines.append(f"- dataset {inputs.get('dataset')}: `{inputs.get('data')}`, reference split "
                 f"**{inputs.get('reference')}** ({metrics['n_reference']} sequences)")
    if inputs.get("oracle"):
        pearson = inputs.get("oracle_test_pearson") or {}
        lines.append(f"- oracle `{inputs['oracle']}`" + (" (test Pearson " + ", ".join(
            f"{k} {v:.3f}" for k, v in pearson.items() if v is not None) + ")" if pearson else ""))
    else:
        lines.append("- oracle: none")
    lines += ["- metric definitions: `docs/evaluation.md` (metrics version "
              f"{result.get('metrics_version')})", ""]
    if result.get("groups"):
        names = list(result["groups"][0]["requested"])
        lines += ["## Conditioning", "", "Oracle-predicted activity of the sequences generated for each requested "
                  "label row:", "",
                  "| n | " + " | ".join(f"requested {n}" for n in names) + " | "
                  + " | ".join(f"predicted {n} (mean ± s.d.)" for n in names) + " |",
                  "|---" * (1 + 2 * len(names)) + "|"]
        for g in result["groups"]:
            lines.append(f"| {g['n']} | " + " | ".join(_fmt(g["requested"][n]) for n in names) + " | "
                         + " | ".join(f"{g['predicted_mean'][n]:.3f} ± {g['predicted_sd'][n]:.3f}" for n in names)
                         + " |")
        lines.append("")
    lines += ["## Metrics", "", "| metric | value | better |", "|---|---|---|"]
    for name, value in metrics.items():
        lines.append(f"| `{name}` | {_fmt(value)} | {direction_of(name)} |")
    lines.append("")
    if result.get("plots"):
        lines += ["## Plots", ""]
        titles = {"predicted_vs_requested": "Oracle-predicted vs requested activity",
                  "activity_distribution": "Predicted activity, generated vs real",
                  "kmer_spectrum": "k-mer spectra, real vs generated", "gc_content": "GC content",
                  "nn_identity": "Identity to the nearest training sequence"}
        for key, file in result["plots"].items():
            lines += [f"### {titles.get(key, key)}", "", f"![{key}]({file})", ""]
    if result.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in result["notes"]] + [""]
    return "\n".join(lines)
