"""d3-dna's data files train, sample and evaluate under datasets of their own (lentiMPRA) or d3's ``deepstarr``
(same layout); a published model is fine-tuned or resumed on them."""
from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("dataset, file, labels", [
    ("lentimpra-hepg2", "data_MPRA_HepG2.h5", ["activity"]),
    ("lentimpra-k562", "data_MPRA_K562.h5", ["activity"]),
    ("deepstarr", "data_DeepSTARR.h5", ["dev", "hk"]),
])
def test_the_files_are_read_by_their_dataset(d3dna, d3_plugin_manager, dataset, file, labels):
    data = d3_plugin_manager.dataset(dataset)
    data.validate(FIXTURES / file, full=True)
    assert data.label_names_in(FIXTURES / file) == labels
    split = data.open_split(FIXTURES / file, "valid")
    tokens, y = split[0][:2] if isinstance(split[0], tuple) else (split[0]["tokens"], split[0]["labels"])
    assert len(split) == 32 and tuple(tokens.shape) == (data.length,) and tuple(y.shape) == (len(labels),)


def test_d3_data_info(d3dna, d3_run_cli):
    result = d3_run_cli("data", "info", FIXTURES / "data_MPRA_K562.h5", "--dataset", "lentimpra-k562")
    assert result.exit_code == 0, result.output
    assert "230" in result.output


@pytest.mark.parametrize("dataset, arch, file", [
    ("lentimpra-hepg2", "d3dna-Conv", "data_MPRA_HepG2.h5"),
    ("deepstarr", "d3dna-Tran", "data_DeepSTARR.h5"),
])
def test_trains_from_scratch(d3dna, d3_train_smoke, dataset, arch, file):
    summary = d3_train_smoke(dataset=dataset, arch=arch, data=FIXTURES / file,
                             overrides=("training.label_dropout=0",))
    assert summary["global_step"] == 1


@pytest.mark.parametrize("name, data", [("D3_Conv_MPRA_K562.ckpt", "data_MPRA_K562.h5"),
                                        ("D3_Tran_DeepSTARR.ckpt", "data_DeepSTARR.h5")])
def test_resumes_a_published_model_on_its_data(d3dna, d3_run_cli, tmp_path, name, data):
    from d3core.checkpoints import load_bundle

    run = tmp_path / "run"
    result = d3_run_cli("train", "--resume_from", FIXTURES / name, "--data", FIXTURES / data, "--work_dir", run,
                        "--max_steps", 6, "--logger", "csv", "--accelerator", "cpu")
    assert result.exit_code == 0, result.output
    fmt, bundle = load_bundle(run / "checkpoints" / "last.ckpt")
    assert (fmt, bundle.architecture, bundle.step) == ("lightning", load_bundle(FIXTURES / name)[1].architecture, 6)
