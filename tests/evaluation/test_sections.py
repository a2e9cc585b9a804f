"""The sections of ``d3 evaluate`` are one list (issue 26): a section added to it runs, its metrics reach
metrics.json and report.md with their better direction, its markdown follows the metrics table, and a section that
does not apply is skipped with its note."""
from __future__ import annotations

import json

import numpy as np

from d3core.evaluation import sections
from d3core.evaluation.protocols import protocol
from d3core.evaluation.sections.base import Section


def _evaluate(tiny_data, out):
    from d3_deepstarr.dataset import DeepSTARR

    from d3core.evaluation.report import evaluate_samples
    from d3core.generation import SampleSet

    dataset = DeepSTARR()
    test = dataset.open_split(tiny_data, "test")
    tokens, labels = (t.numpy() for t in test.read_batch(np.arange(len(test))))
    samples = SampleSet(tokens.astype(np.uint8), labels, ["dev", "hk"], None, {"dataset": "deepstarr"})
    settings = protocol("quick", kmer_ks=(3,), motifs=False, attributions=False)
    evaluate_samples(samples, dataset, tiny_data, out, protocol=settings, discriminator=False, plots=False)
    return json.loads((out / "metrics.json").read_text()), (out / "report.md").read_text(), tokens


def test_a_section_added_to_the_list_reaches_metrics_json_and_report_md(tiny_data, tmp_path, monkeypatch):
    def compute(run) -> None:
        run.metrics["tiny_a_share"] = float(np.mean(run.gen == 0))
        run.metrics["tiny_a_share_reference"] = float(np.mean(run.ref_tokens == 0))

    def render(run) -> list[str]:
        return ["## Tiny", "", f"{len(run.gen)} designs counted.", ""]

    tiny = Section("tiny", compute, directions={"tiny_a_share": "closer to the reference's", "tiny_*": "any"},
                   render=render)
    skipped = Section("never", compute, applies=lambda run: False, skipped_note=lambda run: "never: not asked")
    monkeypatch.setattr(sections, "SECTIONS", [*sections.SECTIONS, tiny, skipped])
    result, report, tokens = _evaluate(tiny_data, tmp_path / "eval")
    a_share = float(np.mean(tokens == 0))
    assert result["metrics"]["tiny_a_share"] == a_share
    assert list(result["metrics"])[-2:] == ["tiny_a_share", "tiny_a_share_reference"]  # after the built-in ones
    assert "tiny" in result["inputs"]["timings"] and "never" not in result["inputs"]["timings"]
    assert result["notes"][-1] == "never: not asked"
    assert f"| `tiny_a_share` | {a_share:.4g} | closer to the reference's |" in report  # the exact name wins
    assert f"| `tiny_a_share_reference` | {a_share:.4g} | any |" in report  # then the prefix
    assert report.index("## Metrics") < report.index("## Tiny\n\n10 designs counted.") < report.index("## Notes")


def test_without_the_section_the_outputs_do_not_have_it(tiny_data, tmp_path):
    result, report, _ = _evaluate(tiny_data, tmp_path / "eval")
    assert not any(name.startswith("tiny_") for name in result["metrics"]) and "## Tiny" not in report
    assert set(result["inputs"]["timings"]) == {"composition", "identity", "top_kmers"}
    assert any(note.startswith("no oracle:") for note in result["notes"])


def test_better_directions_of_the_built_in_sections():
    assert sections.direction_of("ks_mean") == "lower" and sections.direction_of("ks_dev") == "lower"
    assert sections.direction_of("auroc") == "closer to 0.5"
    assert sections.direction_of("kmer_js_k5") == "lower" and sections.direction_of("fraction_above_hk") == "higher"
    assert sections.direction_of("gc_generated") == "" and sections.direction_of("n_generated") == ""
    names = [section.name for section in sections.SECTIONS]
    assert len(names) == len(set(names)) and names[-1] == "plots"
