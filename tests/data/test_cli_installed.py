"""The installed ``d3`` script: both dataset plugins listed, ``d3 data synth`` and ``d3 data info`` end to end."""
from __future__ import annotations

import json


def test_dataset_plugins_are_listed(run_d3):
    result = run_d3("plugins", "list", "--kind", "datasets", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["deepstarr"]["provider"] == "d3-deepstarr" and rows["deepstarr"]["length"] == 249
    assert rows["mpra"]["provider"] == "d3-mpra" and rows["mpra"]["label_names"] == ["HepG2", "K562", "WTC11"]


def test_synth_then_info_from_the_command_line(run_d3, tmp_path):
    out = tmp_path / "ds.h5"
    synth = run_d3("data", "synth", "deepstarr", "--n", "64", "--out", str(out), "--seed", "1")
    assert synth.returncode == 0, synth.stderr
    assert "train 64, valid 7, test 7" in synth.stdout
    info = run_d3("data", "info", str(out))
    assert info.returncode == 0, info.stderr
    assert "dataset: deepstarr" in info.stdout and "valid: yes" in info.stdout
    bad = run_d3("data", "info", str(tmp_path / "missing.h5"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "not found" in bad.stderr
