"""A design run as ``d3 design`` makes it, the same from Python: the request's defaults, the dataset precondition,
and the report -- the same request sampled without guidance, the validation sequences, ``report.md`` with its plots,
and the measured gain over plain sampling.

::

    from d3core.design import design, design_report
    from d3core.evaluation.oracle import load_oracle
    from d3core.generation import SamplingModel

    sm = SamplingModel.load("run/checkpoints/last.ckpt")
    guide = load_oracle("data.oracle.ckpt", device=sm.device)
    designs = design(sm, guide, "dev - hk", sm.parse_labels(["dev=2,hk=0"]), num=100, likelihood_samples=16)
    report = design_report("report/", designs, judge=load_oracle("judge.oracle.ckpt", device=sm.device))
    print(report.render())    # report: report/report.md, and the measured gain under the judge
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from d3core.design.driver import DEFAULT_DESIGN_BATCH, DesignSet, oracle_name
from d3core.design.leash import parse_threshold
from d3core.design.measure import add_judge
from d3core.design.report import RealSequences, real_sequences, write_report
from d3core.errors import D3UserError

#: designs per label row or start sequence (``--num``)
DEFAULT_NUM = 10
#: draws of t for each design's likelihood bound (``--likelihood-samples``; 0 = not scored)
DEFAULT_LIKELIHOOD_SAMPLES = 16
#: how the oracles read a sequence (``--strands``)
DEFAULT_STRANDS = "forward"


def resolve_design_options(sm, **given):
    """The sampling options of a design request (:meth:`SamplingModel.resolve`): the given ones (None = not given),
    else the design defaults -- :data:`~d3core.design.driver.DEFAULT_DESIGN_BATCH` designs per chunk, seed 0 --
    else those of ``d3 sample``."""
    chosen = {name: value for name, value in given.items() if value is not None}
    chosen.setdefault("batch_size", DEFAULT_DESIGN_BATCH)
    return sm.resolve(**chosen)


def check_dataset(sm, data: str | os.PathLike | None = None, *, report: bool = False,
                  min_likelihood: str | None = None) -> Path | None:
    """The dataset file a design run reads its real sequences from -- ``data``, else the one recorded in the
    checkpoint -- when the run needs it (a ``report``, or a ``min_likelihood`` leash given as a percentile ``pN``);
    None when it does not. Raises :class:`D3UserError` when it needs the file and the file is not there, so a run
    fails before it designs anything."""
    percentile = min_likelihood is not None and parse_threshold(min_likelihood)[1] is not None
    if not (report or percentile):
        return None
    found = data or sm.data_path()
    if found is None or not Path(found).is_file():
        what = "--report" if report else f"--min-likelihood {min_likelihood}"
        raise D3UserError(f"{what} needs the dataset's real sequences, but the data file {found} recorded in the "
                          "checkpoint is not there; pass --data FILE")
    return Path(found)


@dataclass
class DesignReport:
    """A written design report: ``path`` (its ``report.md``), the ``designs``, the ``baseline`` (the same request
    sampled without guidance, same seed), the ``real`` validation sequences, and ``judge`` (the name of the oracle
    that did not guide, or None)."""

    path: Path
    designs: DesignSet
    baseline: DesignSet
    real: RealSequences
    judge: str | None = None

    @property
    def gain(self) -> tuple[float, float]:
        """``(designs, baseline)``: the mean objective of each set, under the judge when there is one (the honest
        figure: the designs were optimised against the guide), else under the guiding oracle."""
        key = "judge:objective" if "judge:objective" in self.designs.columns else None
        ours = self.designs.columns[key] if key else self.designs.objective
        theirs = self.baseline.columns[key] if key else self.baseline.objective
        return float(ours.mean()), float(theirs.mean())

    def render(self) -> str:
        """Two lines: where the report is, and the measured gain over plain conditional sampling."""
        ours, theirs = self.gain
        who = (f"the judge {self.judge} (did not guide)" if "judge:objective" in self.designs.columns
               else "the guiding oracle (no --judge given)")
        return (f"report: {self.path}\n"
                f"measured gain over plain conditional sampling (same request and seed), objective "
                f"{self.designs.metadata.get('objective')} under {who}: {ours:.3f} vs {theirs:.3f} "
                f"({ours - theirs:+.3f})")


def design_report(folder: str | os.PathLike, designs: DesignSet, *, judge=None,
                  data: str | os.PathLike | None = None) -> DesignReport:
    """Write the report of ``designs`` (what :func:`~d3core.design.driver.design` returned) into ``folder``: the same
    request sampled without guidance, the dataset's validation sequences (``data``, else the file recorded in the
    checkpoint), ``report.md`` and its plots (:func:`~d3core.design.report.write_report`).

    ``judge``: an oracle that did not guide; its predictions are added to the designs (unless
    :func:`~d3core.design.measure.add_judge` already did) and to the baseline, and the gain is measured under it.
    """
    request = designs.request
    if request is None:
        raise D3UserError("the design report re-runs the designs' request without guidance: give it the designs "
                          "design() returned, not designs read from a file")
    check_dataset(request.sm, data, report=True)
    baseline = request.plain()
    if judge is not None:
        if "judge" not in designs.metadata:
            add_judge(designs, judge)
        add_judge(baseline, judge)
    real = real_sequences(request.sm, request.oracle, request.objective, judge=judge,
                          likelihood_samples=request.likelihood_samples, seed=request.resolved.seed, data=data)
    judge_name = None if judge is None else oracle_name(judge)
    path = write_report(folder, designs, real, guide_name=oracle_name(request.oracle), judge_name=judge_name,
                        baseline=baseline)
    return DesignReport(path, designs, baseline, real, judge_name)
