"""GradientShap maps (§9.9), attribution consistency (§9.10) of designs, reference and dinucleotide-shuffled
reference, and mechanistic diversity (§9.13)."""
from __future__ import annotations

import numpy as np

from d3core.evaluation.reference_cache import array_digest
from d3core.evaluation.sections.base import COMPARE, Run, Section

#: the label the paper's attribution analysis used per dataset (DeepSTARR: class_index 1)
PAPER_ATTRIBUTION_LABEL = {"deepstarr": "hk"}


def _attribution_sets(run: Run, label_index: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``(reference rows, generated rows, how)``: the paper takes the top N reference rows by measured activity and
    the designs generated for those rows; unpaired samples get N designs drawn at random."""
    n = min(run.protocol.attribution_sequences, len(run.all_ref_tokens))
    ref_rows = np.argsort(run.all_ref_labels[:, label_index], kind="stable")[-n:] if run.all_ref_labels.size else \
        np.arange(n)
    if run.extra.get("paired"):
        first = {}
        for i, row in enumerate(run.samples.rows):
            first.setdefault(int(row), i)
        chosen = [r for r in ref_rows if int(r) in first]
        return np.asarray(chosen), np.asarray([first[int(r)] for r in chosen]), "paired with the top reference rows"
    rng = np.random.default_rng(run.seed + 2)
    gen_rows = np.sort(rng.choice(len(run.gen), size=min(n, len(run.gen)), replace=False))
    return ref_rows, gen_rows, "unpaired samples: designs drawn at random"


def compute(run: Run) -> None:
    """``attribution_consistency*`` (nats) and ``mechanistic_diversity*_mean``; ``extra``: ``maps`` ``[n, 4, L]``
    per set, ``attribution_tokens``, ``attribution_rows`` for the logos. Without the ``motifs`` extra: a note (an
    error under a strict protocol)."""
    from d3core.evaluation import attribution as A
    from d3core.evaluation.extras import MissingExtraError

    oracle, p = run.oracle, run.protocol
    names = list(oracle.label_names)
    label = run.attribution_label or (PAPER_ATTRIBUTION_LABEL.get(run.dataset.name) if p.name == "paper" else None)
    label = label if label in names else names[0]
    target = names.index(label)
    file_names = list(run.dataset.label_names_in(run.data_path))
    ref_rows, gen_rows, how = _attribution_sets(run, file_names.index(label) if label in file_names else 0)
    sets = {"generated": run.gen[gen_rows], "reference": run.all_ref_tokens[ref_rows]}

    def shap(tokens: np.ndarray, bar) -> np.ndarray:
        return A.gradient_shap(oracle, tokens, target, backgrounds=p.attribution_backgrounds,
                               samples=p.attribution_samples, stdev=p.attribution_stdev,
                               background_letters=p.attribution_background_letters, seed=run.seed,
                               on_batch=bar.update)

    def real_maps() -> dict[str, np.ndarray]:
        shuffled = A.dinucleotide_shuffles(sets["reference"], seed=run.seed)
        with run.bar(2 * len(shuffled), f"GradientShap of real sequences ({label})") as bar:
            return {"reference": shap(sets["reference"], bar), "shuffled": shap(shuffled, bar),
                    "shuffled_tokens": shuffled}

    settings = {**run.oracle_key(), "target": target, "rows": array_digest({"rows": np.asarray(ref_rows, np.int64)}),
                "backgrounds": p.attribution_backgrounds, "samples": p.attribution_samples,
                "stdev": p.attribution_stdev, "letters": p.attribution_background_letters, "seed": run.seed}
    try:
        real = run.cache.get("attributions_reference", settings, real_maps)
        sets["shuffled"] = real["shuffled_tokens"]
        with run.bar(len(sets["generated"]), f"GradientShap of designs ({label})") as bar:
            maps = {"generated": shap(sets["generated"], bar), "reference": real["reference"],
                    "shuffled": real["shuffled"]}
    except MissingExtraError as exc:
        run.optional("attribution metrics", exc)
        return
    consistency = {key: A.attribution_consistency(m, radius_count_cutoff=p.radius_count_cutoff)
                   for key, m in maps.items()}
    run.metrics.update(attribution_consistency=consistency["generated"],
                       attribution_consistency_reference=consistency["reference"],
                       attribution_consistency_shuffled=consistency["shuffled"])
    for key, suffix in (("generated", ""), ("reference", "_reference")):
        diversity = A.mechanistic_diversity(maps[key], device=run.device)
        run.metrics[f"mechanistic_diversity{suffix}_mean"] = float(np.mean(diversity)) if len(diversity) > 1 else None
    run.extra.update(maps=maps, attribution_tokens=sets, attribution_rows=gen_rows)
    run.extra.setdefault("inputs", {})["attribution"] = {"label": label, "sequences": len(gen_rows),
                                                         "selection": how}
    run.say(f"attributions ({label}, {len(gen_rows)} sequences): consistency {consistency['generated']} "
            f"(real {consistency['reference']}, shuffled {consistency['shuffled']})")


SECTION = Section("attributions", compute, directions={
    "attribution_consistency": f"higher {COMPARE}", "mechanistic_diversity_mean": f"lower = more diverse {COMPARE}"},
    applies=lambda run: run.protocol.attributions and run.oracle is not None)
