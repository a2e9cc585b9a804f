"""Every d3-dna model file loads (EMA applied) with d3-dna's own outputs, whatever its name; d3 reads, samples and
describes it."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = ("D3_Tran_DeepSTARR.ckpt", "D3_Tran_MPRA_HepG2.ckpt", "D3_Conv_MPRA_K562.ckpt", "D3_Conv_DeepSTARR.pth")

TOLERANCE = 1e-5


def _diff(a, b) -> float:
    return float((a - b).abs().max())


@pytest.mark.parametrize("name", MODELS)
def test_load_model_local_equals_d3dna(d3dna, reference, config_option, name):
    import d3core

    torch.set_num_threads(1)
    model, graph, noise = d3core.load_model_local(FIXTURES / name, "cpu", **config_option(name))
    inputs, expected = reference["inputs"], reference["outputs"][name]
    tokens, sigma = inputs[expected["tokens"]], inputs["sigma"]
    assert not model.training
    with torch.no_grad():
        if expected["score"] is not None:
            assert _diff(model(tokens, inputs[expected["labels"]], sigma), expected["score"]) <= TOLERANCE
        assert _diff(model(tokens, None, sigma), expected["score_labels_none"]) <= TOLERANCE
        if "score_labels_1" in expected:  # the DeepSTARR CNN: one label channel, as d3-dna's
            assert _diff(model(tokens, inputs["labels_1"], sigma), expected["score_labels_1"]) <= TOLERANCE
    assert graph.dim == 4 and noise is not None


@pytest.mark.parametrize("name", MODELS)
def test_ema_is_applied(d3dna, reference, config_option, name):
    """Without the EMA, d3 reproduces d3-dna's raw training weights instead (and they differ from the EMA ones)."""
    import d3core

    model, _, _ = d3core.load_model_local(FIXTURES / name, "cpu", use_ema=False, **config_option(name))
    inputs, expected = reference["inputs"], reference["outputs"][name]
    labels = None if "score_raw_weights_no_ema_labels" in expected else inputs[expected["labels"]]
    with torch.no_grad():
        raw = model(inputs[expected["tokens"]], labels, inputs["sigma"])
    assert _diff(raw, expected["score_raw_weights_no_ema"]) <= TOLERANCE
    assert _diff(expected["score_raw_weights_no_ema"], expected["score_labels_none"]) > 1e-3


def test_a_ckpt_renamed_pth_still_opens(d3dna, reference, fixture_file):
    """d3-dna dispatches on the extension and silently loads nothing; d3 reads the content."""
    import d3core
    from d3core.checkpoints import detect_format

    renamed = fixture_file("D3_Tran_MPRA_HepG2.ckpt", "model.pth")
    assert detect_format(renamed)[0] == "d3-dna"
    model, _, _ = d3core.load_model_local(renamed, "cpu")
    inputs, expected = reference["inputs"], reference["outputs"]["D3_Tran_MPRA_HepG2.ckpt"]
    with torch.no_grad():
        out = model(inputs["tokens_L230"], inputs["labels_1"], inputs["sigma"])
    assert _diff(out, expected["score"]) <= TOLERANCE


def test_bundle_facts(d3dna):
    from d3core.checkpoints import load_bundle

    name, bundle = load_bundle(FIXTURES / "D3_Tran_DeepSTARR.ckpt")
    assert (name, bundle.architecture, bundle.dataset, bundle.step) == ("d3-dna", "d3dna-Tran", "deepstarr", 5)
    model = bundle.config["model"]
    assert (model["hidden_size"], model["n_blocks"], model["n_heads"], model["cond_dim"]) == (48, 2, 4, 32)
    assert (model["length"], model["num_labels"], model["label_mode"]) == (249, 2, "global")
    assert len(bundle.ema["shadow"]) == 33 and "rotary_emb.inv_freq" not in bundle.ema["shadow"]
    assert bundle.config["training"]["label_dropout"] == 0.0
    _, conv = load_bundle(FIXTURES / "D3_Conv_MPRA_K562.ckpt")
    assert (conv.dataset, conv.config["model"]["channels"], conv.config["model"]["length"]) == ("lentimpra-k562", 16,
                                                                                               230)
    assert "embed.0.W" in conv.model and "embed.0.W" not in conv.ema["shadow"]  # frozen: not in d3-dna's EMA


def test_pth_without_config_names_the_flag(d3dna, d3_run_cli):
    result = d3_run_cli("checkpoint", "info", FIXTURES / "D3_Conv_DeepSTARR.pth")
    assert result.exit_code == 2
    message = result.output.strip()
    assert len(message.splitlines()) == 1 and "--legacy_config" in message and "Traceback" not in message


def test_a_config_that_contradicts_the_weights_is_refused(d3dna, d3_run_cli, tmp_path):
    text = (FIXTURES / "configs" / "D3_Conv_DeepSTARR.yaml").read_text().replace("conv_channels: 16",
                                                                                  "conv_channels: 32")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text)
    result = d3_run_cli("checkpoint", "info", FIXTURES / "D3_Conv_DeepSTARR.pth", "--legacy_config", wrong)
    assert result.exit_code == 2 and "model.channels=32 but the weights have 16" in result.output


@pytest.mark.parametrize("name, facts", [
    ("D3_Tran_DeepSTARR.ckpt", ("d3-dna", "d3dna-Tran", "deepstarr", "2 labels", "length 249", "step:         5",
                                "labels dev, hk")),
    ("D3_Conv_MPRA_K562.ckpt", ("d3-dna", "d3dna-Conv", "lentimpra-k562", "1 labels", "length 230", "step:         5",
                                "labels activity")),
])
def test_checkpoint_info(d3dna, d3_run_cli, name, facts):
    result = d3_run_cli("checkpoint", "info", FIXTURES / name)
    assert result.exit_code == 0, result.output
    for fact in facts:
        assert fact in result.output
    assert "config embedded in the file" in result.output


def test_checkpoint_info_json_of_the_pth(d3dna, d3_run_cli):
    import json

    result = d3_run_cli("checkpoint", "info", FIXTURES / "D3_Conv_DeepSTARR.pth", "--json", "--legacy_config",
                        FIXTURES / "configs" / "D3_Conv_DeepSTARR.yaml")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["format"], info["architecture"], info["step"]) == ("d3-dna", "d3dna-Conv", 5)
    assert info["labels"] == {"num_labels": 0, "label_mode": "none", "length": 249}
    assert info["d3dna"]["layout"] == "sedd"


@pytest.mark.parametrize("name, labels, length", [
    ("D3_Tran_DeepSTARR.ckpt", "dev=1.5,hk=-0.5", 249),
    ("D3_Conv_MPRA_K562.ckpt", "activity=2.0", 230),
])
def test_sample_with_labels(d3dna, d3_run_cli, tmp_path, name, labels, length):
    out = tmp_path / "samples.fasta"
    result = d3_run_cli("sample", FIXTURES / name, "--labels", labels, "--num", 3, "--steps", 4, "--device", "cpu",
                        "-o", out)
    assert result.exit_code == 0, result.output
    records = out.read_text().split(">")[1:]
    assert len(records) == 3
    for record in records:
        header, sequence = record.strip().split("\n", 1)
        assert set(sequence.strip()) <= set("ACGT") and len(sequence.strip()) == length
        assert all(pair.split("=")[0] in header for pair in labels.split(","))
