"""The Tran plugin reproduces the original D3 transformer, number for number (issue 3, item 4).

The fixture ``legacy_runs/deepstarr_tran_tiny`` is a recipe (MANIFEST.json) for an original-format run plus the
outputs the original code computed with its weights (reference_outputs.pt, fp32, CPU, plain softmax attention).
The weights are rebuilt with :mod:`d3_ckpt_legacy.testing`; only the transformer-path keys are loaded into ``Tran``
(the original's dead modules -- ``scale``, ``label_embed``, ``embed``, the convolutional tower -- are dropped).
"""
from pathlib import Path

import pytest
import torch

from d3_ckpt_legacy.testing import build_legacy_state, ema_by_name, load_manifest, write_legacy_run

FIXTURE = Path(__file__).parent / "fixtures" / "legacy_runs" / "deepstarr_tran_tiny"
TOLERANCE = 1e-4  # max abs difference, fp32 (fixtures/README.md)
# Keys of the original SEDD class that the clean transformer does not have.
DEAD_PREFIXES = ("scale", "label_embed.", "embed.", "linear.", "conv_blocks.", "denses.", "norms.", "final.",
                 "label_emb.")

tran_model = pytest.importorskip("d3_arch_tran.model")


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(FIXTURE / "MANIFEST.json")


@pytest.fixture(scope="module")
def reference():
    return torch.load(FIXTURE / "reference_outputs.pt", weights_only=True)


@pytest.fixture(scope="module")
def legacy_state(manifest):
    return build_legacy_state(manifest)


def build_tran(manifest):
    """``Tran`` with the run's own model.* values (the fixture is the tiny shape) and its label count."""
    model_config = dict(manifest["config"]["model"], num_labels=manifest["n_labels"],
                        tokens=manifest["config"]["tokens"])
    model = tran_model.TranArchitecture.build(model_config)
    return model.eval()


def transformer_state(model, weights):
    """Select ``model``'s keys from the original ``weights``; everything else must be a known dead module."""
    ours = model.state_dict()
    missing = [key for key in ours if key not in weights]
    unexpected = [key for key in weights if key not in ours and not key.startswith(DEAD_PREFIXES)]
    assert not missing and not unexpected, (missing, unexpected)
    for key, tensor in ours.items():
        assert weights[key].shape == tensor.shape, key
    return {key: weights[key] for key in ours}


def test_tiny_preset_matches_fixture_shape(manifest):
    model_cfg = manifest["config"]["model"]
    tiny = tran_model.TranArchitecture.preset("tiny")
    for key in ("hidden_size", "n_blocks", "n_heads", "cond_dim", "dropout"):
        assert tiny[key] == model_cfg[key], key


def test_parameter_keys_are_the_original_transformer_path_in_order(manifest, legacy_state):
    model = build_tran(manifest)
    original = [e["key"] for e in manifest["state_dict"] if not e["key"].startswith(DEAD_PREFIXES)]
    assert list(model.state_dict()) == original
    # EMA names of the clean model: the original's EMA order restricted to the parameters it has
    assert [n for n, _ in model.named_parameters()] == [n for n in manifest["ema_params"]
                                                       if not n.startswith(DEAD_PREFIXES)]


def test_raw_weights_reproduce_out_model_weights(manifest, legacy_state, reference):
    model = build_tran(manifest)
    model.load_state_dict(transformer_state(model, legacy_state["model"]), strict=True)
    with torch.no_grad():
        out = model(reference["indices"], reference["labels"], reference["sigma"])
    assert out.shape == reference["out_model_weights"].shape
    assert (out - reference["out_model_weights"]).abs().max().item() <= TOLERANCE


def ema_model(manifest, legacy_state):
    """Tran carrying the EMA weights, as the original ``load_model_local`` returns (buffers from the model entry)."""
    model = build_tran(manifest)
    ema = ema_by_name(manifest, legacy_state)
    weights = dict(legacy_state["model"])
    weights.update({name: tensor for name, tensor in ema.items() if name in weights})
    model.load_state_dict(transformer_state(model, weights), strict=True)
    for name, param in model.named_parameters():  # every parameter came from the EMA, none from the raw weights
        assert torch.equal(param, ema[name]), name
    return model


