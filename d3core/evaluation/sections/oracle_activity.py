"""The oracle's view of the designs: SP-MSE (§8.3), requested-activity fit, KS, Fréchet distance (§9.2), fraction
above an activity threshold, and the conditioning table (``groups``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from d3core.evaluation import metrics as M
from d3core.evaluation.sections.base import Run, Section

#: the conditioning table lists at most this many distinct requested label rows (none when there are more)
MAX_GROUPS = 12


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


def compute(run: Run) -> None:
    """The metrics of the oracle's predictions f(x̂) ``[N, C]``; ``run.groups``; ``extra``: ``predicted``,
    ``ref_predicted``, ``requested``, ``paired`` for the plots and later sections."""
    oracle, metrics, samples = run.oracle, run.metrics, run.samples
    names = list(oracle.label_names)
    predicted = oracle.predict(run.gen)
    reference = run.cache.get("oracle_reference", run.oracle_key(), lambda: _oracle_reference(run))
    ref_predicted = reference["predicted"]
    run.extra.update(predicted=predicted, ref_predicted=ref_predicted)

    def ks(c: int, rows=slice(None)) -> float:
        return M.ks_statistic(predicted[:, c], ref_predicted[rows, c])

    for c, name in enumerate(names):
        metrics[f"ks_{name}"] = ks(c)
        run.subsampling_se(f"ks_{name}", lambda rows, c=c: ks(c, rows))
    metrics["ks_mean"] = float(np.mean([metrics[f"ks_{n}"] for n in names]))
    run.subsampling_se("ks_mean", lambda rows: float(np.mean([ks(c, rows) for c in range(len(names))])))
    rows = samples.rows
    paired = rows is not None and len(rows) and (rows >= 0).all() and samples.reference_split == run.reference \
        and rows.max() < len(run.all_ref_tokens)
    run.extra["paired"] = bool(paired)
    if paired:
        paired_predicted = oracle.predict(run.all_ref_tokens[rows]) if run.subsampled else ref_predicted[rows]
        metrics["sp_mse"] = float(np.mean((predicted - paired_predicted) ** 2))
    elif rows is not None and (rows >= 0).any():
        run.notes.append(f"SP-MSE skipped: the samples were drawn for {samples.reference_split} rows, the "
                         f"reference is {run.reference}")
    else:
        run.notes.append("SP-MSE skipped: the samples were not drawn for reference rows (sample with "
                         f"--labels-from {run.reference} for the paired metric)")
    if samples.labels is not None and set(names) <= set(samples.label_names):
        columns = [list(samples.label_names).index(n) for n in names]
        requested = samples.labels[:, columns]
        run.extra["requested"] = requested
        metrics["requested_mse"] = float(np.mean((predicted - requested) ** 2))
        r = M.pearson(requested, predicted)
        for c, name in enumerate(names):
            metrics[f"requested_pearson_{name}"] = float(r[c])
        run.groups = conditioning_groups(requested, predicted, names)
    if oracle.has_embedding:
        embedding = oracle.embed(run.gen)
        metrics["frechet_distance"] = M.frechet_distance(embedding, reference["embedding"])
        run.subsampling_se("frechet_distance",
                           lambda rows: M.frechet_distance(embedding, reference["embedding"][rows]))
    else:
        run.notes.append("Fréchet distance skipped: the oracle has no penultimate embedding")
    metrics.update({f"predicted_mean_{n}": float(predicted[:, c].mean()) for c, n in enumerate(names)})
    metrics.update({f"reference_predicted_mean_{n}": float(ref_predicted[:, c].mean())
                    for c, n in enumerate(names)})
    _fraction_above(run, predicted, names)
    run.say("oracle: " + ", ".join(f"{k} {metrics[k]:.4g}" for k in ("sp_mse", "frechet_distance", "requested_mse",
                                                                     "ks_mean") if metrics.get(k) is not None))


def _fraction_above(run: Run, predicted: np.ndarray, names: list[str]) -> None:
    """``fraction_above_<label>``: the share of designs predicted at or above ``--activity-threshold`` (else the
    measured training activity's top :attr:`Protocol.top_fraction` quantile); the thresholds in ``inputs``."""
    labels = run.train_labels()
    file_names = list(run.dataset.label_names_in(run.data_path))
    used = {}
    for c, name in enumerate(names):
        if name in run.activity_thresholds:
            used[name] = float(run.activity_thresholds[name])
        elif name in file_names and len(labels):
            used[name] = float(np.quantile(labels[:, file_names.index(name)], 1 - run.protocol.top_fraction))
        else:
            continue
        run.metrics[f"fraction_above_{name}"] = float(np.mean(predicted[:, c] >= used[name]))
    run.extra.setdefault("inputs", {})["activity_thresholds"] = used


def _oracle_reference(run: Run) -> dict[str, np.ndarray]:
    """The oracle's view of the reference rows: ``predicted [N, C]`` and, if it has one, ``embedding [N, E]``."""
    out = {"predicted": run.oracle.predict(run.ref_tokens)}
    if run.oracle.has_embedding:
        out["embedding"] = run.oracle.embed(run.ref_tokens)
    return out


def _no_oracle(run: Run) -> str:
    return ("no oracle: SP-MSE, Fréchet distance, KS, requested-activity metrics, attributions and activity plots "
            f"skipped (train one with 'd3 oracle train --dataset {run.dataset.name} --data {run.data_path}', or give "
            "an original oracle checkpoint with --oracle)")


SECTION = Section("oracle", compute, directions={
    "sp_mse": "lower", "requested_mse": "lower", "ks_mean": "lower", "frechet_distance": "lower",
    "requested_pearson_*": "higher", "ks_*": "lower", "fraction_above_*": "higher"},
    applies=lambda run: run.oracle is not None, skipped_note=_no_oracle)
