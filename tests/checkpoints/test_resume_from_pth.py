"""``d3 train --resume_from run/checkpoints/checkpoint.pth`` continues the original run: same step, EMA, Adam moments
and warm-up position (the .pth is converted to a full Lightning checkpoint that Lightning restores itself)."""
from __future__ import annotations

import copy

import pytest
import torch

from d3core.checkpoints import load_bundle
from d3_ckpt_legacy.testing import write_legacy_run

STEP, WARMUP, LR = 40, 100, 3e-4


@pytest.fixture(scope="module")
def early_run(manifest, tmp_path_factory):
    """An original run saved at step 40 of a 100-step warm-up (so the learning rate is still ramping)."""
    conv_tower = ("linear.", "conv_blocks.", "denses.", "norms.", "final.", "label_emb.")
    recipe = copy.deepcopy(manifest)  # without the dead conv tower (dropped on import anyway): a small file
    recipe["state_dict"] = [e for e in recipe["state_dict"] if not e["key"].startswith(conv_tower)]
    for key in ("ema_params", "optimizer_params", "optimizer_params_with_state"):
        recipe[key] = [k for k in recipe[key] if not k.startswith(conv_tower)]
    recipe["optimizer_param_groups"][0]["params"] = list(range(len(recipe["optimizer_params"])))
    recipe["step"] = STEP
    recipe["config"]["optim"]["warmup"] = WARMUP
    return write_legacy_run(recipe, tmp_path_factory.mktemp("early") / "deepstarr_tran_early")


@pytest.fixture(scope="module")
def deepstarr_data(tmp_path_factory):
    from d3_deepstarr.dataset import DeepSTARR

    path = tmp_path_factory.mktemp("data") / "deepstarr_synth.h5"
    DeepSTARR().synthesize(path, 256, seed=3)
    return path


def _nested_keys(value, prefix=""):
    if not isinstance(value, dict):
        return {prefix}
    keys = set()
    for key, child in value.items():
        keys |= _nested_keys(child, f"{prefix}/{key}")
    return keys


def test_resume_from_original_pth_continues_the_run(early_run, deepstarr_data, cli, tmp_path):
    from d3core.builtin.checkpoint_lightning import lightning_loops

    _, before = load_bundle(early_run)
    result = cli("train", "--resume_from", early_run / "checkpoints" / "checkpoint.pth", "--data", deepstarr_data,
                 "--work_dir", tmp_path / "continued", "--max_steps", STEP + 1, "--batch_size", 16,
                 "--accelerator", "cpu", "--logger", "csv", "eval.batch_size=32")
    assert result.exit_code == 0, result.output
    assert f"d3: finished at step {STEP + 1}" in result.output
    after = torch.load(tmp_path / "continued" / "checkpoints" / "last.ckpt", weights_only=True)
    assert after["global_step"] == STEP + 1
    assert after["d3_config"]["model"]["hidden_size"] == 64 and after["d3_config"]["arch"] == "Tran"
    assert after["lr_schedulers"][0]["last_epoch"] == STEP + 1
    # our synthetic loops state has Lightning's own key layout
    assert _nested_keys(lightning_loops(7, 7)) == _nested_keys(after["loops"])

    names = [k[len("model."):] for k in after["state_dict"] if "inv_freq" not in k]
    moments = {names[i]: s for i, s in after["optimizer_states"][0]["state"].items()}
    assert {int(s["step"]) for s in moments.values()} == {STEP + 1}  # Adam continued from the restored moments

    name = "output_layer.linear.weight"  # a parameter with large gradients (cancellation-free checks)
    b1, b2, eps = 0.9, 0.999, 1e-8
    m0, v0 = (before.optimizer["state"][name][k].double() for k in ("exp_avg", "exp_avg_sq"))
    m1, v1 = (moments[name][k].double() for k in ("exp_avg", "exp_avg_sq"))
    grad = (m1 - b1 * m0) / (1 - b1)
    grad_sq = (v1 - b2 * v0) / (1 - b2)
    assert grad_sq.max() > 1e-6  # real gradients, so the check below is not vacuous
    torch.testing.assert_close(grad * grad, grad_sq, rtol=1e-3, atol=1e-4 * grad_sq.max().item())  # old m, v used

    # the update used the warm-up learning rate of optimizer step 41: 3e-4 * 41 / 100
    t = STEP + 1
    direction = (m1 / (1 - b1 ** t)) / ((v1 / (1 - b2 ** t)).sqrt() + eps)
    p0, p1 = before.model[name].double(), after["state_dict"]["model." + name].double()
    lr_used = ((p0 - p1) * direction).sum() / (direction * direction).sum()
    assert lr_used.item() == pytest.approx(LR * (STEP + 1) / WARMUP, rel=1e-4)

    # the EMA continued: one more update with decay min(0.9999, (1 + n) / (10 + n)), n = 1235
    ema = after["d3_ema"]
    assert ema["num_updates"] == before.ema["num_updates"] + 1
    n = ema["num_updates"]
    decay = min(0.9999, (1 + n) / (10 + n))
    for key, shadow in before.ema["shadow"].items():
        expected = shadow - (1 - decay) * (shadow - after["state_dict"]["model." + key])
        torch.testing.assert_close(ema["shadow"][key], expected, rtol=0, atol=1e-6, msg=key)


def test_resume_from_pth_refuses_a_conflicting_architecture(early_run, deepstarr_data, cli, tmp_path):
    # --arch reaches the original-format loader (which tower the run trained), and the file contradicts it
    result = cli("train", "--resume_from", early_run, "--arch", "Conv", "--data", deepstarr_data,
                 "--work_dir", tmp_path / "never", "--dry-run")
    assert result.exit_code == 2 and "the run trained the other tower -- check --arch" in result.output
    assert not (tmp_path / "never").exists()


def test_resume_from_a_lone_pth_with_its_original_config(early_run, deepstarr_data, cli, tmp_path):
    lone = tmp_path / "lone" / "checkpoints" / "checkpoint.pth"
    lone.parent.mkdir(parents=True)
    lone.symlink_to(early_run / "checkpoints" / "checkpoint.pth")
    common = ["--data", deepstarr_data, "--max_steps", STEP + 1, "--batch_size", 16, "--accelerator", "cpu",
              "--logger", "csv", "eval.batch_size=32"]
    without = cli("train", "--resume_from", lone, "--work_dir", tmp_path / "never", *common)
    assert without.exit_code == 2 and "pass the run's config with --legacy_config" in without.output
    result = cli("train", "--resume_from", lone, "--legacy_config", early_run / "hydra" / "config.yaml",
                 "--work_dir", tmp_path / "continued", *common)
    assert result.exit_code == 0, result.output
    assert f"d3: finished at step {STEP + 1}" in result.output
    after = torch.load(tmp_path / "continued" / "checkpoints" / "last.ckpt", weights_only=True)
    assert after["global_step"] == STEP + 1 and after["d3_config"]["optim"]["warmup"] == WARMUP
