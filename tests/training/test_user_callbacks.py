"""``--callback module:Class`` finds a module in the current directory, as ``python -m`` would, through ``d3 train``
and ``scripts/train_lightning.py`` (no PYTHONPATH needed)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
D3 = Path(sys.executable).with_name("d3")
CALLBACK = '''
import pytorch_lightning as pl


class Probe(pl.Callback):
    def on_train_end(self, trainer, module):
        open("probe-ran.txt", "w").write(f"step {trainer.global_step}")
'''


COMMANDS = {"d3 train": [str(D3), "train"],
            "scripts/train_lightning.py": [sys.executable, str(ROOT / "scripts" / "train_lightning.py")]}


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_callback_module_in_the_working_directory(command, tiny_args, tmp_path):
    (tmp_path / "mycb.py").write_text(CALLBACK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("D3_") and k != "PYTHONPATH"}
    result = subprocess.run([*command, *tiny_args, "--fast_dev_run", "--callback", "mycb:Probe"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "probe-ran.txt").read_text() == "step 1"
    if command[-1] != "train":
        return  # the wrapper runs the same command line: its errors are d3 train's
    missing = subprocess.run([*command, *tiny_args, "--fast_dev_run", "--callback", "nocb:Probe"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert f"No module named 'nocb'; looked in the installed packages and in {tmp_path}" in missing.stderr


def test_only_callbacks_the_user_typed_may_import_code():
    """A ``module:Class`` in the config is allowed when the user typed it (``--callback`` or a ``callbacks=``
    override), refused when a file put it there; registered names are always allowed."""
    from omegaconf import OmegaConf

    from d3core.errors import D3UserError
    from d3core.plugins import make_plugin_manager
    from d3core.training.components import check_callbacks_not_from_files, typed_callbacks

    manager = make_plugin_manager(env={})
    config = OmegaConf.create({"callbacks": ["lr_monitor", "helper:Probe"], "training": {"early_stopping_patience": 0}})
    origin = lambda name: "the config of checkpoint x.ckpt"  # noqa: E731
    for typed in (typed_callbacks({"callbacks": ["helper:Probe"]}, []),
                  typed_callbacks({}, ["optim.lr=1e-3", "callbacks=[lr_monitor, helper:Probe]"]),
                  typed_callbacks({}, ["callbacks=helper:Probe"])):
        assert "helper:Probe" in typed
        check_callbacks_not_from_files(config, manager, typed, origin)
    with pytest.raises(D3UserError, match="the config of checkpoint x.ckpt names the callback 'helper:Probe'"):
        check_callbacks_not_from_files(config, manager, typed_callbacks({"callbacks": ["lr_monitor"]}, []), origin)
