"""Every figure printed beside a published one says which oracle made it (issue 31)."""
from __future__ import annotations

from types import SimpleNamespace

from d3core.evaluation.report import oracle_provenance, render_report


def _oracle(**info):
    return SimpleNamespace(info=info)


def test_the_oracle_is_named_beside_a_published_figure():
    assert "original D3 oracle checkpoint" in oracle_provenance(
        _oracle(format="original D3 oracle (Lightning checkpoint)"))
    weak = oracle_provenance(_oracle(metrics={"test_pearson": {"dev": 0.71, "hk": 0.12}}))
    assert weak.startswith("oracle: NOT the paper's, test Pearson dev 0.71, hk 0.12")
    assert "a weak oracle (< 0.5): the comparison says little" in weak
    strong = oracle_provenance(_oracle(metrics={"test_pearson": {"dev": 0.71, "hk": 0.66}}))
    assert "NOT the paper's" in strong and "weak" not in strong
    assert "test Pearson unknown" in oracle_provenance(_oracle())


def test_the_report_table_carries_the_oracle_line():
    row = {"published": 0.468, "source": "paper", "this_run": 0.04,
           "oracle": "oracle: NOT the paper's, test Pearson WTC11 0.05; a weak oracle (< 0.5): the comparison says "
                     "little"}
    text = render_report({"metrics": {"n_generated": 1, "n_reference": 1, "sp_mse": 0.04},
                          "published": {"sp_mse": row}, "inputs": {}})
    assert "| `sp_mse` | 0.04 | 0.468 | paper | oracle: NOT the paper's, test Pearson WTC11 0.05; a weak" in text
