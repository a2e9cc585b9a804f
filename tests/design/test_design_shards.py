"""``d3 design --shard K/N`` and ``d3 merge``: the joined shards are exactly the single-process designs, including
the designs the synthesis rules left out (gaps in the indices that the merge accounts for)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

ORACLE = Path(__file__).parents[1] / "fixtures" / "original_oracles" / "oracle_DeepSTARR_DeepSTARR_data.ckpt"


def test_shards_merge_to_the_single_process_designs(trained_checkpoint, d3_cli, tmp_path):
    from d3core.design import read_designs

    checkpoint, _ = trained_checkpoint
    args = ("design", checkpoint, "--oracle", ORACLE, "--objective", "dev - hk", "--labels", "dev=1,hk=0", "--num",
            "5", "--steps", "4", "--candidates", "2", "--likelihood-samples", "0", "--gc", "0.47:0.53",
            "--synthesis-attempts", "1", "--seed", "2", "--no-progress")
    whole = d3_cli(*args, "-o", tmp_path / "whole.npz")
    assert whole.exit_code == 0, whole.output
    for k in (1, 2):
        part = d3_cli(*args, "--shard", f"{k}/2", "-o", tmp_path / "part.npz")
        assert part.exit_code == 0, part.output
        assert "d3 merge" in part.output
    shards = sorted(tmp_path.glob("part.shard*of2.npz"))
    assert len(shards) == 2
    merged = d3_cli("merge", *shards, "-o", tmp_path / "merged.tsv")
    assert merged.exit_code == 0, merged.output
    again = d3_cli("merge", *shards, "-o", tmp_path / "merged.npz")
    assert again.exit_code == 0, again.output
    one, joined = read_designs(tmp_path / "whole.npz"), read_designs(tmp_path / "merged.npz")
    np.testing.assert_array_equal(one.ids, joined.ids)
    np.testing.assert_array_equal(one.tokens, joined.tokens)
    np.testing.assert_allclose(one.objective, joined.objective)
    left_out = one.metadata["synthesis"]["left_out"]
    assert joined.metadata["synthesis"]["left_out"] == left_out
    assert sorted(one.ids.tolist() + left_out) == list(range(5))
    rows = (tmp_path / "merged.tsv").read_text().splitlines()[1:]
    assert [r.split("\t")[0] for r in rows] == [f"d3_{i}" for i in one.ids]
    missing = d3_cli("merge", shards[0], "-o", tmp_path / "half.npz")
    assert missing.exit_code == 2 and "is in none of them" in missing.output


def test_shard_needs_npz_and_no_report(trained_checkpoint, d3_cli, tmp_path):
    checkpoint, _ = trained_checkpoint
    args = ("design", checkpoint, "--oracle", ORACLE, "--objective", "dev", "--labels", "1,0", "--shard", "1/2")
    fasta = d3_cli(*args, "-o", tmp_path / "x.fasta")
    assert fasta.exit_code == 2 and "design shards are written as .npz" in fasta.output
    report = d3_cli(*args, "-o", tmp_path / "x.npz", "--report", tmp_path / "r")
    assert report.exit_code == 2 and "--report needs the whole design set" in report.output
