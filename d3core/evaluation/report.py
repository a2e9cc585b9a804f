"""``evaluate_samples``: every metric of ``docs/evaluation.md`` (the paper's, spec §9, and the peers') for one sample
set, under a protocol (:mod:`d3core.evaluation.protocols`), into ``metrics.json``, ``report.md``, ``motif_hits.tsv``
and PNG plots in one output folder.
"""
from __future__ import annotations

import json
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

import d3core
from d3core.errors import D3UserError
from d3core.evaluation import metrics as M
from d3core.evaluation.protocols import Protocol, protocol as get_protocol, published_figures
from d3core.evaluation.reference_cache import ReferenceCache, array_digest, file_digest, oracle_digest

METRICS_VERSION = 2
DEFAULT_KMER_KS = (3, 4, 5, 6)
#: which direction is better, for the report table: exact names, then name prefixes
DIRECTIONS = {
    "sp_mse": "lower", "requested_mse": "lower", "ks_mean": "lower", "frechet_distance": "lower",
    "auroc": "closer to 0.5", "nn_identity_mean": "lower (compare with the reference's)",
    "nn_identity_max": "lower (compare with the reference's)", "gc_abs_diff": "lower", "gc_ks": "lower",
    "percent_identity_mean": "lower (compare with the reference's)",
    "percent_identity_max": "lower (compare with the reference's)",
    "sequence_diversity_mean": "lower = more diverse (compare with the reference's)",
    "motif_enrichment_pearson": "higher", "motif_cooccurrence_frobenius": "lower",
    "attribution_consistency": "higher (compare with the reference's)",
    "mechanistic_diversity_mean": "lower = more diverse (compare with the reference's)",
    "likelihood_bpb_generated": "lower = more likely under the model (compare with the reference's)",
    "likelihood_bpb_difference": "near 0 (> 0: less natural than real DNA)",
}
PREFIX_DIRECTIONS = {"requested_pearson_": "higher", "ks_": "lower", "kmer_kl_k": "lower", "kmer_js_k": "lower",
                     "kmer3_pearson_top_": "higher", "motif_pearson_top_": "higher", "fraction_above_": "higher"}
MAX_GROUPS = 12
#: designs listed with their motif hits in report.md (all are in motif_hits.tsv)
REPORT_DESIGNS = 20
#: a metric's standard error from --reference-rows subsampling: metrics[name + SE_SUFFIX]
SE_SUFFIX = "_subsample_se"
#: an oracle whose test Pearson is below this gets a caveat beside every published figure
WEAK_ORACLE_PEARSON = 0.5
#: attribution logos drawn in the report
LOGOS = 3
#: the label the paper's attribution analysis used per dataset (DeepSTARR: class_index 1)
PAPER_ATTRIBUTION_LABEL = {"deepstarr": "hk"}


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


def parse_thresholds(text: Sequence[str] | None) -> dict[str, float]:
    """``["dev=4", "hk=1.5"]`` -> ``{"dev": 4.0, "hk": 1.5}``."""
    out = {}
    for item in text or ():
        for part in str(item).split(","):
            name, sep, value = part.partition("=")
            try:
                out[name.strip()] = float(value)
            except ValueError:
                raise D3UserError(f"--activity-threshold {part!r}: expected LABEL=VALUE, e.g. dev=4") from None
            if not sep or not name.strip():
                raise D3UserError(f"--activity-threshold {part!r}: expected LABEL=VALUE, e.g. dev=4")
    return out


@dataclass
class _Run:
    """What the sections of one evaluation share."""

    protocol: Protocol
    dataset: Any
    data_path: Path
    reference: str
    gen: np.ndarray
    ref_tokens: np.ndarray
    ref_labels: np.ndarray
    train: Any
    oracle: Any
    device: str
    seed: int
    say: Callable[[str], None]
    progress: bool
    out_dir: Path
    cache: ReferenceCache
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    plots: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the whole reference split when ``ref_tokens``/``ref_labels`` are a ``--reference-rows`` subset of it
    all_ref_tokens: np.ndarray | None = None
    all_ref_labels: np.ndarray | None = None
    _train_labels: np.ndarray | None = None

    def __post_init__(self):
        if self.all_ref_tokens is None:
            self.all_ref_tokens, self.all_ref_labels = self.ref_tokens, self.ref_labels

    @property
    def subsampled(self) -> bool:
        """Whether distributions are compared against a subset of the reference rows."""
        return len(self.ref_tokens) < len(self.all_ref_tokens)

    def subsampling_se(self, name: str, metric: Callable[[np.ndarray], float]) -> None:
        """Record ``<name>_subsample_se``: the standard error ``metrics[name]`` owes to ``--reference-rows``
        (``metric(rows)``: the figure on reference rows ``rows`` of the subset), if the reference is subsampled."""
        if self.subsampled and self.metrics.get(name) is not None:
            from d3core.evaluation.subsampling import subsampling_se

            self.metrics[f"{name}{SE_SUFFIX}"] = subsampling_se(metric, len(self.ref_tokens),
                                                                  len(self.all_ref_tokens), seed=self.seed)

    @contextmanager
    def timed(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - started, 3)

    def train_labels(self) -> np.ndarray:
        if self._train_labels is None:
            self._train_labels = _read_rows(self.train, np.arange(len(self.train)))[1]
        return self._train_labels

    def train_tokens(self, rows: np.ndarray) -> np.ndarray:
        return _read_rows(self.train, rows)[0]

    def top_rows(self) -> dict[str, np.ndarray]:
        """Per label: the training rows of the top :attr:`Protocol.top_fraction` by measured activity (>= 1 row)."""
        if "top_rows" not in self.extra:
            labels = self.train_labels()
            n_top = max(1, int(round(self.protocol.top_fraction * len(labels))))
            names = self.dataset.label_names_in(self.data_path)
            self.extra["top_rows"] = {name: np.sort(np.argsort(labels[:, c], kind="stable")[-n_top:])
                                      for c, name in enumerate(names) if c < labels.shape[1]}
        return self.extra["top_rows"]

    def oracle_key(self) -> dict[str, str]:
        """The part of a cache key that names the oracle (its content) and the device it ran on."""
        if "oracle_key" not in self.extra:
            self.extra["oracle_key"] = {"oracle": oracle_digest(self.oracle), "device": str(self.device)}
        return self.extra["oracle_key"]

    def optional(self, what: str, exc: D3UserError) -> None:
        """A missing optional library: an error under a strict protocol, else a note."""
        if self.protocol.strict_extras:
            raise exc
        self.notes.append(f"{what} skipped: {exc}")


