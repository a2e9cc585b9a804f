"""The distribution is installed with its entry point (its format arrives with the checkpoint issue)."""
from importlib.metadata import distribution


def test_entry_point_in_group_d3():
    eps = [ep for ep in distribution("d3-ckpt-legacy").entry_points if ep.group == "d3"]
    assert [(ep.name, ep.value) for ep in eps] == [("d3-ckpt-legacy", "d3_ckpt_legacy")]
    assert eps[0].load().__name__ == "d3_ckpt_legacy"
