"""``d3 oracle train`` as a training run (issue 31): the best epoch so far is on disk while it trains, SIGTERM ends
it non-zero with that file left and said, and ``--test-rows`` bounds the final test evaluation."""
from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest

from installed_d3 import D3_SCRIPT, user_env


@pytest.fixture(scope="module")
def larger_data(tmp_path_factory):
    """A DeepSTARR-layout file whose epochs take a moment (400 training rows, batches of 16)."""
    from d3_deepstarr.dataset import DeepSTARR

    path = tmp_path_factory.mktemp("oracle-stop") / "ds.h5"
    DeepSTARR().synthesize(path, 400, seed=3)
    return path


def _lines_until(stream, text: str, seconds: float) -> list[str]:
    """Read ``stream`` until a line containing ``text`` (or EOF, or ``seconds``); return the lines read."""
    lines: list[str] = []
    found = threading.Event()

    def read():
        for line in stream:
            lines.append(line)
            if text in line:
                found.set()
                return
        found.set()

    threading.Thread(target=read, daemon=True).start()
    found.wait(seconds)
    return lines


@pytest.mark.parametrize("signum, name, status", [(signal.SIGTERM, "SIGTERM", 143), (signal.SIGINT, "SIGINT", 130)])
def test_a_signal_leaves_the_best_epoch_and_exits_non_zero(larger_data, tmp_path, signum, name, status):
    from d3core.evaluation.oracle import load_oracle

    out = tmp_path / "stopped.oracle.ckpt"
    proc = subprocess.Popen([str(D3_SCRIPT), "oracle", "train", "--dataset", "deepstarr", "--data", str(larger_data),
                             "-o", str(out), "--max-epochs", "500", "--patience", "500", "--batch-size", "16",
                             "--accelerator", "cpu", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=user_env())
    try:
        lines = _lines_until(proc.stderr, "oracle epoch 0/", 600)
        assert any("oracle epoch 0/" in line for line in lines), "".join(lines)
        assert out.is_file()  # the best epoch so far, before the run ends
        time.sleep(0.5)
        proc.send_signal(signum)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, "".join(lines) + rest
    assert f"stopped by {name}; the best epoch so far" in rest and str(out) in rest
    assert "Traceback" not in rest
    loaded = load_oracle(out)
    assert loaded.info["partial"] and loaded.info["metrics"]["best_epoch"] >= 0
    assert "PARTIAL" in loaded.describe()


def test_test_rows_bound_the_test_evaluation(tiny_data, tmp_path):
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.evaluation.oracle import load_oracle
    from d3core.evaluation.oracle_training import train_oracle

    lines: list[str] = []
    path, metrics = train_oracle(DeepSTARR(), tiny_data, tmp_path / "o.ckpt", max_epochs=1, batch_size=32,
                                 accelerator="cpu", test_rows=4, echo=lines.append)
    assert metrics["test_rows"] == 4 and metrics["test_rows_total"] == 10
    assert metrics["valid_rows"] == 4 and metrics["best_epoch"] == 0
    assert "partial" not in load_oracle(path).info
    assert any(line.startswith("oracle epoch 0/0:") and "s/epoch" in line for line in lines), lines