def _read_rows(split, rows: np.ndarray, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    tokens, labels = [], []
    for s in range(0, len(rows), chunk):
        t, y = split.read_batch(rows[s:s + chunk])
        tokens.append(t.numpy().astype(np.uint8))
        labels.append(y.numpy())
    if not tokens:
        return np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.float32)
    return np.concatenate(tokens), np.concatenate(labels)


def evaluate_samples(samples, dataset, data_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                     reference: str = "test", oracle=None, protocol: str | Protocol = "quick",
                     kmer_ks: Sequence[int] | None = None, discriminator: bool = True,
                     identity_rows: int | None = None, seed: int = 0, device: str = "cpu",
                     samples_path: str | None = None, plots: bool = True, arch: str | None = None,
                     activity_thresholds: Mapping[str, float] | None = None, attribution_label: str | None = None,
                     likelihood_model=None, likelihood_samples: int | None = None,
                     cache_dir: str | os.PathLike | None = None, reference_rows: int | None = None,
                     progress: bool = False, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate a :class:`~d3core.seqfiles.records.SequenceSet` against the ``reference`` split of the dataset file.

    ``protocol`` is ``"quick"``, ``"paper"`` or a :class:`~d3core.evaluation.protocols.Protocol`; ``kmer_ks`` and
    ``identity_rows`` override its settings; ``arch`` (default: the sample file's) picks the published figures.
    ``likelihood_model`` (a :class:`~d3core.generation.sampling_model.SamplingModel`): also the mean bits per base of both sets
    under it (:mod:`d3core.scoring.likelihood_comparison`, ``likelihood_samples`` draws per sequence).
    ``cache_dir``: keep what the reference alone determines there and reuse it
    (:mod:`d3core.evaluation.reference_cache`; default None: no cache). ``reference_rows``: compare distributions
    with that many reference rows, stratified by activity (:mod:`d3core.evaluation.subsampling`), each such figure
    with its ``<name>_subsample_se``; SP-MSE and the attribution sets still use the whole split.
    Returns the ``metrics.json`` content (``metrics`` flat name -> value, ``published``, ``groups``, ``inputs``,
    ``plots``, ``notes``).
    """
    from d3core.evaluation.oracle import check_label_names

    started = time.perf_counter()
    settings = protocol if isinstance(protocol, Protocol) else get_protocol(protocol)
    settings = settings.with_overrides(kmer_ks=tuple(kmer_ks) if kmer_ks else None, identity_rows=identity_rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data_path = dataset.require(data_path)
    ref_split = dataset.open_split(data_path, reference)
    ref_tokens, ref_labels = _read_rows(ref_split, np.arange(len(ref_split)))
    gen = np.asarray(samples.tokens, dtype=np.uint8)
    if gen.shape[1] != ref_tokens.shape[1]:
        raise D3UserError(f"the samples are {gen.shape[1]} bp but {dataset.name} sequences in {data_path} are "
                          f"{ref_tokens.shape[1]} bp")
    if oracle is not None:
        check_label_names(oracle, samples.label_names)
    _check_label_options(oracle, activity_thresholds or {}, attribution_label)
    subset = np.arange(len(ref_tokens))
    if reference_rows is not None:
        from d3core.evaluation.subsampling import stratified_rows

        subset = stratified_rows(ref_labels, reference_rows, seed)
    cache = ReferenceCache(cache_dir, {"data": file_digest(data_path) if cache_dir is not None else None,
                                       "split": reference, "rows": array_digest({"rows": subset})})
    run = _Run(settings, dataset, data_path, reference, gen, ref_tokens[subset], ref_labels[subset],
               dataset.open_split(data_path, "train"), oracle, device, seed, echo or (lambda text: None), progress,
               out_dir, cache, all_ref_tokens=ref_tokens, all_ref_labels=ref_labels)
    run.metrics.update(n_generated=len(gen), n_reference=len(subset), n_reference_total=len(ref_tokens))
    if run.subsampled:
        run.notes.append(f"distributions compared with {len(subset)} of the {len(ref_tokens)} {reference} rows "
                         "(stratified by activity); <metric>_subsample_se: the standard error that adds")
    result: dict[str, Any] = {"metrics_version": METRICS_VERSION, "protocol": settings.name, "metrics": run.metrics,
                              "groups": [], "plots": run.plots, "notes": run.notes}
    _composition(run)
    _identity(run)
    if discriminator:
        _discriminability(run)
    if oracle is None:
        run.notes.append("no oracle: SP-MSE, Fréchet distance, KS, requested-activity metrics, attributions and "
                         f"activity plots skipped (train one with 'd3 oracle train --dataset {dataset.name} --data "
                         f"{data_path}', or give an original oracle checkpoint with --oracle)")
    else:
        result["groups"] = _oracle_metrics(run, samples, activity_thresholds or {})
    if likelihood_model is not None:
        _likelihood(run, samples, likelihood_model, likelihood_samples)
    _top_kmers(run)
    if settings.motifs:
        _motifs(run)
    if settings.attributions and oracle is not None:
        _attributions(run, samples, attribution_label)
    if plots:
        with run.timed("plots"):
            _plots(run, samples)
    if cache.enabled:
        run.say(cache.summary())
    arch = arch or (samples.metadata or {}).get("arch")
    result["published"] = _published(run, arch)
    result["inputs"] = {
        "samples": samples_path, "samples_metadata": samples.metadata, "dataset": dataset.name,
        "data": str(data_path), "reference": reference, "protocol": settings.name,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(settings).items()},
        "arch": arch, "seed": seed, "oracle": None if oracle is None else str(oracle.path),
        "oracle_format": None if oracle is None else oracle.info.get("format"),
        "oracle_labels": None if oracle is None else list(oracle.label_names),
        "oracle_test_pearson": None if oracle is None else (oracle.info.get("metrics") or {}).get("test_pearson"),
        "reference_cache": {"folder": None if cache.folder is None else str(cache.folder), "hits": cache.hits,
                            "computed": cache.misses, "invalid": cache.problems},
        **run.extra.get("inputs", {}),
        "d3core_version": d3core.__version__, "seconds": round(time.perf_counter() - started, 2),
        "timings": run.timings,
    }
    write_outputs(out_dir, result, _design_rows(run))
    return result


def _check_label_options(oracle, thresholds: Mapping[str, float], attribution_label: str | None) -> None:
    """Label names given on the command line must be the oracle's: refused before any work is done."""
    names = [] if oracle is None else list(oracle.label_names)
    what = f"the oracle predicts {', '.join(names)}" if oracle is not None else "there is no oracle"
    unknown = sorted(set(thresholds) - set(names))
    if unknown:
        raise D3UserError(f"--activity-threshold {', '.join(unknown)}: {what}")
    if attribution_label is not None and attribution_label not in names:
        raise D3UserError(f"--attribution-label {attribution_label!r}: {what}")


# ------------------------------------------------------------------------------------------------------ sections
def _composition(run: _Run) -> None:
    """GC content and the paper's k-mer spectrum shift (KL, JS distance; spec §9.5)."""
    with run.timed("composition"):
        gc_gen, gc_ref = M.gc_content(run.gen), M.gc_content(run.ref_tokens)
        run.metrics.update(gc_generated=float(gc_gen.mean()), gc_reference=float(gc_ref.mean()),
                           gc_abs_diff=float(abs(gc_gen.mean() - gc_ref.mean())), gc_ks=M.ks_statistic(gc_gen, gc_ref))
        ks = run.protocol.kmer_ks
        reference = run.cache.get("kmer_spectra", {"ks": list(ks)},
                                  lambda: {f"k{k}": M.kmer_spectrum(run.ref_tokens, k) for k in ks})
        spectra, js = {}, {}
        for k in ks:
            spectra[k] = (reference[f"k{k}"], M.kmer_spectrum(run.gen, k))
            run.metrics[f"kmer_kl_k{k}"] = M.kmer_kl(*spectra[k])
            js[k] = run.metrics[f"kmer_js_k{k}"] = M.kmer_js(*spectra[k])
        run.extra.update(spectra=spectra, js=js, gc=(gc_gen, gc_ref))
        run.subsampling_se("gc_ks", lambda rows: M.ks_statistic(gc_gen, gc_ref[rows]))
        if run.subsampled:
            _kmer_subsampling_se(run, spectra)
    run.say(f"composition: GC {gc_gen.mean():.3f} (real {gc_ref.mean():.3f}); k-mer JS "
            + ", ".join(f"k{k} {v:.4f}" for k, v in js.items()))


def _kmer_subsampling_se(run: _Run, spectra: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
    """``kmer_kl_k*``/``kmer_js_k*`` subsampling errors, from the reference's bootstrap spectra (cached)."""
    from d3core.evaluation.subsampling import BOOTSTRAP, bootstrap_rows, standard_error

    n, total = len(run.ref_tokens), len(run.all_ref_tokens)

    def spectra_of_draws() -> dict[str, np.ndarray]:
        draws = bootstrap_rows(n, run.seed)
        return {f"k{k}": np.stack([M.kmer_spectrum(run.ref_tokens[rows], k) for rows in draws]) for k in spectra}

    boot = run.cache.get("kmer_spectra_bootstrap", {"ks": sorted(spectra), "draws": BOOTSTRAP, "seed": run.seed},
                         spectra_of_draws)
    for k, (_, generated) in spectra.items():
        for name, fn in (("kl", M.kmer_kl), ("js", M.kmer_js)):
            run.metrics[f"kmer_{name}_k{k}_subsample_se"] = standard_error(
                [fn(p, generated) for p in boot[f"k{k}"]], n, total)


def _identity(run: _Run) -> None:
    """Percent identity to the reference (§9.4), sequence diversity (§9.12), nearest-training identity."""
    with run.timed("identity"):
        to_ref = M.max_identity(run.gen, run.ref_tokens, device=run.device) * 100
        diversity = M.max_identity(run.gen, None, exclude_self=True, device=run.device) * 100
        # the reference's diversity on as many sequences as were generated (the statistic grows with the set size)
        same_size = np.sort(np.random.default_rng(run.seed).permutation(len(run.ref_tokens))[:len(run.gen)])
        ref_diversity = run.cache.get(
            "diversity_reference", {"rows": len(same_size), "seed": run.seed},
            lambda: {"diversity": M.max_identity(run.ref_tokens[same_size], None, exclude_self=True,
                                                 device=run.device) * 100})["diversity"]
        run.metrics.update(percent_identity_mean=float(to_ref.mean()), percent_identity_max=float(to_ref.max()),
                           sequence_diversity_mean=float(np.mean(diversity)) if len(run.gen) > 1 else None,
                           sequence_diversity_reference_mean=float(np.mean(ref_diversity))
                           if len(same_size) > 1 else None)
        rows = np.arange(len(run.train))
        limit = run.protocol.identity_rows
        if limit is not None and len(rows) > limit:
            rows = np.sort(np.random.default_rng(run.seed).choice(rows, size=limit, replace=False))
            run.notes.append(f"nearest-training identity against {limit} random training rows of {len(run.train)}")
        train_tokens = run.train_tokens(rows)
        nn_gen = M.max_identity(run.gen, train_tokens, device=run.device)
        nn_ref = None if run.reference == "train" else run.cache.get(
            "nn_identity_reference", {"identity_rows": limit, "seed": run.seed},
            lambda: {"nn": M.max_identity(run.ref_tokens, train_tokens, device=run.device)})["nn"]
        run.metrics.update(nn_identity_mean=float(nn_gen.mean()), nn_identity_max=float(nn_gen.max()))
        if nn_ref is not None:
            run.metrics.update(nn_identity_reference_mean=float(nn_ref.mean()),
                               nn_identity_reference_max=float(nn_ref.max()))
        run.extra.update(nn=(nn_gen, nn_ref))
    run.say(f"identity: to {run.reference} {to_ref.mean():.1f}% (max {to_ref.max():.1f}%), diversity "
            f"{run.metrics['sequence_diversity_mean'] or float('nan'):.1f}% (real "
            f"{run.metrics['sequence_diversity_reference_mean'] or float('nan'):.1f}%), nearest training "
            f"{nn_gen.mean():.3f}")


def _discriminability(run: _Run) -> None:
    """Real-vs-generated classifier AUROC (§9.6): the paper trains the oracle architecture on training sequences."""
    from d3core.evaluation.discriminator import discriminability_auroc

    p = run.protocol
    with run.timed("discriminability"):
        if p.discriminator_real == "train":
            n = min(len(run.train), len(run.gen), p.discriminator_max_per_class)
            rows = np.sort(np.random.default_rng(run.seed + 1).choice(len(run.train), size=n, replace=False))
            real = run.train_tokens(rows)
        else:
            real = run.ref_tokens
        network = None
        if p.discriminator == "oracle":
            from d3core.evaluation.oracle import oracle_network_class

            cls = oracle_network_class(run.dataset)
            length = run.gen.shape[1]
            network = lambda: cls(num_outputs=1, length=length)  # noqa: E731
        disc = discriminability_auroc(real, run.gen, seed=run.seed, device=run.device, network=network,
                                      max_per_class=p.discriminator_max_per_class,
                                      max_epochs=p.discriminator_max_epochs, patience=p.discriminator_patience,
                                      on_epoch=lambda e: run.say(f"discriminability: epoch {e}") if e % 10 == 0
                                      else None)
    run.metrics.update(auroc=disc["auroc"], auroc_n_per_class=disc["n_per_class"])
    run.say(f"discriminability: AUROC {disc['auroc']:.3f} on {disc['n_per_class']} sequences per class "
            f"({p.discriminator} classifier, real = {p.discriminator_real}; 0.5 = indistinguishable)")


def _oracle_metrics(run: _Run, samples, thresholds: Mapping[str, float]) -> list[dict]:
    """SP-MSE (§8.3), requested-activity fit, KS, Fréchet distance (§9.2), fraction above a threshold."""
    oracle, metrics = run.oracle, run.metrics
    names = list(oracle.label_names)
    with run.timed("oracle"):
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
        groups = []
        if samples.labels is not None and set(names) <= set(samples.label_names):
            columns = [list(samples.label_names).index(n) for n in names]
            requested = samples.labels[:, columns]
            run.extra["requested"] = requested
            metrics["requested_mse"] = float(np.mean((predicted - requested) ** 2))
            r = M.pearson(requested, predicted)
            for c, name in enumerate(names):
                metrics[f"requested_pearson_{name}"] = float(r[c])
            groups = conditioning_groups(requested, predicted, names)
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
        labels = run.train_labels()
        file_names = list(run.dataset.label_names_in(run.data_path))
        used = {}
        for c, name in enumerate(names):
            if name in thresholds:
                used[name] = float(thresholds[name])
            elif name in file_names and len(labels):
                used[name] = float(np.quantile(labels[:, file_names.index(name)], 1 - run.protocol.top_fraction))
            else:
                continue
            metrics[f"fraction_above_{name}"] = float(np.mean(predicted[:, c] >= used[name]))
        run.extra.setdefault("inputs", {})["activity_thresholds"] = used
    run.say("oracle: " + ", ".join(f"{k} {metrics[k]:.4g}" for k in ("sp_mse", "frechet_distance", "requested_mse",
                                                                     "ks_mean") if metrics.get(k) is not None))
    return groups


def _oracle_reference(run: _Run) -> dict[str, np.ndarray]:
    """The oracle's view of the reference rows: ``predicted [N, C]`` and, if it has one, ``embedding [N, E]``."""
    out = {"predicted": run.oracle.predict(run.ref_tokens)}
    if run.oracle.has_embedding:
        out["embedding"] = run.oracle.embed(run.ref_tokens)
    return out


def _likelihood(run: _Run, samples, model, draws: int | None) -> None:
    """Mean bits per base of the generated and the reference sequences under the model (d3 score)."""
    from d3core.scoring.scores import DEFAULT_SAMPLES
    from d3core.scoring.likelihood_comparison import likelihood_comparison

    with run.timed("likelihood"):
        metrics, notes = likelihood_comparison(model, run.gen, samples.labels, run.ref_tokens, run.ref_labels,
                                               samples=draws or DEFAULT_SAMPLES, seed=run.seed, progress=run.progress)
    run.metrics.update(metrics)
    run.notes.extend(notes)
    run.extra.setdefault("inputs", {})["likelihood_checkpoint"] = str(model.checkpoint)
    if metrics:
        run.say(f"likelihood ({metrics['likelihood_condition']}): generated {metrics['likelihood_bpb_generated']:.4f} "
                f"+- {metrics['likelihood_bpb_generated_stderr']:.4f} bits per base, {run.reference} "
                f"{metrics['likelihood_bpb_reference']:.4f} +- {metrics['likelihood_bpb_reference_stderr']:.4f}")


def _top_kmers(run: _Run) -> None:
    """Peers' naturalness check: Pearson r of 3-mer counts with the top real training sequences by activity."""
    with run.timed("top_kmers"):
        generated = M.kmer_counts(run.gen, 3)
        for name, rows in run.top_rows().items():
            top = M.kmer_counts(run.train_tokens(rows), 3)
            run.metrics[f"kmer3_pearson_top_{name}"] = float(M.pearson(generated, top)[0])


def _motifs(run: _Run) -> None:
    """FIMO against JASPAR: enrichment (§9.7), co-occurrence (§9.8), the peers' top-sequence motif correlation, and
    per-design hits (``motif_hits.tsv``)."""
    from d3core.evaluation import motifs
    from d3core.evaluation.extras import MissingExtraError

    p = run.protocol
    tax_group = getattr(run.dataset, "jaspar_tax_group", None)
    try:
        with run.timed("motifs"):
            database = motifs.jaspar_motifs(p.jaspar_release, p.jaspar_collection, tax_group)
            gen_scan = motifs.scan(run.gen, database)
            ref_counts = run.cache.get(
                "motif_counts_reference", {"database": database.describe(), "tax_group": tax_group},
                lambda: {"counts": motifs.scan(run.ref_tokens, database).counts})["counts"]
            run.metrics["motif_enrichment_pearson"] = motifs.enrichment_pearson(ref_counts, gen_scan.counts)
            run.metrics["motif_cooccurrence_frobenius"] = motifs.cooccurrence_frobenius(ref_counts, gen_scan.counts)
            run.subsampling_se("motif_enrichment_pearson",
                               lambda rows: motifs.enrichment_pearson(ref_counts[rows], gen_scan.counts))
            run.subsampling_se("motif_cooccurrence_frobenius",
                               lambda rows: motifs.cooccurrence_frobenius(ref_counts[rows], gen_scan.counts))
            run.metrics["motif_hits_per_sequence"] = float(gen_scan.counts.sum(axis=1).mean())
            run.metrics["motif_hits_per_sequence_reference"] = float(ref_counts.sum(axis=1).mean())
            for name, rows in run.top_rows().items():
                top_scan = motifs.scan(run.train_tokens(rows), database)
                run.metrics[f"motif_pearson_top_{name}"] = motifs.enrichment_pearson(top_scan.counts, gen_scan.counts)
            _write_hits(run.out_dir / "motif_hits.tsv", gen_scan)
            run.extra.update(scan=gen_scan, database=database)
            run.extra.setdefault("inputs", {})["motif_database"] = database.describe()
    except MissingExtraError as exc:
        run.optional("motif metrics", exc)
        return
    run.say(f"motifs ({database.describe()}): enrichment r {run.metrics['motif_enrichment_pearson']:.3f}, "
            f"co-occurrence distance {run.metrics['motif_cooccurrence_frobenius']:.3f}")


def _write_hits(path: Path, scan) -> None:
    from d3core.atomic import atomic_write_text

    hits = scan.hits
    lines = ["\t".join(("design", "motif", "start", "end", "strand", "score", "p_value"))]
    order = np.lexsort((hits["start"], hits["sequence"]))
    for i in order:
        lines.append(f"d3_{hits['sequence'][i]}\t{hits['motif'][i]}\t{hits['start'][i]}\t{hits['end'][i]}\t"
                     f"{hits['strand'][i]}\t{hits['score'][i]:.3f}\t{hits['p_value'][i]:.3g}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def _attribution_sets(run: _Run, samples, label_index: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``(reference rows, generated rows, how)``: the paper takes the top N reference rows by measured activity and
    the designs generated for those rows; unpaired samples get N designs drawn at random."""
    n = min(run.protocol.attribution_sequences, len(run.all_ref_tokens))
    ref_rows = np.argsort(run.all_ref_labels[:, label_index], kind="stable")[-n:] if run.all_ref_labels.size else \
        np.arange(n)
    if run.extra.get("paired"):
        first = {}
        for i, row in enumerate(samples.rows):
            first.setdefault(int(row), i)
        chosen = [r for r in ref_rows if int(r) in first]
        return np.asarray(chosen), np.asarray([first[int(r)] for r in chosen]), "paired with the top reference rows"
    rng = np.random.default_rng(run.seed + 2)
    gen_rows = np.sort(rng.choice(len(run.gen), size=min(n, len(run.gen)), replace=False))
    return ref_rows, gen_rows, "unpaired samples: designs drawn at random"


def _attributions(run: _Run, samples, label: str | None) -> None:
    """GradientShap maps (§9.9), attribution consistency (§9.10) of designs, reference and dinucleotide-shuffled
    reference, and mechanistic diversity (§9.13)."""
    from d3core.evaluation import attribution as A
    from d3core.evaluation.extras import MissingExtraError

    oracle, p = run.oracle, run.protocol
    names = list(oracle.label_names)
    label = label or (PAPER_ATTRIBUTION_LABEL.get(run.dataset.name) if p.name == "paper" else None)
    label = label if label in names else names[0]
    target = names.index(label)
    file_names = list(run.dataset.label_names_in(run.data_path))
    ref_rows, gen_rows, how = _attribution_sets(run, samples, file_names.index(label) if label in file_names else 0)
    sets = {"generated": run.gen[gen_rows], "reference": run.all_ref_tokens[ref_rows]}
    try:
        with run.timed("attributions"):
            def shap(tokens: np.ndarray, bar) -> np.ndarray:
                return A.gradient_shap(oracle, tokens, target, backgrounds=p.attribution_backgrounds,
                                       samples=p.attribution_samples, stdev=p.attribution_stdev,
                                       background_letters=p.attribution_background_letters, seed=run.seed,
                                       on_batch=bar.update)

            def real_maps() -> dict[str, np.ndarray]:
                shuffled = A.dinucleotide_shuffles(sets["reference"], seed=run.seed)
                bar = _bar(run, 2 * len(shuffled), f"GradientShap of real sequences ({label})")
                out = {"reference": shap(sets["reference"], bar), "shuffled": shap(shuffled, bar),
                       "shuffled_tokens": shuffled}
                bar.close()
                return out

            settings = {**run.oracle_key(), "target": target,
                        "rows": array_digest({"rows": np.asarray(ref_rows, np.int64)}),
                        "backgrounds": p.attribution_backgrounds, "samples": p.attribution_samples,
                        "stdev": p.attribution_stdev, "letters": p.attribution_background_letters, "seed": run.seed}
            real = run.cache.get("attributions_reference", settings, real_maps)
            sets["shuffled"] = real["shuffled_tokens"]
            bar = _bar(run, len(sets["generated"]), f"GradientShap of designs ({label})")
            maps = {"generated": shap(sets["generated"], bar), "reference": real["reference"],
                    "shuffled": real["shuffled"]}
            bar.close()
            consistency = {key: A.attribution_consistency(m, radius_count_cutoff=p.radius_count_cutoff)
                           for key, m in maps.items()}
            run.metrics.update(attribution_consistency=consistency["generated"],
                               attribution_consistency_reference=consistency["reference"],
                               attribution_consistency_shuffled=consistency["shuffled"])
            for key, suffix in (("generated", ""), ("reference", "_reference")):
                diversity = A.mechanistic_diversity(maps[key], device=run.device)
                run.metrics[f"mechanistic_diversity{suffix}_mean"] = float(np.mean(diversity)) \
                    if len(diversity) > 1 else None
            run.extra.update(maps=maps, attribution_tokens=sets, attribution_rows=gen_rows)
            run.extra.setdefault("inputs", {})["attribution"] = {"label": label, "sequences": len(gen_rows),
                                                                 "selection": how}
    except MissingExtraError as exc:
        run.optional("attribution metrics", exc)
        return
    run.say(f"attributions ({label}, {len(gen_rows)} sequences): consistency {consistency['generated']} "
            f"(real {consistency['reference']}, shuffled {consistency['shuffled']})")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(run: _Run, total: int, desc: str):
    if not run.progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=f"d3: {desc}", unit="seq", leave=False)


def _published(run: _Run, arch: str | None) -> dict[str, dict]:
    """The published figures for this dataset, oracle and architecture, beside this run's values."""
    if run.oracle is None:
        return {}
    figures = published_figures(run.dataset.name, arch, list(run.oracle.label_names))
    label = (run.extra.get("inputs", {}).get("attribution") or {}).get("label")
    out = {}
    oracle = oracle_provenance(run.oracle)
    for metric, (value, source) in figures.items():
        if metric.startswith("attribution_consistency") and (
                label != PAPER_ATTRIBUTION_LABEL.get(run.dataset.name) or run.protocol.name != "paper"):
            continue  # published for another label, or with the paper's settings only
        out[metric] = {"published": value, "source": source, "this_run": run.metrics.get(metric), "oracle": oracle}
    return out


def oracle_provenance(oracle) -> str:
    """One line for a figure printed beside a published one: whether the oracle is of the kind the paper used (the
    original D3 code's checkpoints), else its test Pearson, with a caveat when it is weak (below
    :data:`WEAK_ORACLE_PEARSON`) or unknown."""
    if str(oracle.info.get("format", "")).startswith("original D3 oracle"):
        return "oracle: an original D3 oracle checkpoint (the paper's oracles are these files)"
    pearson = {k: v for k, v in ((oracle.info.get("metrics") or {}).get("test_pearson") or {}).items()
               if v is not None}
    if not pearson:
        return "oracle: NOT the paper's, test Pearson unknown: the comparison may say little"
    text = "oracle: NOT the paper's, test Pearson " + ", ".join(f"{k} {v:.2f}" for k, v in pearson.items())
    if min(pearson.values()) < WEAK_ORACLE_PEARSON:
        text += f"; a weak oracle (< {WEAK_ORACLE_PEARSON}): the comparison says little"
    return text


# ------------------------------------------------------------------------------------------------------ outputs
def _plots(run: _Run, samples) -> None:
    from d3core.evaluation import plots as P

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        run.notes.append("plots skipped: matplotlib is not installed (pip install matplotlib)")
        return
    out, made = run.out_dir, run.plots
    spectra, js = run.extra.get("spectra"), run.extra.get("js")
    if spectra:
        made["kmer_spectrum"] = P.kmer_spectra(out / "kmer_spectrum.png", spectra, js).name
    gc_gen, gc_ref = run.extra["gc"]
    made["gc_content"] = P.histograms(out / "gc_content.png", {f"{run.reference} (real)": gc_ref,
                                                               "generated": gc_gen},
                                      "GC fraction", "GC content per sequence").name
    nn_gen, nn_ref = run.extra["nn"]
    series = {"generated": nn_gen}
    if nn_ref is not None:
        series[f"{run.reference} (real)"] = nn_ref
    made["nn_identity"] = P.histograms(out / "nn_identity.png", series, "identity to nearest training sequence",
                                       "Memorisation check").name
    predicted = run.extra.get("predicted")
    if predicted is not None:
        names = run.oracle.label_names
        made["activity_distribution"] = P.activity_distributions(out / "activity_distribution.png", predicted,
                                                                 run.extra["ref_predicted"], names,
                                                                 run.reference).name
        if run.extra.get("requested") is not None:
            made["predicted_vs_requested"] = P.predicted_vs_requested(out / "predicted_vs_requested.png",
                                                                      run.extra["requested"], predicted, names).name
    maps = run.extra.get("maps")
    if maps is not None and len(maps["generated"]):
        from d3core.evaluation.extras import MissingExtraError

        n = min(LOGOS, len(maps["generated"]))
        rows = run.extra["attribution_rows"]
        tokens = np.concatenate([run.extra["attribution_tokens"]["generated"][-n:],
                                 run.extra["attribution_tokens"]["reference"][-1:]])
        attributions = np.concatenate([maps["generated"][-n:], maps["reference"][-1:]])
        titles = [f"design d3_{rows[i]}" for i in range(len(rows) - n, len(rows))] + ["real reference sequence"]
        try:
            made["attribution_logos"] = P.attribution_logos(out / "attribution_logos.png", tokens, attributions,
                                                            titles).name
        except MissingExtraError as exc:
            run.notes.append(f"attribution logos skipped: {exc}")


def _design_rows(run: _Run) -> list[dict]:
    """The first designs with their oracle predictions and motif hits, for report.md."""
    scan = run.extra.get("scan")
    if scan is None:
        return []
    predicted = run.extra.get("predicted")
    rows = []
    for i in range(min(REPORT_DESIGNS, len(run.gen))):
        hits = scan.hits_of(i)
        rows.append({"design": f"d3_{i}",
                     "predicted": None if predicted is None else
                     {n: float(predicted[i, c]) for c, n in enumerate(run.oracle.label_names)},
                     "hits": [f"{h['motif'].split(' ', 1)[-1]}@{h['start']}{h['strand']}" for h in hits]})
    return rows


def write_outputs(out_dir: Path, result: dict[str, Any], designs: list[dict] | None = None) -> None:
    from d3core.atomic import atomic_write_text

    atomic_write_text(out_dir / "metrics.json", json.dumps(_finite(result), indent=2, default=str) + "\n")
    atomic_write_text(out_dir / "report.md", render_report(result, designs))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def render_report(result: dict[str, Any], designs: list[dict] | None = None) -> str:
    inputs, metrics = result.get("inputs", {}), result["metrics"]
    meta = inputs.get("samples_metadata") or {}
    lines = ["# d3 evaluation report", ""]
    lines.append(f"- samples: `{inputs.get('samples')}` ({metrics['n_generated']} sequences)")
    if meta.get("checkpoint"):
        lines.append(f"- generated from `{meta['checkpoint']}` (step {meta.get('checkpoint_step')}), "
                     f"{meta.get('steps')} steps, predictor {meta.get('predictor')}, seed {meta.get('seed')}, "
                     f"precision {meta.get('precision')}")
    lines.append(f"- dataset {inputs.get('dataset')}: `{inputs.get('data')}`, reference split "
                 f"**{inputs.get('reference')}** ({metrics['n_reference']} sequences); protocol "
                 f"**{result.get('protocol')}**")
    if inputs.get("oracle"):
        pearson = inputs.get("oracle_test_pearson") or {}
        lines.append(f"- oracle `{inputs['oracle']}` ({inputs.get('oracle_format')}; predicts "
                     f"{', '.join(inputs.get('oracle_labels') or [])})" + (" (test Pearson " + ", ".join(
                         f"{k} {v:.3f}" for k, v in pearson.items() if v is not None) + ")" if pearson else ""))
    else:
        lines.append("- oracle: none")
    if inputs.get("motif_database"):
        lines.append(f"- motifs: {inputs['motif_database']}, FIMO p < 1e-4, both strands")
    lines += ["- metric definitions: `docs/evaluation.md` (metrics version "
              f"{result.get('metrics_version')})", ""]
    if result.get("published"):
        lines += ["## Beside the published figures", "",
                  f"Architecture: {inputs.get('arch') or 'unknown'}. The published values are the paper's (source "
                  "per row); compare like with like (same oracle, same number of sequences, same protocol).", "",
                  "| metric | this run | published (paper) | source | this run's oracle |", "|---|---|---|---|---|"]
        for name, row in result["published"].items():
            lines.append(f"| `{name}` | {_fmt(row['this_run'])} | {_fmt(row['published'])} | {row['source']} | "
                         f"{row.get('oracle', '')} |")
        lines.append("")
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
    lines += ["## Metrics", "", "| metric | value (± standard error from --reference-rows subsampling) | better |",
              "|---|---|---|"]
    for name, value in metrics.items():
        if name.endswith(SE_SUFFIX):
            continue
        se = metrics.get(name + SE_SUFFIX)
        shown = _fmt(value) + (f" ± {_fmt(se)}" if se is not None else "")
        lines.append(f"| `{name}` | {shown} | {direction_of(name)} |")
    lines.append("")
    if designs:
        lines += ["## Motif hits per design", "", f"The first {len(designs)} designs (all hits: `motif_hits.tsv`).",
                  "", "| design | predicted | motif hits (name@start strand) |", "|---|---|---|"]
        for row in designs:
            predicted = ", ".join(f"{k} {v:.3f}" for k, v in (row["predicted"] or {}).items())
            lines.append(f"| {row['design']} | {predicted or 'n/a'} | {', '.join(row['hits']) or '—'} |")
        lines.append("")
    if result.get("plots"):
        lines += ["## Plots", ""]
        titles = {"predicted_vs_requested": "Oracle-predicted vs requested activity",
                  "activity_distribution": "Predicted activity, generated vs real",
                  "kmer_spectrum": "k-mer spectra, real vs generated", "gc_content": "GC content",
                  "nn_identity": "Identity to the nearest training sequence",
                  "attribution_logos": "Attribution maps of designs and of a real sequence"}
        for key, file in result["plots"].items():
            lines += [f"### {titles.get(key, key)}", "", f"![{key}]({file})", ""]
    if result.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in result["notes"]] + [""]
    timings = inputs.get("timings") or {}
    if timings:
        lines += ["## Timings", "", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()), ""]
    return "\n".join(lines)
