"""d3 design combines with what d3 sample takes (templates, guidance) and with any oracle: fast checks on a 1-step
Tran tiny DeepSTARR checkpoint and the original D3 DeepSTARR oracle (249 bp, dev/hk)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from d3core.design import read_designs
from d3core.generation import read_samples

ORACLE = Path(__file__).parents[1] / "fixtures" / "original_oracles" / "oracle_DeepSTARR_DeepSTARR_data.ckpt"
FLANK = "GTCCAAGCTT"


def _design(d3_cli, ckpt, out, *args):
    result = d3_cli("design", ckpt, "--oracle", ORACLE, "--labels", "dev=1,hk=0", "--num", "3", "--steps", "4",
                    "--seed", "3", "--likelihood-samples", "0", "--no-progress", "-o", out, *args)
    assert result.exit_code == 0, result.output
    return result


def test_fixed_positions_stay_exact_with_guidance_and_candidates(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    out = tmp_path / "flanked.npz"
    _design(d3_cli, ckpt, out, "--objective", "dev - hk", "--candidates", "3", "--guidance", "2", "--fix",
            f"1:{FLANK}", "--fix", f"240:{FLANK}")
    designs = read_designs(out)
    sequences = ["".join("ACGT"[t] for t in row) for row in designs.tokens]
    assert all(s.startswith(FLANK) and s[239:249] == FLANK for s in sequences)
    assert designs.metadata["design"]["candidates"] == 3 and designs.metadata["guidance"] == 2.0
    np.testing.assert_allclose(designs.objective, designs.predictions[:, 0] - designs.predictions[:, 1], rtol=1e-5)


@pytest.mark.parametrize("method", ["svdd", "smc"])
def test_one_candidate_is_d3_sample_with_a_template_and_guidance(d3_cli, trained_checkpoint, tmp_path, method):
    ckpt, _ = trained_checkpoint
    template = FLANK + "N" * 229 + FLANK
    _design(d3_cli, ckpt, tmp_path / "one.npz", "--objective", "dev", "--method", method, "--candidates", "1",
            "--template", template, "--guidance", "2")
    result = d3_cli("sample", ckpt, "--labels", "dev=1,hk=0", "--num", "3", "--steps", "4", "--seed", "3",
                    "--template", template, "--guidance", "2", "--no-progress", "-o", tmp_path / "sampled.npz")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_designs(tmp_path / "one.npz").tokens,
                                  read_samples(tmp_path / "sampled.npz").tokens)


def test_smc_designs_with_several_particles(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    out = tmp_path / "smc.tsv"
    result = _design(d3_cli, ckpt, out, "--objective", "-(dev - 1)^2", "--method", "smc", "--candidates", "3",
                     "--temperature", "0.05")
    lines = out.read_text().splitlines()
    assert lines[0].split("\t")[:5] == ["id", "sequence", "objective", "oracle:dev", "oracle:hk"]
    assert len(lines) == 4 and "smc, 3 particles, temperature 0.05" in result.output


def test_fasta_output_carries_every_measurement(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    out = tmp_path / "designs.fasta"
    _design(d3_cli, ckpt, out, "--objective", "dev", "--candidates", "2", "--judge", ORACLE, "--likelihood-samples",
            "2")
    header = out.read_text().splitlines()[0]
    for field in ("objective=", "oracle:dev=", "oracle:hk=", "bits_per_base=", "judge:dev=", "judge:objective=",
                  " dev=1 "):
        assert field in header, header


def test_the_report_names_the_oracles_and_states_the_gain_under_the_judge(d3_cli, trained_checkpoint, tmp_path):
    ckpt, data = trained_checkpoint
    report = tmp_path / "report"
    result = _design(d3_cli, ckpt, tmp_path / "d.npz", "--objective", "dev - hk", "--candidates", "2", "--judge",
                     ORACLE, "--likelihood-samples", "2", "--report", report, "--data", data)
    text = (report / "report.md").read_text()
    assert f"guiding oracle: `{ORACLE}`" in text and f"judging oracle: `{ORACLE}` (did not guide)" in text
    assert "| designs |" in text and "| plain sampling (same seed) |" in text and "| real (validation" in text
    for plot in ("objective_vs_likelihood.png", "activity_guide.png", "activity_judge.png"):
        assert (report / plot).stat().st_size > 1000
    assert "measured gain over plain conditional sampling (same request and seed), objective dev - hk under the " \
           f"judge {ORACLE}" in result.output


def test_evolve_improves_start_sequences_within_k_edits_whatever_the_batch_size(d3_cli, trained_checkpoint, tmp_path):
    """The mechanics of --method evolve on a 1-step model: edit budget, edits listed, file order, spend stated, the
    same designs at two batch sizes (the planted-truth tests are in tests/design/test_evolve.py)."""
    ckpt, _ = trained_checkpoint
    rng = np.random.default_rng(0)
    starts = ["".join(rng.choice(list("ACGT"), 249)) for _ in range(2)]
    fasta = tmp_path / "starts.fasta"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(starts)))
    args = ("--objective", "dev", "--method", "evolve", "--start-from", fasta, "--max-edits", "3", "--population",
            "4", "--rounds", "3", "--num", "2")
    result = _design(d3_cli, ckpt, tmp_path / "b8.npz", *args, "--batch-size", "8")
    _design(d3_cli, ckpt, tmp_path / "b3.npz", *args, "--batch-size", "3")
    _design(d3_cli, ckpt, tmp_path / "edits.tsv", *args)
    whole, split = read_designs(tmp_path / "b8.npz"), read_designs(tmp_path / "b3.npz")
    np.testing.assert_array_equal(whole.tokens, split.tokens)
    assert "d3: evolve: 26 oracle calls" in result.output  # per start: 1 + 3 rounds x 4
    starts_tokens = np.array([["ACGT".index(c) for c in s] for s in starts])
    requests = whole.columns["request"].astype(int)
    assert requests.tolist() == [0, 0, 1, 1]
    changed = (whole.tokens != starts_tokens[requests]).sum(axis=1)
    assert changed.max() <= 3 and changed.tolist() == whole.columns["edit_count"].tolist()
    rows = (tmp_path / "edits.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    for row, design, count in zip(rows[1:], whole.tokens, changed):
        edits = row.split("\t")[header.index("edits")]
        assert len([e for e in edits.split(";") if e]) == count
        for edit in filter(None, edits.split(";")):
            position, change = edit.split(":")
            assert "ACGT"[design[int(position) - 1]] == change[-1]


def test_the_evolve_report_shows_the_spend_the_edits_and_the_pareto_front(d3_cli, trained_checkpoint, tmp_path):
    ckpt, data = trained_checkpoint
    start = "".join(np.random.default_rng(1).choice(list("ACGT"), 249))
    fasta = tmp_path / "start.fasta"
    fasta.write_text(f">mine\n{start}\n")
    report = tmp_path / "report"
    _design(d3_cli, ckpt, tmp_path / "front.fasta", "--objective", "dev", "--method", "evolve", "--start-from", fasta,
            "--max-edits", "4", "--population", "4", "--rounds", "2", "--pareto", "--likelihood-samples", "2",
            "--report", report, "--data", data)
    text = (report / "report.md").read_text()
    assert "- method: evolve, population 4, rounds run 2 (of 2)" in text and "output: the archive's Pareto front" in text
    assert "## Edits from the start sequences" in text
    headers = [line for line in (tmp_path / "front.fasta").read_text().splitlines() if line.startswith(">")]
    for line in text.splitlines():
        if line.startswith("| ") and "`" in line and "(none)" not in line:
            shown = line.split("`")[1]
            assert shown.upper() != shown and len(shown) == 249  # edited letters in lower case
    assert headers and all(" edits=" in h and " bits_per_base=" in h for h in headers)


def test_renoise_as_a_percentage_redraws_positions_and_the_front_takes_the_judge(d3_cli, trained_checkpoint, tmp_path):
    """``--renoise 10%``: each round in-fills a tenth of each member's positions; with ``--pareto --judge`` the
    front is over objective, bits per base and the judge's objective (nothing written is beaten on all three)."""
    ckpt, _ = trained_checkpoint
    out = tmp_path / "front.npz"
    result = _design(d3_cli, ckpt, out, "--objective", "dev", "--method", "evolve", "--population", "4", "--rounds",
                     "2", "--renoise", "10%", "--pareto", "--likelihood-samples", "2", "--judge", ORACLE)
    assert "evolve" in result.output
    front = read_designs(out)
    values, bits, judged = front.objective, front.columns["bits_per_base"], front.columns["judge:objective"]
    for i in range(len(front)):
        beaten = (values >= values[i]) & (bits <= bits[i]) & (judged >= judged[i]) & \
            ((values > values[i]) | (bits < bits[i]) | (judged > judged[i]))
        assert not beaten.any()
    assert front.metadata["evolve"]["renoise_positions"] is True
    bad = d3_cli("design", ckpt, "--oracle", ORACLE, "--objective", "dev", "--method", "evolve", "--renoise",
                 "0%", "-o", tmp_path / "bad.npz")
    assert bad.exit_code == 2
    assert "--renoise 0%: a fraction of positions in (0, 100%]" in bad.output


