"""Discriminability: how well a small CNN tells real sequences from generated ones (test AUROC; 0.5 is ideal).

Protocol (spec §9.6): balance the two sets (at most ``max_per_class`` each); a seeded 70/10/20 train/valid/test
split, stratified by class, that keeps identical sequences in one part; a classifier with one output logit -- by
default a small 3-block CNN (conv + BN + ReLU + pool, linear head), or any network factory (the paper trains the
dataset's oracle architecture: ``network=lambda: OracleClass(num_outputs=1, length=L)``); binary cross-entropy, Adam
lr 2e-3, at most ``max_epochs`` epochs with early stopping on the validation loss (``patience``); the AUROC
(scikit-learn) of the best epoch's model on the test part (real = 1, generated = 0).
"""
from __future__ import annotations

import copy

import numpy as np

from d3core.evaluation.metrics import auroc


def _network():
    from torch import nn

    def block(cin, cout, k, pool):
        return [nn.Conv1d(cin, cout, k, padding="same"), nn.BatchNorm1d(cout), nn.ReLU(), pool]

    return nn.Sequential(*block(4, 32, 7, nn.MaxPool1d(4)), *block(32, 64, 5, nn.MaxPool1d(4)),
                         *block(64, 64, 3, nn.AdaptiveMaxPool1d(1)), nn.Flatten(), nn.Linear(64, 1))


def _group_split(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Seeded 70/10/20 split of the rows, stratified by class, in which identical sequences always share a part (a
    sequence present in both sets must not be learnt as 'real' and tested as 'generated')."""
    _, group = np.unique(x, axis=0, return_inverse=True)
    group = group.ravel()
    n_groups = group.max() + 1
    has_real = np.bincount(group, weights=y, minlength=n_groups) > 0
    has_generated = np.bincount(group, weights=1 - y, minlength=n_groups) > 0
    kind = has_real.astype(int) + 2 * has_generated.astype(int)  # 1 real only, 2 generated only, 3 both
    part_of_group = np.zeros(n_groups, dtype=np.int64)
    for k in (1, 2, 3):
        members = rng.permutation(np.flatnonzero(kind == k))
        n_train, n_valid = round(0.7 * len(members)), round(0.1 * len(members))
        part_of_group[members[n_train:n_train + n_valid]] = 1
        part_of_group[members[n_train + n_valid:]] = 2
    part = part_of_group[group]
    return {name: np.flatnonzero(part == i) for i, name in enumerate(("train", "valid", "test"))}


def discriminability_auroc(real: np.ndarray, generated: np.ndarray, *, seed: int = 0, max_per_class: int = 5000,
                           max_epochs: int = 20, patience: int = 3, batch_size: int = 128,
                           device: str = "cpu", network=None, on_epoch=None) -> dict:
    """``{"auroc", "n_per_class", "epochs"}`` of a real-vs-generated classifier on held-out sequences.

    ``network``: a factory of the classifier (``[B, 4, L] -> [B, 1]``; default the small CNN); ``on_epoch(epoch)``
    is called after each epoch (progress)."""
    import torch

    from d3core.evaluation.oracle_interface import one_hot_tensor

    rng = np.random.default_rng(seed)
    n = int(min(len(real), len(generated), max_per_class))
    if n < 5:
        return {"auroc": float("nan"), "n_per_class": n, "epochs": 0}
    real = np.asarray(real)[rng.permutation(len(real))[:n]]
    generated = np.asarray(generated)[rng.permutation(len(generated))[:n]]
    x = np.concatenate([real, generated])
    y = np.concatenate([np.ones(n, np.float32), np.zeros(n, np.float32)])
    parts = _group_split(x, y, rng)
    torch.manual_seed(seed)
    model = (network or _network)().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def scores(index: np.ndarray) -> np.ndarray:
        model.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(index), 512):
                out.append(model(one_hot_tensor(x[index[s:s + 512]]).to(device)).reshape(-1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    best_loss, best_state, wait, epochs = float("inf"), None, 0, 0
    for epoch in range(max_epochs):
        epochs = epoch + 1
        model.train()
        perm = parts["train"][rng.permutation(len(parts["train"]))]
        for s in range(0, len(perm), batch_size):
            index = perm[s:s + batch_size]
            if len(index) < 2:  # BatchNorm needs two rows
                continue
            logits = model(one_hot_tensor(x[index]).to(device)).reshape(-1)
            loss = loss_fn(logits, torch.from_numpy(y[index]).to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if on_epoch:
            on_epoch(epochs)
        valid_scores = torch.from_numpy(scores(parts["valid"]))
        valid_loss = float(loss_fn(valid_scores, torch.from_numpy(y[parts["valid"]])))
        if valid_loss < best_loss - 1e-4:
            best_loss, best_state, wait = valid_loss, copy.deepcopy(model.state_dict()), 0
        else:
            wait += 1
            if wait >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"auroc": auroc(scores(parts["test"]), y[parts["test"]]), "n_per_class": n, "epochs": epochs}
