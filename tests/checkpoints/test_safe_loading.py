"""Every load is torch.load(weights_only=True) with an explicit numpy allow-list: code-executing pickles, truncated
and corrupt files are refused with one clear line (exit 2), and nothing in them is executed."""
from __future__ import annotations

import io
import os
import pickle
import zipfile

import pytest
import torch

from d3_ckpt_legacy.run_dir import is_original_checkpoint

from d3core.checkpoints import UnsafeCheckpointError, allowed_globals, detect_format, load_model_local, safe_torch_load
from d3core.errors import D3UserError


class _Payload:
    """Unpickling this runs ``os.system("touch <marker>")``: the proof of execution a safe loader must never leave."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _malicious_zip(path, marker):
    """A torch zip checkpoint (original layout keys) whose data.pkl would run a shell command."""
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.zeros(2)}}, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = pickle.dumps({"model": _Payload(marker), "ema": {}, "optimizer": {}, "step": 1}, protocol=2)
            target.writestr(info, data)
    return path


def _malicious_plain(path, marker):
    """An old-style (non-zip) pickle file with the same payload."""
    path.write_bytes(pickle.dumps({"model": _Payload(marker)}, protocol=2))
    return path


@pytest.fixture(params=["zip", "plain"])
def malicious(request, tmp_path):
    marker = tmp_path / "PWNED"
    make = _malicious_zip if request.param == "zip" else _malicious_plain
    return make(tmp_path / f"evil_{request.param}.pth", marker), marker


def test_the_payload_really_executes_when_unpickled_unsafely(tmp_path):
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()  # so the "not created" checks below mean something


def test_malicious_pickle_is_refused_and_nothing_runs(malicious, cli):
    path, marker = malicious
    with pytest.raises(UnsafeCheckpointError, match=r"refused: .*evil_\w+\.pth holds a non-allow-listed object "
                                                    r"posix\.system"):
        safe_torch_load(path)
    for call in (lambda: detect_format(path), lambda: is_original_checkpoint(path), lambda: load_model_local(path)):
        with pytest.raises(UnsafeCheckpointError):
            call()
    for args in (("checkpoint", "info", path), ("convert", path), ("checkpoint", "verify", path)):
        result = cli(*args)
        assert result.exit_code in (1, 2) and "refused:" in result.output and "posix.system" in result.output
        assert "Traceback" not in result.output
    assert cli("checkpoint", "info", path).exit_code == 2
    assert len(cli("convert", path).output.strip().splitlines()) == 1  # one line: Error: refused: ...
    assert not marker.exists()


def test_truncated_and_corrupt_files_are_refused_clearly(lightning_ckpt, tmp_path, cli):
    data = lightning_ckpt.read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(bytes(range(256)) * 16)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(D3UserError, match="truncated or corrupt"):
        detect_format(truncated)
    for path in (corrupt, empty):
        with pytest.raises(D3UserError, match="not a readable torch checkpoint"):
            detect_format(path)
    result = cli("checkpoint", "info", truncated)
    assert result.exit_code == 2 and "truncated or corrupt" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("seed", range(40))
def test_garbage_bytes_are_a_clear_error_whatever_they_hold(seed, tmp_path):
    import random

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(random.Random(seed).randbytes(2048))
    with pytest.raises(D3UserError, match="not a readable torch checkpoint"):
        safe_torch_load(garbage)


def test_original_files_need_the_numpy1_alias_and_get_it(legacy_run):
    path = legacy_run / "checkpoints" / "checkpoint.pth"
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # the default allow-list refuses numpy scalars
    loaded = safe_torch_load(path, mmap=True)
    assert set(loaded) == {"model", "ema", "optimizer", "step"}
    import numpy as np

    assert type(loaded["optimizer"]["param_groups"][0]["lr"]) is np.float64
    names = [item[1] if isinstance(item, tuple) else f"{item.__module__}.{item.__name__}" for item in allowed_globals()]
    assert "numpy.core.multiarray.scalar" in names and "numpy._core.multiarray.scalar" in names
    assert "numpy.dtype" in names and "numpy.dtypes.Float64DType" in names
    assert not any(name.startswith(("os.", "posix.", "builtins.", "subprocess.")) for name in names)