def test_ema_weights_reproduce_out_ema_weights(manifest, legacy_state, reference):
    model = ema_model(manifest, legacy_state)
    with torch.no_grad():
        out = model(reference["indices"], reference["labels"], reference["sigma"])
    assert (out - reference["out_ema_weights"]).abs().max().item() <= TOLERANCE
    # the two references differ, so the check above really tells raw from EMA weights
    assert (reference["out_ema_weights"] - reference["out_model_weights"]).abs().max().item() > 100 * TOLERANCE


def test_ema_weights_reproduce_loss_per_sequence(manifest, legacy_state, reference):
    diffusion = pytest.importorskip("d3core.diffusion")
    model = ema_model(manifest, legacy_state)
    graph = diffusion.UniformGraph(manifest["config"]["tokens"])
    sigma, dsigma = reference["total_noise"], reference["rate_noise"]
    with torch.no_grad():
        log_score = model(reference["perturbed"], reference["labels"], sigma)
        entropy = graph.score_entropy(log_score, sigma[:, None], reference["perturbed"], reference["indices"])
        loss = (dsigma[:, None] * entropy).sum(dim=-1)
    expected = reference["loss_per_sequence_ema"]
    assert (loss - expected).abs().max().item() <= TOLERANCE * expected.abs().max().clamp(min=1).item()

    # the same through the training loss with the run's own schedule at the fixture's times
    noise_cfg = manifest["config"]["noise"]
    noise = diffusion.GeometricNoise(noise_cfg["sigma_min"], noise_cfg["sigma_max"])
    with torch.no_grad():
        via_loss = diffusion.sedd_loss(model, graph, noise, reference["indices"], reference["labels"],
                                       t=reference["t"], perturbed=reference["perturbed"])
    torch.testing.assert_close(via_loss, expected, rtol=1e-4, atol=1e-4)


def test_conv_paper_keys_and_shapes_are_the_original_conv_tower(manifest):
    """The original checkpoint carries the (here untrained) conv tower: Conv ``paper`` has its exact layout.

    Only ``sigma_map`` differs (the fixture's is the transformer's, cond_dim 32; the conv tower's Dense layers are
    hard-wired to 256 in the original, hence cond_dim 256 for Conv runs).
    """
    conv_model = pytest.importorskip("d3_arch_conv.model")
    with torch.device("meta"):
        model = conv_model.ConvArchitecture.build(
            {"num_labels": manifest["n_labels"], "length": manifest["config"]["model"]["length"]}, preset="paper")
    conv_prefixes = ("linear.", "conv_blocks.", "denses.", "norms.", "final.", "label_emb.")
    original = [(e["key"], tuple(e["shape"])) for e in manifest["state_dict"] if e["key"].startswith(conv_prefixes)]
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items() if not k.startswith("sigma_map.")]
    assert ours == original


def test_written_run_round_trips_and_needs_the_numpy1_alias(manifest, legacy_state, tmp_path):
    import codecs

    import numpy as np

    run = write_legacy_run(manifest, tmp_path / "run")
    assert (run / "hydra" / "config.yaml").is_file()
    path = run / "checkpoints" / "checkpoint.pth"
    with pytest.raises(Exception):  # numpy scalars are not allow-listed by default
        torch.load(path, weights_only=True)
    allowed = [(np._core.multiarray.scalar, "numpy.core.multiarray.scalar"), np.dtype, type(np.dtype("float64")),
               codecs.encode]
    with torch.serialization.safe_globals(allowed):
        loaded = torch.load(path, weights_only=True, mmap=True)
    assert list(loaded) == ["optimizer", "model", "ema", "step"]
    assert loaded["step"] == manifest["step"]
    assert type(loaded["optimizer"]["param_groups"][0]["lr"]) is np.float64
    assert list(loaded["model"]) == [e["key"] for e in manifest["state_dict"]]
    for key, tensor in legacy_state["model"].items():
        assert torch.equal(loaded["model"][key], tensor), key
    for a, b in zip(loaded["ema"]["shadow_params"], legacy_state["ema"]["shadow_params"], strict=True):
        assert torch.equal(a, b)
    with_state = set(manifest["optimizer_params_with_state"])
    assert sorted(loaded["optimizer"]["state"]) == [j for j, n in enumerate(manifest["optimizer_params"])
                                                    if n in with_state]
    import yaml

    assert yaml.safe_load((run / "hydra" / "config.yaml").read_text()) == manifest["config"]
