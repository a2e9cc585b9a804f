"""``d3 design --method evolve`` on planted truth: the two-motif data (AP-1 -> dev; the true activity of a design is
its AP-1 count) and the three-cell data (the true MinGap for HepG2 comes from the planted motifs).

The models and oracles are those of tests/design/test_guided_design.py (``motif_run``) and test_specificity.py
(``three_cell_run``), each with a guide and a judge fitted on different halves of the training rows. Costs are counted
per design request the way the methods spend them: SVDD with M candidates and S steps calls the oracle M x S times per
design and the network on (M + 1) x S rows; evolve calls the oracle P times per round (P at the start) and the network
on P x child-steps rows per round (P x S for the first population); the tests give evolve no more of either than SVDD
gets.
"""
from __future__ import annotations

import numpy as np
import pytest

from d3core.evaluation.metrics import motif_counts

AP1 = "TGASTCA"
REQUEST = "dev=1,hk=0"
NUM, STEPS, M = 16, 32, 4
#: evolve at its defaults (re-noised to t = 0.5, children made in one predictor step): the rounds that fit in SVDD's
#: oracle calls (M x S per design) and network rows ((M + 1) x S per design)
POPULATION = 16
ROUNDS = min((NUM * (M + 1) * STEPS - POPULATION * STEPS) // POPULATION, (NUM * M * STEPS - POPULATION) // POPULATION)
#: AP-1 sites per design, evolve over SVDD M = 4 at no more compute. Measured (benchmarks/evolve.py, the same model,
#: 16 designs, seed 0): evolve 6.44 with 2048 oracle calls and 2544 network rows, SVDD 1.88 with 2048 and 2560 (judge
#: dev 8.01 vs 2.72; over seeds 0-2: 7.31 vs 2.10)
MARGIN = 1.5
#: bits per base: evolve's designs no less likely than SVDD's by more than this (measured: 1.728 vs 1.868)
BPB_TOLERANCE = 0.06


@pytest.fixture(scope="session")
def oracles(motif_run):
    from d3core.testing.motifs import train_guide_and_judge

    d3, _, root = motif_run
    return train_guide_and_judge(root, d3, root / "motifs.h5")


def _design(motif_run, oracles, name, *args):
    from d3core.design import read_designs

    d3, ckpt, root = motif_run
    out = root / name
    result = d3("design", ckpt, "--oracle", oracles[0], "--judge", oracles[1], "--objective", "dev", "--steps",
                STEPS, "--seed", "0", "--no-progress", "-o", out, "--force", *args)
    return read_designs(out), result.output


@pytest.mark.slow
def test_evolve_beats_svdd_on_true_activity_at_no_more_oracle_or_network_calls(motif_run, oracles):
    svdd, _ = _design(motif_run, oracles, "svdd_budget.npz", "--labels", REQUEST, "--num", NUM, "--candidates", M)
    evolved, said = _design(motif_run, oracles, "evolve_budget.npz", "--labels", REQUEST, "--num", NUM, "--method",
                            "evolve", "--population", POPULATION, "--rounds", ROUNDS)
    svdd_oracle, svdd_network = NUM * M * STEPS, NUM * (M + 1) * STEPS
    meta = evolved.metadata
    assert meta["oracle_calls"] <= svdd_oracle and meta["network_rows"] <= svdd_network
    assert f"{meta['oracle_calls']} oracle calls" in said
    truth = {name: float(motif_counts(d.tokens, AP1).mean()) for name, d in (("svdd", svdd), ("evolve", evolved))}
    bits = {name: float(d.columns["bits_per_base"].mean()) for name, d in (("svdd", svdd), ("evolve", evolved))}
    judged = {name: float(d.columns["judge:dev"].mean()) for name, d in (("svdd", svdd), ("evolve", evolved))}
    print("AP-1 per design:", truth, "bits per base:", bits, "judge dev:", judged, "evolve spent",
          meta["oracle_calls"], "oracle calls,", meta["network_rows"], "network rows; svdd", svdd_oracle, svdd_network)
    assert truth["evolve"] > truth["svdd"] + MARGIN
    assert bits["evolve"] <= bits["svdd"] + BPB_TOLERANCE
    for request in meta["evolve"]["requests"]:
        assert request["archive_best"] >= request["final_population_best"]
    assert len(np.unique(evolved.tokens, axis=0)) == len(evolved)


#: random starts without an AP-1 site, each its own request with --num EDIT_DESIGNS designs
EDIT_STARTS, EDIT_DESIGNS = 8, 4
#: AP-1 sites per design made by 5 edits from starts with none. Measured on the benchmark's model (seed 0, 8 starts,
#: --population 16 --rounds 8): 0.25 per design, a site in a quarter of the designs (16 starts, 16 rounds: 0.28)
MIN_SITES_MADE = 0.08


@pytest.mark.slow
def test_max_edits_never_exceeds_k_and_raises_the_true_activity_of_low_starts(motif_run, oracles):
    """Random 100 bp starts (no AP-1 site: true dev activity 0), 5 edits at most: every design within 5 edits, the
    guide's value up over its start, and AP-1 sites made (the true activity raised, not only the guide's)."""
    from d3core.data.encoding import encode
    from d3core.evaluation.oracle import load_oracle
    from d3core.testing.motifs import two_motif_manager

    _, _, root = motif_run
    rng = np.random.default_rng(11)
    starts: list[str] = []
    while len(starts) < EDIT_STARTS:
        candidate = "".join(rng.choice(list("ACGT"), 100))
        if motif_counts(encode([candidate]), AP1).sum() == 0:  # low starts: no AP-1 site at all
            starts.append(candidate)
    start_tokens = encode(starts)
    path = root / "low_starts.fasta"
    path.write_text("".join(f">start{i}\n{s}\n" for i, s in enumerate(starts)))
    designs, said = _design(motif_run, oracles, "edits.npz", "--labels", REQUEST, "--num", EDIT_DESIGNS, "--method",
                            "evolve", "--start-from", path, "--max-edits", 5, "--population", POPULATION,
                            "--rounds", 8, "--renoise", 0.2)  # edits in-filled in ceil(0.2 x 32) = 7 steps
    assert len(designs) == EDIT_STARTS * EDIT_DESIGNS
    counts = designs.columns["edit_count"]
    requests = designs.columns["request"].astype(int)
    np.testing.assert_array_equal(requests, np.repeat(np.arange(EDIT_STARTS), EDIT_DESIGNS))  # file order, --num each
    differences = (designs.tokens != start_tokens[requests]).sum(axis=1)
    np.testing.assert_array_equal(differences, counts)
    assert counts.max() <= 5
    for row, edits in enumerate(designs.columns["edits"]):
        assert len([e for e in str(edits).split(";") if e]) == counts[row]
    guide = load_oracle(oracles[0], manager=two_motif_manager())
    start_value = guide.predict(start_tokens.astype(np.int64))[:, 0]
    gain = designs.objective - start_value[requests]
    sites = motif_counts(designs.tokens, AP1)
    print("edits per design:", counts.tolist(), "guide dev gain:", np.round(gain, 3).tolist(), "AP-1 per design:",
          sites.tolist(), said)
    assert gain.min() > 0.05
    assert sites.mean() >= MIN_SITES_MADE


@pytest.mark.slow
def test_same_seed_same_designs_whatever_the_batch_size_and_the_pareto_front(motif_run, oracles):
    args = ("--labels", REQUEST, "--num", 4, "--method", "evolve", "--population", 6, "--rounds", 2, "--steps", 8)
    whole, _ = _design(motif_run, oracles, "ev_b16.npz", *args, "--batch-size", 16)
    split, _ = _design(motif_run, oracles, "ev_b4.npz", *args, "--batch-size", 4)
    np.testing.assert_array_equal(whole.tokens, split.tokens)
    front, _ = _design(motif_run, oracles, "ev_front.npz", *args, "--pareto")
    values, bits = front.objective, front.columns["bits_per_base"]
    for i in range(len(front)):  # nothing on the front is beaten on both axes by another member
        assert not ((values > values[i]) & (bits < bits[i])).any()
    assert np.all(np.diff(values) <= 0) and np.all(np.diff(bits) <= 0)


#: true MinGap (HepG2 - max(K562, WTC11), from the planted motifs) per design, evolve over SVDD M = 4 at no more oracle
#: or network calls, averaged over seeds 0-2. Measured (benchmarks/evolve.py --task three-cells, the same model): evolve
#: 2.65 (seeds: 2.88, 1.31, 3.75), SVDD 1.56 (1.81, 1.44, 1.44); judge MinGap 0.73 vs 0.21; bits per base 1.57 vs 1.77
THREE_CELL_MARGIN = 0.4
THREE_CELL_SEEDS = (0, 1, 2)


@pytest.mark.slow
def test_evolve_beats_svdd_on_the_true_mingap_at_no_more_oracle_or_network_calls(three_cell_run):
    from d3core.design import read_designs
    from d3core.testing.components import true_activity

    d3, checkpoint, guide, judge, root = three_cell_run
    runs = {"svdd": ("--candidates", M), "evolve": ("--method", "evolve", "--population", POPULATION,
                                                    "--rounds", ROUNDS)}
    found = {name: {"true": [], "judge": [], "bits": []} for name in runs}
    for seed in THREE_CELL_SEEDS:
        for name, args in runs.items():
            out = root / f"mingap_{name}_{seed}.npz"
            d3("design", checkpoint, "--oracle", guide, "--judge", judge, "--specific-to", "HepG2", "--labels",
               "HepG2=2,K562=0,WTC11=0", "--num", NUM, "--steps", STEPS, "--seed", seed, "--likelihood-samples", 8,
               "--no-progress", "--force", "-o", out, *args)
            designs = read_designs(out)
            if name == "evolve":
                meta = designs.metadata
                assert meta["oracle_calls"] <= NUM * M * STEPS and meta["network_rows"] <= NUM * (M + 1) * STEPS
            truth = true_activity(designs.tokens)
            judged = np.stack([designs.columns[f"judge:{c}"] for c in ("HepG2", "K562", "WTC11")], axis=1)
            found[name]["true"].append(float((truth[:, 0] - truth[:, 1:].max(axis=1)).mean()))
            found[name]["judge"].append(float((judged[:, 0] - judged[:, 1:].max(axis=1)).mean()))
            found[name]["bits"].append(float(designs.columns["bits_per_base"].mean()))
    mean = {name: {key: float(np.mean(values)) for key, values in measured.items()} for name, measured in found.items()}
    print("true MinGap, judge MinGap, bits per base per seed:", found)
    assert mean["evolve"]["true"] > mean["svdd"]["true"] + THREE_CELL_MARGIN, mean
    assert mean["evolve"]["judge"] > mean["svdd"]["judge"], mean  # the oracle that did not guide agrees
    assert mean["evolve"]["bits"] <= mean["svdd"]["bits"] + BPB_TOLERANCE, mean
