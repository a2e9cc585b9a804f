"""Does a model trained on real libraries with missing labels condition each cell type? (docs/missing-labels.md)

Usage: python benchmarks/missing_labels_real.py DATA.h5 SAMPLES.npz --requests HepG2=2 HepG2=-1 WTC11=2 WTC11=-1

The judge is cheap and independent of the diffusion model: per label, a ridge regression on 5-mer counts (both strands)
fitted on the train rows where that label was measured; its Pearson r on the measured test rows says how much it
knows. Printed (JSON): the judge's test r per label and, per request (``SAMPLES.npz`` holds ``--num`` sequences per
``--labels`` row, in order), the judge's mean predicted activity per label.
"""
from __future__ import annotations

import argparse
import json

import h5py
import numpy as np

K = 5
RIDGE = 10.0


def kmer_features(tokens: np.ndarray, k: int = K) -> np.ndarray:
    """``float32 [N, 4**k]``: counts of every k-mer on both strands of ``tokens [N, L]`` (0..3 = ACGT)."""
    tokens = np.asarray(tokens, np.int64)
    out = np.zeros((len(tokens), 4 ** k), np.float32)
    for strand in (tokens, 3 - tokens[:, ::-1]):
        index = np.zeros((len(tokens), tokens.shape[1] - k + 1), np.int64)
        for j in range(k):
            index = index * 4 + strand[:, j:j + index.shape[1]]
        for row, idx in enumerate(index):
            out[row] += np.bincount(idx, minlength=4 ** k)
    return out


def split(path, name: str) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path, "r", locking=False) as f:
        x, y = f[f"x_{name}"][:], f[f"y_{name}"][:]
    return np.argmax(x, axis=-1), y


def fit_judge(path, labels: list[str]) -> tuple[list[np.ndarray], dict[str, float]]:
    """Ridge weights per label (last entry: intercept) and their test Pearson r on measured rows."""
    train_x, train_y = split(path, "train")
    test_x, test_y = split(path, "test")
    f_train, f_test = kmer_features(train_x), kmer_features(test_x)
    weights, r = [], {}
    for c, name in enumerate(labels):
        rows = ~np.isnan(train_y[:, c])
        a = np.hstack([f_train[rows], np.ones((rows.sum(), 1), np.float32)])
        w = np.linalg.solve(a.T @ a + RIDGE * np.eye(a.shape[1]), a.T @ train_y[rows, c])
        weights.append(w)
        test_rows = ~np.isnan(test_y[:, c])
        prediction = np.hstack([f_test[test_rows], np.ones((test_rows.sum(), 1), np.float32)]) @ w
        r[name] = float(np.corrcoef(prediction, test_y[test_rows, c])[0, 1])
    return weights, r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("samples")
    parser.add_argument("--requests", nargs="+", required=True)
    args = parser.parse_args()
    with h5py.File(args.data, "r", locking=False) as f:
        labels = json.loads(f.attrs["label_names"])
    weights, r = fit_judge(args.data, labels)
    tokens = np.load(args.samples)["tokens"]
    per = len(tokens) // len(args.requests)
    features = np.hstack([kmer_features(tokens), np.ones((len(tokens), 1), np.float32)])
    result = {"judge": f"ridge on {K}-mer counts, test Pearson r per label", "judge_test_r": r, "requests": {}}
    for i, request in enumerate(args.requests):
        block = features[i * per:(i + 1) * per]
        result["requests"][request] = {name: round(float((block @ w).mean()), 3) for name, w in zip(labels, weights)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
