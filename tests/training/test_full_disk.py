"""A checkpoint save without room -- tested for real: a file-size limit (``ulimit -f``, RLIMIT_FSIZE) on the d3
process, and a 1 MB tmpfs where this machine allows unprivileged mounts -- leaves the previous checkpoint loadable
and says so in one line with the path and the space needed; training stops, or goes on when configured to."""
from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import textwrap

import pytest

from d3core.checkpoints import load_bundle
from installed_d3 import D3_SCRIPT, user_env

LIMIT = 1_000_000  # bytes: a tiny Tran checkpoint is ~2 MB; config, logs and event files are far smaller


def _limited(limit: int = LIMIT):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


SAVE = textwrap.dedent("""
    import sys, torch
    from d3core.atomic import NoSpaceError, atomic_torch_save
    try:
        atomic_torch_save({"weights": torch.zeros(1_000_000)}, sys.argv[1])  # 4 MB
    except NoSpaceError as exc:
        print(exc)
        sys.exit(3)
""")


def test_atomic_save_over_a_file_size_limit_keeps_the_previous_file(tmp_path):
    import torch

    path = tmp_path / "model.pt"
    torch.save({"weights": torch.ones(10)}, path)
    result = subprocess.run([sys.executable, "-c", SAVE, str(path)], capture_output=True, text=True, timeout=120,
                            preexec_fn=_limited())
    assert result.returncode == 3, result.stderr
    line = result.stdout.strip()
    assert line == (f"cannot write {path}: the file exceeds this process's file-size limit (ulimit -f: 1.0 MB); it "
                    f"needs about 4.0 MB, {line.split('MB, ')[1].split(' free')[0]} free there; the previous "
                    "model.pt is unchanged; free some space or write elsewhere")
    assert torch.equal(torch.load(path, weights_only=True)["weights"], torch.ones(10))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # the partial temporary file is gone


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="no unprivileged user and mount namespaces here")
def test_atomic_save_on_a_full_file_system_keeps_the_previous_file(tmp_path):
    """A real ENOSPC: a 1 MB tmpfs in a private mount namespace (``unshare -rm``), a 4 MB checkpoint."""
    script = tmp_path / "save.py"
    script.write_text(SAVE)
    mounted = tmp_path / "small"
    mounted.mkdir()
    shell = (f"mount -t tmpfs -o size=1m tmpfs {mounted} && echo old > {mounted}/model.pt && "
             f"{sys.executable} {script} {mounted}/model.pt; code=$?; cat {mounted}/model.pt; ls -a {mounted}; "
             "exit $code")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", shell], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"cannot write {mounted}/model.pt: no space left on the device; it needs about "
                               "4.0 MB, ") and "the previous model.pt is unchanged" in lines[0]
    assert lines[1] == "old" and sorted(lines[2:]) == [".", "..", "model.pt"]


def _train(args, cwd, limit: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(D3_SCRIPT), "train", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=user_env(), preexec_fn=_limited(limit) if limit else None)


@pytest.mark.slow
def test_training_on_a_full_disk_stops_or_goes_on_as_configured(tiny_args, tmp_path):
    run = tmp_path / "run"
    args = [*tiny_args, "--work_dir", run, "--logger", "csv"]
    first = _train([*args, "--max_steps", "2"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    last = run / "checkpoints" / "last.ckpt"
    assert load_bundle(last)[1].step == 2

    stopped = _train([*args, "--resume_from", "last", "--max_steps", "4"], tmp_path, limit=LIMIT)
    assert stopped.returncode == 2, stopped.stderr[-3000:]
    error = stopped.stderr.split("Error: ")[-1].strip()
    assert error.startswith(f"cannot write {last}: the file exceeds this process's file-size limit (ulimit -f: "
                            "1.0 MB); it needs about ") and "the previous last.ckpt is unchanged" in error
    assert "training stopped at step 4" in error and "\n" not in error and "Traceback" not in stopped.stderr
    assert load_bundle(last)[1].step == 2  # still there, still loadable
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".part")]

    going_on = _train([*args, "--resume_from", "last", "--max_steps", "6",
                       "lightning.checkpoint.on_full_disk=continue"], tmp_path, limit=LIMIT)
    assert going_on.returncode == 0, going_on.stderr[-3000:]
    assert "finished at step 6" in going_on.stdout
    assert "training goes on without the checkpoint of step 6" in going_on.stderr
    assert "checkpoint save(s) found no room" in going_on.stderr
    assert load_bundle(last)[1].step == 2
    resumed = _train([*args, "--resume_from", "last", "--max_steps", "3"], tmp_path)  # room again: from step 2
    assert resumed.returncode == 0 and load_bundle(last)[1].step == 3, resumed.stderr[-2000:]
