"""One model for several cell types from libraries that do not overlap: three synthetic libraries of the three-cells
data (:class:`d3core.testing.components.ThreeCellDataset`: CEBP drives HepG2, GATA1 K562, OCT WTC11), disjoint
sequences, each keeping only its own cell type's label. A model trained on their union with the other labels missing
must condition each cell type -- its own motif follows the request -- about as well as a model trained with the same
compute on the same rows with every label measured.

Both models: Conv ``tiny``, 1000 steps of batch 32 (label dropout 0.1, per label too: the fully labelled one is trained
with ``model.label_nulls=true`` so that both take the same one-label requests), then ``d3 sample --labels CELL=3`` and
``--labels CELL=-0.5`` with the other labels unconditioned. The masked model's response may fall short of the
reference's by at most ``MARGIN`` for every cell type, and must be clear (``RESPONSE``) wherever the reference's is (at
this compute the reference learns HepG2 and WTC11, not K562: measured in docs/missing-labels.md).
"""
from __future__ import annotations

import numpy as np
import pytest

CELLS = {"HepG2": "TTGCGCAA", "K562": "AGATAAGA", "WTC11": "ATGCAAAT"}  # each cell type's own motif
ROWS = 1000      # training rows per library (3000 in the union)
STEPS = 1000     # optimizer steps of each model (the same compute)
NUM = 32         # sequences per request
MARGIN = 0.35    # motifs per sequence the masked model's response may fall short of the fully labelled one's
RESPONSE = 0.4   # the least response (own motifs per sequence, high - low request) of the masked model


def write_libraries(root, rows: int = ROWS):
    """``(masked, full)`` files: the union of three disjoint synthetic libraries, with the labels of the other cell
    types missing (NaN, counted in ``d3_measured``) or all measured."""
    import h5py

    from d3core.data.encoding import tokens_from_one_hot
    from d3core.data.importing import measured_counts
    from d3core.data.layout import MEASURED_ATTR, SPLITS, H5Writer
    from d3core.testing.components import ThreeCellDataset

    dataset = ThreeCellDataset()
    layout, names = dataset.layout, list(dataset.label_names)
    blocks = {split: [] for split in SPLITS}
    for k in range(3):
        path = root / f"library{k}.h5"
        dataset.synthesize(path, rows, seed=11 + k)
        with h5py.File(path, "r", locking=False) as f:
            for split in SPLITS:
                tokens, _ = tokens_from_one_hot(f[layout.x_name(split)][:], channel_axis=layout.channel_axis)
                blocks[split].append((k, tokens, f[layout.y_name(split)][:]))
    full = {s: (np.concatenate([t for _, t, _ in b]), np.concatenate([y for _, _, y in b])) for s, b in blocks.items()}
    masked = {}
    for split, b in blocks.items():
        ys = []
        for k, _, y in b:
            y = y.copy()
            y[:, [c for c in range(3) if c != k]] = np.nan  # library k measured cell type k only
            ys.append(y)
        masked[split] = (full[split][0], np.concatenate(ys))
    out = []
    for name, splits in (("masked", masked), ("full", full)):
        attrs = {"d3_dataset": dataset.name}
        if name == "masked":
            attrs[MEASURED_ATTR] = measured_counts({s: y for s, (_, y) in splits.items()}, names)
        path = root / f"{name}.h5"
        with H5Writer(path, layout, names, attrs=attrs) as writer:
            for split, (tokens, y) in splits.items():
                writer.write_split(split, tokens, y)
        out.append(path)
    return out[0], out[1]


def responses(d3, checkpoint, root, name: str) -> dict[str, float]:
    """Per cell type: own motifs per sequence at ``CELL=3`` minus at ``CELL=-0.5`` (the other labels unconditioned)."""
    from d3core.evaluation.metrics import motif_counts
    from d3core.generation import read_samples

    out = {}
    for cell, motif in CELLS.items():
        samples = root / f"{name}-{cell}.npz"
        d3("sample", checkpoint, "--labels", f"{cell}=3", "--labels", f"{cell}=-0.5", "--num", NUM, "--steps", "32",
           "--seed", "0", "-o", samples, "--no-progress")
        tokens = read_samples(samples).tokens
        counts = motif_counts(tokens, motif).astype(float)
        out[cell] = float(counts[:NUM].mean() - counts[NUM:].mean())
    return out


def train(d3, data, work, *overrides):
    d3("train", "--dataset", "three-cells", "--arch", "Conv", "--preset", "tiny", "--data", data, "--work_dir", work,
       "--max_steps", STEPS, "--batch_size", "32", "--val_check_interval", STEPS, "--accelerator", "cpu",
       "optim.lr=2e-3", "optim.warmup=20", "eval.batch_size=200", "lightning.checkpoint.save_top_k=0", *overrides)
    return work / "checkpoints" / "last.ckpt"


@pytest.mark.slow
def test_a_model_on_disjoint_libraries_conditions_each_cell_type_like_a_fully_labelled_one(tmp_path):
    from d3core.testing.motifs import in_process_d3, two_motif_manager

    d3 = in_process_d3(two_motif_manager())
    masked_data, full_data = write_libraries(tmp_path)
    masked = responses(d3, train(d3, masked_data, tmp_path / "masked"), tmp_path, "masked")
    full = responses(d3, train(d3, full_data, tmp_path / "full", "model.label_nulls=true"), tmp_path, "full")
    print("own motifs per sequence, high - low request: masked", masked, "fully labelled", full)
    responding = [cell for cell in CELLS if full[cell] > RESPONSE]  # what this compute teaches the reference
    assert len(responding) >= 2, full
    for cell in CELLS:
        assert masked[cell] > full[cell] - MARGIN, (cell, masked, full)
    for cell in responding:
        assert masked[cell] > RESPONSE, (cell, masked, full)
