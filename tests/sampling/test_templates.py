"""Templates, fixed positions and variants: fixed bases are exact in every output, the free ones are designed."""
from __future__ import annotations

import numpy as np
import pytest

from d3core.data.encoding import decode
from d3core.errors import D3UserError
from d3core.generation import read_samples
from d3core.generation.templates import Template, add_fixes, parse_template

L = 249
LEFT, RIGHT = "GTCCAAGCTT", "TTAGCGATCG"   # adapters kept at both ends
MOTIF = "TGACTCA"                           # an AP-1 site fixed in the middle, at position 120 (1-based)


def _reference_sequence(data) -> str:
    from d3_deepstarr.dataset import DeepSTARR

    return decode(DeepSTARR().open_split(data, "test").read_batch([0])[0].numpy())[0]


def test_500_designs_keep_every_fixed_base_and_design_the_rest(d3_cli, trained_checkpoint, tmp_path):
    ckpt, data = trained_checkpoint
    source = _reference_sequence(data)
    # the template is a real sequence with its middle masked: the free positions must not come back as a copy
    template = LEFT + "N" * (L - len(LEFT) - len(RIGHT)) + RIGHT
    out = tmp_path / "designs.fasta"
    result = d3_cli("sample", ckpt, "--labels", "dev=3,hk=0", "--num", "500", "--steps", "4", "--batch-size", "250",
                    "--template", template, "--fix", f"120:{MOTIF}", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "(27 fixed positions)" in result.output
    designs = read_samples(out).sequences
    assert len(designs) == 500
    for design in designs:
        assert design.startswith(LEFT) and design.endswith(RIGHT) and design[119:126] == MOTIF
    free = np.ones(L, bool)
    free[:len(LEFT)] = free[L - len(RIGHT):] = free[119:126] = False
    tokens = read_samples(out).tokens[:, free]
    masked_source = np.frombuffer(source.encode(), np.uint8)[free]
    letters = np.frombuffer("".join(designs).encode(), np.uint8).reshape(500, L)[:, free]
    assert (letters == masked_source).mean() < 0.5                       # not the sequence the template came from
    assert len({bytes(row) for row in tokens}) == 500                    # no two designs alike
    pairwise = (tokens[:250] == tokens[250:]).mean()
    assert pairwise < 0.6, pairwise                                      # the free positions vary between designs


@pytest.mark.parametrize("suffix", [".npz", ".h5", ".csv"])
def test_fixed_positions_are_exact_in_every_output_format(d3_cli, trained_checkpoint, tmp_path, suffix):
    ckpt, _ = trained_checkpoint
    out = tmp_path / f"fixed{suffix}"
    result = d3_cli("sample", ckpt, "--labels", "dev=1,hk=1", "--num", "6", "--steps", "2", "--fix", f"1:{LEFT}",
                    "--fix", f"{L - len(RIGHT) + 1}:{RIGHT}", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    for design in read_samples(out).sequences:
        assert design[:len(LEFT)] == LEFT and design[-len(RIGHT):] == RIGHT
    if suffix != ".csv":
        assert read_samples(out).metadata["template"]["fixed_positions"] == len(LEFT) + len(RIGHT)


def test_one_template_per_design_from_fasta(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    rows = ["A" * 20 + "N" * (L - 20), "N" * (L - 20) + "C" * 20, "G" * 5 + "N" * (L - 10) + "T" * 5, "N" * L]
    templates = tmp_path / "templates.fasta"
    templates.write_text("".join(f">t{i}\n{row}\n" for i, row in enumerate(rows)))
    out = tmp_path / "per_design.fasta"
    result = d3_cli("sample", ckpt, "--labels", "dev=2,hk=0", "--labels", "dev=0,hk=0", "--num", "2", "--steps", "2",
                    "--template", templates, "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    designs = read_samples(out).sequences
    assert designs[0][:20] == "A" * 20 and designs[1][-20:] == "C" * 20
    assert designs[2][:5] == "GGGGG" and designs[2][-5:] == "TTTTT"


def test_variants_start_close_to_their_sequence_and_drift_with_the_start_time(trained_checkpoint, tmp_path):
    from d3core.generation import SamplingModel

    ckpt, data = trained_checkpoint
    source = _reference_sequence(data)
    start = tmp_path / "start.fasta"
    start.write_text(f">mine\n{source}\n")
    sm = SamplingModel.load(ckpt, "cpu")
    rows = sm.parse_labels(["dev=2,hk=0"])
    original = np.frombuffer(source.encode(), np.uint8)
    identity = {}
    for start_at in (0.05, 1.0):
        variants = sm.sample(rows, num=16, steps=4, seed=1, start=sm.start_sequences(start), start_at=start_at)
        letters = np.frombuffer("".join(variants.sequences).encode(), np.uint8).reshape(16, L)
        identity[start_at] = float((letters == original).mean())
        assert variants.metadata["start_at"] == start_at
    assert identity[0.05] > 0.9 and identity[1.0] < 0.5, identity


def test_template_parsing():
    template = parse_template("acgtN" + "N" * 5, length=10)
    assert template.known.tolist() == [[True] * 4 + [False] * 6] and template.tokens[0, :4].tolist() == [0, 1, 2, 3]
    fixed = add_fixes(template, ["8:TT"], length=10)
    assert fixed.known.sum() == 6 and fixed.tokens[0, 7:9].tolist() == [3, 3]
    per_design = Template(np.zeros((3, 10), np.uint8), np.zeros((3, 10), bool))
    with pytest.raises(D3UserError, match="3 sequences for 5 designs"):
        per_design.check_designs(5, "--template")


@pytest.mark.parametrize("args, message", [
    (["--template", "ACGTX" + "N" * (L - 5)], "letter 'X' at position 5 is not one of A, C, G, T or N"),
    (["--template", "ACGT"], "4 bp, but the model makes 249 bp sequences"),
    (["--fix", "247:ACGT"], "positions 247..250 run past the end of the 249 bp sequence"),
    (["--fix", "0:ACGT"], "START counted from 1"),
    (["--fix", "1:AAA", "--fix", "3:CC"], "position 3 is already fixed to A"),
    (["--fix", f"1:{'A' * L}"], "fixes all 249 positions; nothing is left to sample"),
    (["--start-at", "0.5"], "--start-at applies to --start-from"),
])
def test_bad_templates_are_one_line_errors(d3_cli, trained_checkpoint, tmp_path, args, message):
    ckpt, _ = trained_checkpoint
    out = tmp_path / "x.fasta"
    result = d3_cli("sample", ckpt, "--labels", "dev=1,hk=0", *args, "-o", out, "--no-progress")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not out.exists()


def test_a_template_file_with_the_wrong_count_or_letters(d3_cli, trained_checkpoint, tmp_path):
    ckpt, _ = trained_checkpoint
    bad = tmp_path / "bad.fasta"
    bad.write_text(f">a\n{'N' * L}\n>b\n{'N' * (L - 1)}R\n")
    result = d3_cli("sample", ckpt, "--labels", "dev=1,hk=0", "--template", bad, "-o", tmp_path / "x.fasta")
    assert result.exit_code == 2 and "record 2 (line 3): letter 'R' at position 249" in result.output
    two = tmp_path / "two.fasta"
    two.write_text(f">a\n{'N' * L}\n>b\n{'N' * L}\n")
    result = d3_cli("sample", ckpt, "--labels", "dev=1,hk=0", "--num", "3", "--template", two, "-o",
                    tmp_path / "x.fasta")
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0, result.output  # before any output
    assert "2 sequences for 3 designs" in result.output
