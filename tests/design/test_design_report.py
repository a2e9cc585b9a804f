"""The design report through the library, no CLI: ``design`` then ``design_report`` (the baseline re-run, the real
sequences, report.md, the measured gain), on a 1-step Tran tiny DeepSTARR checkpoint and the original D3 DeepSTARR
oracle (249 bp, dev/hk)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from d3core.errors import D3UserError

ORACLE = Path(__file__).parents[1] / "fixtures" / "original_oracles" / "oracle_DeepSTARR_DeepSTARR_data.ckpt"


@pytest.fixture(scope="module")
def request_parts(trained_checkpoint):
    """``(model, oracle, label rows, data file)`` of the request every test here designs for."""
    from d3core.evaluation.oracle import load_oracle
    from d3core.generation import SamplingModel

    ckpt, data = trained_checkpoint
    sm = SamplingModel.load(ckpt, "cpu")
    return sm, load_oracle(ORACLE), sm.parse_labels(["dev=1,hk=0"]), data


def _design(request_parts, **settings):
    from d3core.design import DesignSettings, design

    sm, oracle, rows, _ = request_parts
    return design(sm, oracle, "dev - hk", rows, 3, settings=DesignSettings(**settings), steps=4, seed=3,
                  likelihood_samples=2)


def test_a_python_user_gets_the_design_report_in_a_few_lines(request_parts, tmp_path):
    from d3core.design import design_report

    sm, oracle, _, data = request_parts
    designs = _design(request_parts, candidates=2)
    report = design_report(tmp_path / "report", designs, judge=oracle)

    text = report.path.read_text()
    assert report.path == tmp_path / "report" / "report.md"
    assert "| designs |" in text and "| plain sampling (same seed) |" in text and "| real (validation" in text
    assert f"judging oracle: `{ORACLE}` (did not guide)" in text
    # the baseline is the same request without guidance: what design() draws with --method none
    np.testing.assert_array_equal(report.baseline.tokens, _design(request_parts, method="none").tokens)
    ours, theirs = report.gain
    assert ours == pytest.approx(designs.columns["judge:objective"].mean())
    assert theirs == pytest.approx(report.baseline.columns["judge:objective"].mean())
    place, gain = report.render().splitlines()
    assert place == f"report: {report.path}"
    assert gain == (f"measured gain over plain conditional sampling (same request and seed), objective dev - hk under "
                    f"the judge {ORACLE} (did not guide): {ours:.3f} vs {theirs:.3f} ({ours - theirs:+.3f})")


def test_without_a_judge_the_gain_is_the_guides(request_parts, tmp_path):
    from d3core.design import design_report

    designs = _design(request_parts, candidates=2)
    report = design_report(tmp_path / "report", designs)
    assert report.gain == pytest.approx((designs.objective.mean(), report.baseline.objective.mean()))
    assert "under the guiding oracle (no --judge given)" in report.render()


def test_the_report_needs_the_dataset_and_the_request(request_parts, tmp_path):
    from d3core.design import design_report, read_designs, write_designs

    designs = _design(request_parts, method="none")
    with pytest.raises(D3UserError, match="--report needs the dataset's real sequences, but the data file "
                                          ".*missing.h5 .* pass --data FILE"):
        design_report(tmp_path / "report", designs, data=tmp_path / "missing.h5")
    write_designs(tmp_path / "d.npz", designs)
    with pytest.raises(D3UserError, match="give it the designs design\\(\\) returned, not designs read from a file"):
        design_report(tmp_path / "report", read_designs(tmp_path / "d.npz"))
    assert not (tmp_path / "report").exists()
