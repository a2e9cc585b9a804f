"""``d3 oracle train`` on data with missing labels: missing targets take no part in the loss, and the metrics of a
label use the rows where it was measured."""
from __future__ import annotations

import numpy as np
import torch

from d3core.evaluation.metrics import pearson
from d3core.evaluation.oracle_training import masked_mse, train_oracle
from d3core.testing.helpers import with_missing_labels


def test_masked_mse_ignores_missing_targets_and_is_mse_without_them():
    prediction = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    full = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    assert torch.equal(masked_mse(prediction, full), torch.nn.functional.mse_loss(prediction, full))
    missing = torch.tensor([[0.0, float("nan")], [float("nan"), 1.0]])
    loss = masked_mse(prediction, missing)
    assert torch.isclose(loss, torch.tensor((1.0 + 9.0) / 2))
    loss.backward()
    assert prediction.grad[0, 1] == 0 and prediction.grad[1, 0] == 0


def test_per_label_metrics_use_the_measured_rows():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(50, 2))
    prediction = truth + 0.1 * rng.normal(size=(50, 2))
    labels = truth.copy()
    labels[:20, 0] = np.nan
    np.testing.assert_allclose(pearson(prediction, labels),
                               [pearson(prediction[20:, :1], truth[20:, :1])[0], pearson(prediction, truth)[1]])


def test_oracle_trains_on_data_with_missing_labels(tiny_data, tmp_path):
    from d3_deepstarr.dataset import DeepSTARR

    def first_half_of_hk(y):  # hk measured in half of the rows
        mask = np.zeros(y.shape, dtype=bool)
        mask[: len(y) // 2, 1] = True
        return mask

    path = with_missing_labels(tiny_data, tmp_path / "missing.h5", first_half_of_hk)
    out, metrics = train_oracle(DeepSTARR(), path, tmp_path / "o.ckpt", max_epochs=2, batch_size=32,
                                accelerator="cpu")
    assert out.exists() and np.isfinite(metrics["test_mse"])
    assert metrics["test_measured"] == {"dev": 10, "hk": 5}
    assert all(np.isfinite(v) for v in metrics["test_pearson"].values())
