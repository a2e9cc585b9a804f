"""The loss anchors of the spec: ~L ln 4 per sequence at initialisation, clearly lower after a short run."""
from __future__ import annotations

import math

import torch
from omegaconf import OmegaConf


def test_initial_loss_of_zero_initialised_tran_is_about_L_ln4(deepstarr_file):
    from d3_arch_tran.model import TranArchitecture
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.diffusion import GeometricNoise, UniformGraph, sedd_loss

    torch.manual_seed(0)
    network = TranArchitecture.build({"num_labels": 2, "length": 249}, preset="tiny").eval()
    data = DeepSTARR().open_split(deepstarr_file, "train")
    tokens, labels = data.read_batch(list(range(256)))
    t = (torch.arange(256) + 0.5) / 256 * (1 - 1e-3) + 1e-3  # evenly spread over [1e-3, 1]
    with torch.no_grad():
        loss = sedd_loss(network, UniformGraph(4), GeometricNoise(), tokens, labels, t=t).mean().item()
    assert abs(loss - 249 * math.log(4)) / (249 * math.log(4)) < 0.03, loss  # 345.2


def test_validation_loss_drops_clearly_below_L_ln4(d3_cli, tiny_args, tmp_path):
    run = tmp_path / "run"
    result = d3_cli("train", *tiny_args, "--work_dir", run, "--max_steps", "60", "--val_check_interval", "60",
                    "--logger", "csv", "optim.lr=1e-3")
    assert result.exit_code == 0, result.output
    import csv

    rows = [r for r in csv.DictReader((run / "csv" / "metrics.csv").open()) if r.get("val_loss")]
    val_loss = float(rows[-1]["val_loss"])
    assert val_loss < 0.9 * 249 * math.log(4), val_loss
    assert OmegaConf.load(run / "config.yaml").optim.lr == 1e-3
