"""Synthetic data: seeded, no empty split at n=64, motifs really planted, activities follow the documented formula."""
from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from d3core.data.encoding import IUPAC, decode, reverse_complement, tokens_from_one_hot
from d3core.data.synth import Motif, plant_motifs, split_sizes
from d3core.errors import D3UserError


def _read(path, layout, split="train"):
    with h5py.File(path, "r", locking=False) as f:
        x = f[layout.x_name(split)][:]
        y = f[layout.y_name(split)][:]
        counts = f[f"d3_synth/counts_{split}"][:]
    return tokens_from_one_hot(x, channel_axis=layout.channel_axis)[0], y, counts


@pytest.mark.parametrize("name", ["deepstarr", "mpra"])
def test_n64_has_no_empty_split_and_is_seeded(name, data_pm, tmp_path):
    ds = data_pm.get("datasets", name).load()()
    a = ds.synthesize(tmp_path / "a.h5", 64, seed=3)
    b = ds.synthesize(tmp_path / "b.h5", 64, seed=3)
    c = ds.synthesize(tmp_path / "c.h5", 64, seed=4)
    summary = ds.validate(a, full=True)
    assert {s: v.rows for s, v in summary.splits.items()} == {"train": 64, "valid": 7, "test": 7}
    assert summary.label_names == list(ds.label_names)
    ta, ya, _ = _read(a, ds.layout)
    tb, yb, _ = _read(b, ds.layout)
    tc, _, _ = _read(c, ds.layout)
    assert (ta == tb).all() and (ya == yb).all()
    assert (ta != tc).any()
    assert split_sizes(1) == {"train": 1, "valid": 4, "test": 4}
    with pytest.raises(D3UserError, match="already exists"):
        ds.synthesize(a, 64)


def _pattern(consensus: str) -> str:
    return "".join(f"[{IUPAC[c]}]" for c in consensus)


def test_planted_instances_are_in_the_sequences():
    motifs = [Motif("GATA", "WGATAR", {"a": 1.0}, rate=1.5), Motif("DRE", "TATCGATA", {"b": 1.0}, rate=1.0)]
    tokens, counts = plant_motifs(300, 249, motifs, np.random.default_rng(0), gc=0.42)
    assert counts.max() <= 3 and counts.sum() > 300
    for row, seq in enumerate(decode(tokens)):
        for m, motif in enumerate(motifs):
            pat = _pattern(motif.consensus)
            found = len(re.findall(f"(?=({pat}))", seq)) + len(re.findall(f"(?=({pat}))", reverse_complement(seq)))
            if motif.consensus == "TATCGATA":  # palindrome: each instance matches on both strands
                found //= 2
            assert found >= counts[row, m], (row, motif.name)


def test_activities_follow_the_documented_formula(deepstarr, tmp_path):
    path = deepstarr.synthesize(tmp_path / "s.h5", 3000, seed=0)
    _, y, counts = _read(path, deepstarr.layout)
    design = np.c_[np.ones(len(counts)), counts]
    coef, *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    for m, motif in enumerate(deepstarr.motifs):
        for c, label in enumerate(deepstarr.label_names):
            assert abs(coef[m + 1, c] - motif.effects.get(label, 0.0)) < 0.05, (motif.name, label)
    residual = y - design @ coef
    assert np.allclose(residual.std(0), deepstarr.synth_noise, atol=0.03)
    # conditioning signal: the dev motifs separate high-dev from low-dev sequences
    dev = y[:, 0]
    gata = [m.name for m in deepstarr.motifs].index("GATA")
    assert counts[dev > np.quantile(dev, 0.9), gata].mean() > counts[dev < np.quantile(dev, 0.1), gata].mean() + 0.5


def test_motif_validation():
    with pytest.raises(ValueError, match="non-IUPAC"):
        Motif("bad", "GATAX")
