"""docs/writing-plugins.md: every hook has a section with a working example, and the examples really work.

The blocks marked ``<!-- file: PATH -->`` are extracted into a temporary folder (blocks naming the same file are
concatenated in page order), giving the package ``d3_my_lab``; each test checks what the page says about one hook.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from d3core import hookspecs
from d3core.testing.helpers import fresh_manager, process_manager, registered, train_smoke

PAGE = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"
FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\s*\n```(?P<lang>\w*)\n(?P<code>.*?)\n```", re.S)
PACKAGE = "d3_my_lab"


def page_text() -> str:
    return PAGE.read_text(encoding="utf-8")


def extracted_files() -> dict[str, str]:
    files: dict[str, list[str]] = {}
    for match in FILE_BLOCK.finditer(page_text()):
        files.setdefault(match["path"], []).append(match["code"])
    return {path: "\n\n".join(parts) + "\n" for path, parts in files.items()}


def hook_names() -> list[str]:
    return sorted(name for name, value in vars(hookspecs).items()
                  if inspect.isfunction(value) and hasattr(value, "d3_spec"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(folder, module)``: the extracted package, importable while the module's tests run."""
    root = tmp_path_factory.mktemp("my-lab")
    for relative, code in extracted_files().items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(code, encoding="utf-8")
    sys.path.insert(0, str(root))
    try:
        yield root, importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def lab_manager(lab):
    """A fresh manager with the page's plugin registered as ``d3-my-lab``, process-wide for the test."""
    manager = fresh_manager()
    with registered(manager, lab[1], "d3-my-lab", version="0.1.0"), process_manager(manager):
        yield manager


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_section_with_an_example(hook):
    args = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = f"### {hook}({args})"
    text = page_text()
    assert heading in text, f"docs/writing-plugins.md needs a section '{heading}'"
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    assert f"def {hook}(" in section, f"the section of {hook} needs an example implementing it"
    assert "<!-- file: d3_my_lab/__init__.py -->" in section, f"the example of {hook} must be part of the tested plugin"


def test_pyproject_declares_the_entry_point():
    project = tomllib.loads(extracted_files()["pyproject.toml"])
    name = project["project"]["name"]
    assert project["project"]["entry-points"]["d3"] == {name: PACKAGE}


def test_hook_module_is_light(lab):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(lab[0]), os.environ.get("PYTHONPATH", "")])}
    code = f"import sys, {PACKAGE}; print(sorted(m for m in ('torch', 'numpy', 'h5py') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"


def test_every_component_registers_and_loads(lab_manager):
    expected = {"datasets": "my-enhancers", "architectures": "MyCNN", "checkpoint_formats": "my-npz",
                "loggers": "jsonl", "callbacks": "step_timer", "oracles": "gc-content"}
    summary = {row["name"]: row for row in lab_manager.plugin_summaries()}["d3-my-lab"]
    assert summary["error"] is None
    assert summary["hooks"] == hook_names()
    for kind, name in expected.items():
        entry = lab_manager.get(kind, name)
        assert entry.provider.distribution == "d3-my-lab" and entry.load() is not None
    assert lab_manager.get("datasets", "MY_ENHANCERS").metadata["label_names"] == ["k562"]


def test_oracle_example_follows_the_contract(lab, lab_manager):
    import numpy as np
    import torch

    oracle = lab_manager.oracle("gc-content", "cpu")
    tokens = np.zeros((3, 200), dtype=np.int64)
    tokens[1, :50] = 1
    tokens[2] = 2
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(tokens), 4).permute(0, 2, 1).float()
    np.testing.assert_allclose(oracle.predict(one_hot)[:, 0], [0.0, 0.25, 1.0])
    assert oracle.label_names == ["gc"] and oracle.length == 200


def test_dataset_example(lab, tmp_path):
    from d3_my_lab.dataset import MyEnhancers

    dataset = MyEnhancers()
    path = dataset.synthesize(tmp_path / "synth.h5", 16)
    summary = dataset.validate(path, full=True)
    assert summary.splits["train"].x_key == "onehot_train" and summary.splits["train"].x_shape == [16, 200, 4]
    tokens, labels = dataset.open_split(path, "train")[0]
    assert tuple(tokens.shape) == (200,) and tuple(labels.shape) == (1,)


def test_architecture_example(lab, lab_manager):
    import torch

    from d3core.errors import D3UserError
    from d3core.testing.helpers import tiny_batch

    architecture = lab_manager.get("architectures", "mycnn").load()
    model = architecture.build({"num_labels": 1, "length": 32}, preset="tiny")
    out = model(*tiny_batch(num_labels=1))
    assert out.shape == (4, 32, 4) and out.dtype == torch.float32
    message = "model.n_blocks=0 is invalid for architecture MyCNN: expected an integer >= 1"
    assert message in page_text()
    with pytest.raises(D3UserError, match=re.escape(message)):
        architecture.build({"num_labels": 1, "n_blocks": 0}, preset="tiny")


def test_null_condition_example_follows_the_contract(lab):
    from d3core.testing.helpers import check_null_condition
    from d3_my_lab.guided import MyGuidedCNN

    check_null_condition(MyGuidedCNN, num_labels=1)


def test_training_with_the_logger_callback_and_trainer_hook_then_the_format(lab, lab_manager, tmp_path):
    import torch

    from d3core import load_model_local
    from d3core.checkpoints import convert_checkpoint, detect_format, load_bundle
    from d3core.training import trainer_kwargs
    from d3_my_lab.dataset import MyEnhancers

    data = MyEnhancers().synthesize(tmp_path / "synth.h5", 64)
    summary = train_smoke(lab_manager, tmp_path / "run", dataset="my-enhancers", arch="MyCNN", data=data,
                          overrides={"loggers": ["jsonl"], "callbacks": ["step_timer"]})
    assert summary["global_step"] == 1
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = set().union(*lines)
    assert {"train_loss", "step_seconds", "val_loss"} <= logged, logged
    assert trainer_kwargs(summary["plan"])["num_sanity_val_steps"] == 0  # configure_trainer

    target = tmp_path / "exported.npz"
    original = convert_checkpoint(summary["last_checkpoint"], target, to="my-npz", manager=lab_manager)
    assert detect_format(target, lab_manager)[0] == "my-npz"
    _, bundle = load_bundle(target, lab_manager)
    assert bundle.step == original.step and bundle.config == original.config
    assert all(torch.equal(bundle.ema["shadow"][k], v) for k, v in original.ema["shadow"].items())
    exported, _, _ = load_model_local(target)
    trained, _, _ = load_model_local(summary["last_checkpoint"])
    tokens, labels, sigma = torch.randint(0, 4, (2, 200)), torch.randn(2, 1), torch.rand(2)
    with torch.no_grad():
        assert torch.equal(exported(tokens, labels, sigma), trained(tokens, labels, sigma))


def test_command_example(lab, lab_manager):
    from d3core.cli import make_cli

    result = CliRunner().invoke(make_cli(lab_manager), ["my-lab-motifs", "my-enhancers"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == "GATA1\tWGATAR\nAP-1\tTGASTCA\n"
    assert "$ d3 my-lab-motifs my-enhancers\n" + result.output in page_text()


@pytest.mark.slow
def test_the_testing_section_passes(lab, tmp_path):
    root, _ = lab
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(root),
                             str(root / "tests")], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
