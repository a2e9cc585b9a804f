"""Many processes, one design set: --shard K/N (or torchrun/srun rank variables) and d3 merge give exactly the tokens
of the single-process run."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from d3core.errors import D3UserError
from d3core.generation import read_samples
from d3core.generation.shards import Shard, parse_shard, shard_from_environment
from installed_d3 import D3_SCRIPT, user_env

REQUEST = ["--labels", "dev=3,hk=0", "--labels", "dev=0,hk=1", "--labels", "dev=1,hk=1", "--num", "7",
           "--steps", "3", "--seed", "5", "--no-progress"]


def test_shards_partition_the_rows():
    for total in (0, 1, 5, 21, 1000):
        for count in (1, 2, 3, 7):
            spans = [Shard(k, count).rows(total) for k in range(1, count + 1)]
            assert spans[0][0] == 0 and spans[-1][1] == total
            assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
            assert max(b - a for a, b in spans) - min(b - a for a, b in spans) <= 1
    assert str(parse_shard(" 2 / 4 ")) == "2/4" and Shard(2, 4).path("out/d.fasta").name == "d.shard2of4.fasta"
    for bad in ("0/2", "3/2", "2", "a/b"):
        with pytest.raises(D3UserError, match="--shard"):
            parse_shard(bad)


def test_the_launchers_rank_variables_choose_the_shard():
    assert shard_from_environment({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Shard(2, 4, "torchrun: "
                                                                                              "RANK=1, WORLD_SIZE=4")
    srun = shard_from_environment({"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2"})
    assert (srun.index, srun.count) == (1, 2) and srun.source.startswith("srun")
    # one process, or a batch script that was not started through srun: no shard
    assert shard_from_environment({"RANK": "0", "WORLD_SIZE": "1"}) is None
    assert shard_from_environment({"SLURM_PROCID": "0", "SLURM_NTASKS": "8"}) is None
    assert shard_from_environment({}) is None


def _start(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([str(D3_SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=user_env(**env))


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


def test_two_processes_and_merge_give_the_single_process_tokens(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    single = tmp_path / "single.npz"
    assert d3_cli("sample", ckpt, *REQUEST, "-o", single).exit_code == 0
    # two CPU processes at the same time, one with --shard flags (FASTA, different batch sizes) ...
    first = _start("sample", str(ckpt), *REQUEST, "--shard", "1/2", "--batch-size", "4", "-o",
                   str(tmp_path / "flag.fasta"))
    second = _start("sample", str(ckpt), *REQUEST, "--shard", "2/2", "-o", str(tmp_path / "flag.fasta"))
    outputs = [_finish(first), _finish(second)]
    assert "rows 0..10" in outputs[0] and "rows 11..20" in outputs[1] and "d3 merge" in outputs[1]
    # ... and two started as torchrun starts its workers (rank variables, npz)
    ranks = [_start("sample", str(ckpt), *REQUEST, "-o", str(tmp_path / "rank.npz"), RANK=str(r), WORLD_SIZE="2",
                    LOCAL_RANK=str(r)) for r in (0, 1)]
    outputs = [_finish(p) for p in ranks]
    assert "[torchrun: RANK=1, WORLD_SIZE=2]" in outputs[1]
    expected = read_samples(single)
    for pattern, merged in (("flag.shard{}of2.fasta", "flag.fasta"), ("rank.shard{}of2.npz", "rank.h5")):
        shards = [tmp_path / pattern.format(k) for k in (2, 1)]  # any order
        result = d3_cli("merge", *shards, "-o", tmp_path / merged)
        assert result.exit_code == 0, result.output
        assert "merged 2 shard file(s)" in result.output and "(21 sequences)" in result.output
        joined = read_samples(tmp_path / merged)
        np.testing.assert_array_equal(joined.tokens, expected.tokens)
        np.testing.assert_array_equal(joined.labels, expected.labels)
        np.testing.assert_array_equal(joined.index, np.arange(21))
    assert read_samples(tmp_path / "rank.h5").metadata["seed"] == 5


@pytest.mark.parametrize("suffix", [".npz", ".fasta", ".csv"])  # every format records its run (issue 25)
def test_merge_refuses_incomplete_or_foreign_shards(d3_cli, trained_checkpoint, tmp_path, suffix):
    ckpt, _ = trained_checkpoint
    for shard, seed in (("1/3", "5"), ("2/3", "5"), ("3/3", "6")):
        assert d3_cli("sample", ckpt, *REQUEST[:-3], "--seed", seed, "--no-progress", "--shard", shard,
                      "-o", tmp_path / f"d{suffix}").exit_code == 0
    parts = [tmp_path / f"d.shard{k}of3{suffix}" for k in (1, 2, 3)]
    cases = [
        (parts[:2], "2 file(s) for 3 shards; shard 3/3 is missing"),
        ([parts[0], parts[0], parts[1]], "shard 3/3 is missing"),
        (parts, "metadata seed=6 differs"),
    ]
    for given, message in cases:
        result = d3_cli("merge", *given, "-o", tmp_path / "all.npz")
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "all.npz").exists()