def test_evolve_shards_share_out_whole_requests_and_merge_to_the_single_process_designs(d3_cli, trained_checkpoint,
                                                                                        tmp_path):
    ckpt, _ = trained_checkpoint
    rng = np.random.default_rng(4)
    fasta = tmp_path / "starts.fasta"
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 249))}\n" for i in range(3)))
    args = ("--objective", "dev", "--method", "evolve", "--start-from", fasta, "--max-edits", "3", "--population",
            "4", "--rounds", "2", "--num", "2")
    _design(d3_cli, ckpt, tmp_path / "whole.npz", *args)
    for k in (1, 2):
        _design(d3_cli, ckpt, tmp_path / "part.npz", *args, "--shard", f"{k}/2")
    first = read_designs(tmp_path / "part.shard1of2.npz")
    assert first.columns["request"].astype(int).tolist() == [0, 0, 1, 1]        # whole requests: 2 of 3, then 1
    merged = d3_cli("merge", tmp_path / "part.shard1of2.npz", tmp_path / "part.shard2of2.npz", "-o",
                    tmp_path / "merged.npz")
    assert merged.exit_code == 0, merged.output
    whole, joined = read_designs(tmp_path / "whole.npz"), read_designs(tmp_path / "merged.npz")
    np.testing.assert_array_equal(whole.tokens, joined.tokens)
    np.testing.assert_array_equal(whole.ids, joined.ids)
    assert joined.metadata["oracle_calls"] == whole.metadata["oracle_calls"]
    assert len(joined.metadata["evolve"]["requests"]) == 3
    front = d3_cli("design", ckpt, "--oracle", ORACLE, "--labels", "dev=1,hk=0", *args, "--pareto", "--shard",
                   "1/2", "-o", tmp_path / "front.npz")
    assert front.exit_code == 2 and "--pareto writes each request's whole front" in front.output
