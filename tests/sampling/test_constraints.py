"""Synthesis rules (--gc, --max-homopolymer, --avoid): the checker agrees with an independent one (dnachisel), the
model redraws the stretches that break a rule (in-fill), and every written sequence meets every rule."""
from __future__ import annotations

import numpy as np
import pytest

from d3core.errors import D3UserError
from d3core.generation.constraints import (SynthesisRules, gc_fraction, longest_homopolymer, parse_gc, parse_site,
                                           rules_from_flags)

LETTERS = np.array(list("ACGT"))


def dnachisel_problems(sequences: list[str], rules: SynthesisRules) -> list[bool]:
    """Per sequence (construct adapters included), whether dnachisel finds a broken rule."""
    import dnachisel as dc

    constraints = []
    if rules.gc is not None:
        constraints.append(dc.EnforceGCContent(mini=rules.gc[0], maxi=rules.gc[1]))
    if rules.max_homopolymer is not None:
        constraints += [dc.AvoidPattern(f"{rules.max_homopolymer + 1}x{base}") for base in "ACGT"]
    constraints += [dc.AvoidPattern(site.pattern) for site in rules.avoid]
    left, right = rules.flanks
    out = []
    for sequence in sequences:
        problem = dc.DnaOptimizationProblem(sequence=left + sequence + right, constraints=constraints, logger=None)
        out.append(not all(e.passes for e in problem.constraints_evaluations()))
    return out


def decode(tokens: np.ndarray) -> list[str]:
    return ["".join(LETTERS[row]) for row in tokens]


def test_flags_parse_enzymes_iupac_and_windows():
    assert parse_site("bsai").pattern == "GGTCTC" and parse_site("BsaI").name == "BsaI"
    assert parse_site("EcoRI").label == "EcoRI (GAATTC)" and parse_site("gatnnnnatc").pattern == "GATNNNNATC"
    assert parse_gc("0.40:0.60") == (0.4, 0.6)
    for bad, message in (("Bogus", "neither IUPAC letters"), ("NNN", "only N")):
        with pytest.raises(D3UserError, match=message):
            parse_site(bad)
    for bad in ("0.6:0.4", "0.4", "a:b", "nan:0.5", "-0.1:0.5"):
        with pytest.raises(D3UserError, match="--gc"):
            parse_gc(bad)
    assert rules_from_flags() is None
    with pytest.raises(D3UserError, match="left adapter GGTCTCAA itself breaks the synthesis rules"):
        SynthesisRules(avoid=(parse_site("BsaI"),), flanks=("GGTCTCAA", ""))


def test_checker_agrees_with_dnachisel_on_random_sequences():
    rng = np.random.default_rng(0)
    tokens = rng.choice(4, size=(300, 60), p=[0.3, 0.2, 0.2, 0.3]).astype(np.uint8)
    tokens[::7, 20:27] = 0  # homopolymers
    tokens[::5, 40:46] = [2, 2, 3, 1, 3, 1]  # BsaI on the forward strand
    tokens[::6, 5:11] = [2, 0, 2, 0, 1, 1]  # GAGACC: BsaI on the reverse strand
    rules = SynthesisRules(gc=(0.35, 0.5), max_homopolymer=5, avoid=(parse_site("BsaI"), parse_site("GATNNNNATC")),
                           flanks=("AGGACCGGATCAACT", "CATTGCGTGAACCGA"))
    ours = [bool(p) for p in rules.problems(tokens)]
    assert ours == dnachisel_problems(decode(tokens), rules)
    assert 20 < sum(ours) < 300  # both verdicts occur
    assert np.array_equal(rules.penalty(tokens) > 0, np.array(ours))


def test_a_site_across_an_adapter_junction_counts_and_redraws_the_sequence_side():
    rules = SynthesisRules(avoid=(parse_site("BsaI"),), flanks=("AAAAC", "TCTCAA"))
    tokens = np.array([[0, 1, 0, 1, 0, 1, 0, 1, 2, 2]], dtype=np.uint8)  # ends GG, then the adapter's TCTC
    assert rules.problems(tokens) == [["site:BsaI"]]
    assert dnachisel_problems(decode(tokens), rules) == [True]
    mask = rules.redraw_mask(tokens, None, np.random.default_rng(0))
    assert mask[0, -2:].all() and not mask[0, :5].any()
    fixed = np.zeros_like(mask)
    fixed[0, -2:] = True  # the junction's bases are fixed by a template: nothing there can change
    assert not (rules.redraw_mask(tokens, fixed, np.random.default_rng(0)) & fixed).any()


def test_measures():
    tokens = np.array([[0, 0, 0, 1, 2, 3], [1, 1, 2, 2, 2, 2]], dtype=np.uint8)
    assert longest_homopolymer(tokens).tolist() == [3, 4]
    assert gc_fraction(tokens).tolist() == [2 / 6, 1.0]


RULES = ("--gc", "0.42:0.58", "--max-homopolymer", "4", "--avoid", "BsaI", "--avoid", "GATC")


def test_sampling_meets_every_rule_by_in_fill(trained_checkpoint, d3_cli, tmp_path):
    """A 1-step model breaks the rules in most plain samples; with them every written sequence passes the
    independent checker, the redraws changed only part of each sequence, and the same seed gives the same set
    whatever the batch size."""
    from d3core.generation import read_samples
    from d3core.generation.sampling_model import SamplingModel

    checkpoint, _ = trained_checkpoint
    args = ("sample", checkpoint, "--labels", "dev=1,hk=0", "--num", "12", "--steps", "12", "--seed", "3",
            "--no-progress")
    plain = d3_cli(*args, "-o", tmp_path / "plain.npz")
    assert plain.exit_code == 0, plain.output
    ruled = d3_cli(*args, *RULES, "-o", tmp_path / "ruled.npz")
    assert ruled.exit_code == 0, ruled.output
    assert "synthesis rules:" in ruled.output
    rules = rules_from_flags("0.42:0.58", 4, ("BsaI", "GATC"))
    before, after = read_samples(tmp_path / "plain.npz").tokens, read_samples(tmp_path / "ruled.npz").tokens
    assert sum(bool(p) for p in rules.problems(before)) >= 6  # the rules bite
    assert len(after) >= 10 and not any(dnachisel_problems(decode(after), rules))
    changed = (after[:, None, :] != before[None, :, :]).mean(axis=2).min(axis=1)  # to its own plain draw
    assert changed.max() < 0.5 and (changed == 0).any()  # stretches redrawn, not whole sequences
    small = d3_cli(*args, *RULES, "--batch-size", "5", "-o", tmp_path / "small.npz")
    assert small.exit_code == 0, small.output
    np.testing.assert_array_equal(read_samples(tmp_path / "small.npz").tokens, after)
    sm = SamplingModel.load(checkpoint, "cpu")
    assert sm.resolve(rules=rules).describe()["synthesis_rules"]["avoid"] == ["BsaI (GGTCTC)", "GATC"]


def test_a_rule_no_sequence_can_meet_is_reported_not_written(trained_checkpoint, d3_cli, tmp_path):
    checkpoint, _ = trained_checkpoint
    result = d3_cli("sample", checkpoint, "--labels", "dev=1,hk=0", "--num", "3", "--steps", "4", "--no-progress",
                    "--gc", "0.99:1.0", "--synthesis-attempts", "1", "-o", tmp_path / "none.fasta")
    assert result.exit_code == 0, result.output
    assert "3 still break a rule after the last attempt (gc 3) and were not written" in result.output
    assert "wrote 0 sequences" in result.output
